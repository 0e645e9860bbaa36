import Foundation

/// xoshiro256** seeded through SplitMix64: a small, fast generator whose whole state (four
/// words) is saved in a run's checkpoint, so sampling resumes exactly where it stopped.
public struct Xoshiro256: RandomNumberGenerator, Codable, Sendable, Equatable {
    public private(set) var state: [UInt64]

    /// Seeds the four state words from `seed` with SplitMix64 (as the xoshiro authors advise).
    public init(seed: UInt64) {
        var x = seed
        var words: [UInt64] = []
        for _ in 0..<4 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            words.append(z ^ (z >> 31))
        }
        state = words
    }

    /// Restores a state saved from ``data``.
    /// - Throws: ``TaskError`` when the bytes are not a saved state.
    public init(data: Data) throws {
        guard data.count == 32 else { throw TaskError(code: "task.rng-state", message: "the saved random-generator state has \(data.count) bytes instead of 32.") }
        var words: [UInt64] = []
        for i in 0..<4 {
            var w: UInt64 = 0
            for b in 0..<8 { w |= UInt64(data[data.startIndex + i * 8 + b]) << (8 * b) }
            words.append(w)
        }
        state = words
    }

    /// The state as 32 little-endian bytes.
    public var data: Data {
        var out = Data()
        for w in state { for b in 0..<8 { out.append(UInt8(truncatingIfNeeded: w >> (8 * b))) } }
        return out
    }

    public mutating func next() -> UInt64 {
        let result = rotl(state[1] &* 5, 7) &* 9
        let t = state[1] << 17
        state[2] ^= state[0]
        state[3] ^= state[1]
        state[1] ^= state[2]
        state[0] ^= state[3]
        state[2] ^= t
        state[3] = rotl(state[3], 45)
        return result
    }

    /// A uniform double in [0, 1) from the top 53 bits.
    public mutating func nextUnit() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    private func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }
}
