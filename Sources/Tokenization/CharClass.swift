/// Code point classes as llama.cpp's pre-tokenizers see them (`unicode_cpt_flags`):
/// `\p{L}` letters, `\p{N}` numbers, its own whitespace set, and everything else.
enum CharClass {
    /// Past the end of the current segment (llama.cpp `OUT_OF_RANGE`).
    static let none: UInt8 = 0
    /// General category L* (Lu, Ll, Lt, Lm, Lo).
    static let letter: UInt8 = 1
    /// General category N* (Nd, Nl, No).
    static let number: UInt8 = 2
    /// llama.cpp's whitespace set: U+0009–000D, 0020, 0085, 00A0, 1680, 2000–200A, 2028,
    /// 2029, 202F, 205F, 3000 (the Unicode White_Space property).
    static let whitespace: UInt8 = 4
    /// Any other assigned or unassigned code point (punctuation, symbols, marks, controls).
    static let other: UInt8 = 8

    /// Whether a code point is in llama.cpp's whitespace set.
    static func isWhitespace(_ v: UInt32) -> Bool {
        switch v {
        case 0x09...0x0D, 0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
            return true
        default:
            return false
        }
    }

    /// The class of a code point, computed from Swift's Unicode tables.
    static func compute(_ v: UInt32) -> UInt8 {
        if isWhitespace(v) { return whitespace }
        guard let scalar = Unicode.Scalar(v) else { return other }
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            return letter
        case .decimalNumber, .letterNumber, .otherNumber:
            return number
        default:
            return other
        }
    }

    /// The class of a code point (table lookup for the BMP).
    @inline(__always)
    static func of(_ v: UInt32, table: UnsafePointer<UInt8>) -> UInt8 {
        v < 0x10000 ? table[Int(v)] : compute(v)
    }
}

/// The precomputed class of every BMP code point, built once per process.
final class CharClassTable: @unchecked Sendable {
    // @unchecked: the buffer is written once in `init` and only read afterwards.
    let pointer: UnsafeMutablePointer<UInt8>

    static let shared = CharClassTable()

    private init() {
        pointer = .allocate(capacity: 0x10000)
        for v in 0..<UInt32(0x10000) {
            pointer[Int(v)] = CharClass.compute(v)
        }
    }

    deinit { pointer.deallocate() }
}
