/// Incremental UTF-8 validation for byte streams.
///
/// Ill-formed input is handled per *maximal subpart* (Unicode §3.9, the same rule as
/// `String(decoding:as:)`): a lead byte followed by the longest run of continuation bytes
/// that could still start a valid sequence is one ill-formed unit; a stray continuation byte
/// or an impossible byte (C0, C1, F5–FF) is a unit on its own. In replacement mode each unit
/// becomes one U+FFFD.
enum UTF8Validation {
    static let replacement: [UInt8] = [0xEF, 0xBF, 0xBD]

    /// Expected length and allowed range of the second byte for a lead byte, or `nil` if the
    /// byte cannot start a sequence.
    @inline(__always)
    static func leadInfo(_ b: UInt8) -> (length: Int, low: UInt8, high: UInt8)? {
        switch b {
        case 0xC2...0xDF: return (2, 0x80, 0xBF)
        case 0xE0: return (3, 0xA0, 0xBF)
        case 0xE1...0xEC, 0xEE, 0xEF: return (3, 0x80, 0xBF)
        case 0xED: return (3, 0x80, 0x9F)
        case 0xF0: return (4, 0x90, 0xBF)
        case 0xF1...0xF3: return (4, 0x80, 0xBF)
        case 0xF4: return (4, 0x80, 0x8F)
        default: return nil
        }
    }

    enum Step {
        /// A valid sequence of this many bytes.
        case valid(Int)
        /// An ill-formed unit of this many bytes.
        case invalid(Int)
        /// A sequence that may still become valid but runs past the available bytes.
        case incomplete
    }

    /// Classifies the non-ASCII sequence starting at `i` (with `n` bytes available).
    @inline(__always)
    static func step(_ p: UnsafePointer<UInt8>, _ i: Int, _ n: Int) -> Step {
        guard let info = leadInfo(p[i]) else { return .invalid(1) }
        for k in 1..<info.length {
            if i + k >= n { return .incomplete }
            let b = p[i + k]
            let ok = k == 1 ? (b >= info.low && b <= info.high) : (b & 0xC0 == 0x80)
            if !ok { return .invalid(k) }
        }
        return .valid(info.length)
    }

    /// The length of the longest prefix of `bytes` that does not end inside a sequence that
    /// could still be completed; invalid sequences count as complete.
    static func completePrefixLength(_ bytes: [UInt8]) -> Int {
        let n = bytes.count
        var j = n - 1
        while j >= 0 && j >= n - 3 {
            let b = bytes[j]
            if b & 0xC0 != 0x80 {
                // The last sequence starts at j.
                guard b >= 0xC0 else { return n }
                return bytes.withUnsafeBufferPointer { buf -> Int in
                    if let base = buf.baseAddress, case .incomplete = step(base, j, n) { return j }
                    return n
                }
            }
            j -= 1
        }
        return n
    }
}
