extension BPETokenizer {
    /// The raw bytes a token stands for.
    ///
    /// Normal tokens map their byte-level characters back to bytes; CONTROL, USER_DEFINED and
    /// UNKNOWN tokens give their text; BYTE tokens `<0xXX>` give that byte. Empty for an id
    /// outside the vocabulary.
    public func tokenBytes(_ id: Int32) -> [UInt8] {
        id >= 0 && Int(id) < pieces.count ? pieces[Int(id)] : []
    }

    /// How many bytes `tokenBytes(id)` has (0 for an id outside the vocabulary).
    @inline(__always)
    func tokenLength(_ id: Int32) -> Int {
        id >= 0 && Int(id) < pieceLengths.count ? Int(pieceLengths[Int(id)]) : 0
    }

    /// The concatenated bytes of `ids` (see `tokenBytes`).
    public func decodeBytes(_ ids: [Int32]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(ids.count * 4)
        for id in ids where id >= 0 && Int(id) < pieces.count {
            bytes.append(contentsOf: pieces[Int(id)])
        }
        return bytes
    }

    /// The text of `ids`; byte sequences that are not valid UTF-8 become U+FFFD.
    public func decode(_ ids: [Int32]) -> String {
        String(decoding: decodeBytes(ids), as: UTF8.self)
    }

    /// The vocabulary text of a token (`"Ġthe"`, `"<|im_end|>"`), or `nil` for an unknown id.
    public func tokenText(_ id: Int32) -> String? {
        id >= 0 && Int(id) < tokens.count ? tokens[Int(id)] : nil
    }
}
