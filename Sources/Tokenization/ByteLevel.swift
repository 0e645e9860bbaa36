/// GPT-2 `bytes_to_unicode`: every byte gets a printable code point, so byte strings can be
/// stored as text in the vocabulary (`Ġ` is the space byte 0x20).
enum ByteLevel {
    /// The code point standing for each byte.
    static let scalarForByte: [UInt32] = {
        var table = [UInt32](repeating: 0, count: 256)
        var next: UInt32 = 256
        for byte in 0..<256 {
            if (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte) {
                table[byte] = UInt32(byte)
            } else {
                table[byte] = next
                next += 1
            }
        }
        return table
    }()

    /// The byte each byte-level code point stands for.
    static let byteForScalar: [UInt32: UInt8] = {
        var map: [UInt32: UInt8] = [:]
        for (byte, scalar) in scalarForByte.enumerated() { map[scalar] = UInt8(byte) }
        return map
    }()

    /// The vocabulary text of a single byte.
    static func text(forByte byte: UInt8) -> String {
        String(Character(Unicode.Scalar(scalarForByte[Int(byte)])!))
    }

    /// The byte-level text of raw bytes (each byte becomes one code point).
    static func encode(_ bytes: some Sequence<UInt8>) -> String {
        var result = String.UnicodeScalarView()
        for byte in bytes { result.append(Unicode.Scalar(scalarForByte[Int(byte)])!) }
        return String(result)
    }

    /// The raw bytes of vocabulary text; code points outside the byte map keep their UTF-8.
    static func decode(_ text: String) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            if let byte = byteForScalar[scalar.value] {
                bytes.append(byte)
            } else {
                bytes.append(contentsOf: String(scalar).utf8)
            }
        }
        return bytes
    }
}
