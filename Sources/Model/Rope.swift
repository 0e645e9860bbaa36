import Foundation

/// Rotary position embedding for one base and pairing style: each pair is rotated by
/// `pos · base^(-2i/d)`. Pairs are adjacent `(x[2i], x[2i+1])` (llama) or half a head apart
/// `(x[i], x[i + d/2])` (NeoX). Angles are computed in double precision (positions reach millions).
public struct Rope: Sendable {
    public let headDimension: Int
    public let base: Double
    public let style: RopeStyle
    private let inverseFrequencies: [Double]

    public init(headDimension: Int, base: Double, style: RopeStyle = .adjacent) {
        self.headDimension = headDimension
        self.base = base
        self.style = style
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
        // The pair (i, j) of rotation i: adjacent elements, or elements half a head apart.
        let (step, offset) = style == .adjacent ? (2, 1) : (1, half)
        for h in 0..<heads {
            let v = x + h * headDimension
            for i in 0..<half {
                let c = table[i], s = table[half + i]
                let a = v[step * i], b = v[step * i + offset]
                v[step * i] = a * c - b * s
                v[step * i + offset] = a * s + b * c
            }
        }
    }
}
