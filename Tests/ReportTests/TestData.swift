import Foundation
@testable import Report

/// A seeded generator so every test run sees the same "random" losses.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

enum TestData {
    /// `count` losses in [0, 8) nats, seeded.
    static func nll(count: Int, seed: UInt64) -> [Float] {
        var rng = SplitMix64(seed: seed)
        return (0..<count).map { _ in Float.random(in: 0..<8, using: &rng) }
    }

    /// Buckets recomputed from scratch: per-bucket sum and a separate running sum, both
    /// sequential Double additions in token order, boundaries at `origin + k * size`.
    static func referenceBuckets(_ nll: [Float], firstToken: Int, range: Range<Int>, size: Int) -> [Bucket] {
        var result: [Bucket] = []
        var running = 0.0
        var seen = 0
        var start = range.lowerBound
        while start < range.upperBound {
            let end = min(start + size, range.upperBound)
            var sum = 0.0
            for t in start..<end {
                sum += Double(nll[t - firstToken])
                running += Double(nll[t - firstToken])
            }
            seen += end - start
            let mean = sum / Double(end - start)
            result.append(Bucket(startToken: start, endToken: end, count: end - start, meanNLL: mean,
                                 ppl: exp(mean), cumulativePPL: exp(running / Double(seen))))
            start = end
        }
        return result
    }

    /// A number from `JSONSerialization`, read exactly. On Linux it returns `NSDecimalNumber`
    /// for long numbers and its `doubleValue` can be off by an ulp, but its text is the JSON
    /// text, so `Double(description)` recovers the exact value that was written.
    static func jsonDouble(_ value: Any?) -> Double? {
        if let decimal = value as? NSDecimalNumber { return Double(decimal.description) }
        return (value as? NSNumber)?.doubleValue
    }

    /// Splits one CSV line into fields, honouring RFC 4180 quotes.
    static func csvFields(_ line: Substring) -> [String] {
        var fields: [String] = []
        var field = ""
        var quoted = false
        var chars = Array(line)[...]
        while let c = chars.popFirst() {
            if quoted {
                if c == "\"" {
                    if chars.first == "\"" { field.append("\""); chars.removeFirst() } else { quoted = false }
                } else { field.append(c) }
            } else if c == "\"" {
                quoted = true
            } else if c == "," {
                fields.append(field)
                field = ""
            } else { field.append(c) }
        }
        fields.append(field)
        return fields
    }
}
