import Foundation

/// Rotary position embedding, llama "normal" style: adjacent pairs `(x[2i], x[2i+1])` rotated
/// by `pos · base^(-2i/d)`. Angles are computed in double precision (positions reach millions).
public struct Rope: Sendable {
    public let headDimension: Int
    private let inverseFrequencies: [Double]

    public init(headDimension: Int, base: Double) {
        self.headDimension = headDimension
        inverseFrequencies = (0..<headDimension / 2).map { pow(base, -2 * Double($0) / Double(headDimension)) }
    }

    /// Writes `cos` and `sin` of every pair's angle at `position` into `table` (2 × d/2 floats).
    public func table(position: Int, into table: UnsafeMutablePointer<Float>) {
        let half = headDimension / 2
        for i in 0..<half {
            let angle = Double(position) * inverseFrequencies[i]
            table[i] = Float(cos(angle))
            table[half + i] = Float(sin(angle))
        }
    }

    /// Rotates `heads` consecutive head vectors in place with a table from ``table(position:into:)``.
    @inline(__always)
    public func apply(_ x: UnsafeMutablePointer<Float>, heads: Int, table: UnsafePointer<Float>) {
        let half = headDimension / 2
        for h in 0..<heads {
            let v = x + h * headDimension
            for i in 0..<half {
                let c = table[i], s = table[half + i]
                let a = v[2 * i], b = v[2 * i + 1]
                v[2 * i] = a * c - b * s
                v[2 * i + 1] = a * s + b * c
            }
        }
    }
}
