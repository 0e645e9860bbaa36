/// Reusable buffers and the piece cache for one encoding run (one `encode` call or one stream).
struct EncodeScratch {
    var cache = PieceCache()
    var merger = BPEMerger()
    var symbols: [Int32] = []
    var merged: [Int32] = []
}

/// A run of text or an already-recognized special token (llama.cpp `fragment_buffer_variant`).
enum Fragment: Equatable {
    case text(start: Int, end: Int)
    case token(Int32)
}

extension BPETokenizer {
    /// Splits `text` into token ids (see `Tokenizer.encode`).
    public func encode(_ text: String, parseSpecial: Bool) -> [Int32] {
        var text = text
        return text.withUTF8 { buffer in
            encode(utf8: buffer, parseSpecial: parseSpecial)
        }
    }

    /// Splits valid UTF-8 into token ids.
    ///
    /// - Parameters:
    ///   - utf8: Bytes that must be valid UTF-8 (a `String`'s storage, or bytes already validated).
    ///   - parseSpecial: Whether control-token text becomes control tokens.
    public func encode(utf8: UnsafeBufferPointer<UInt8>, parseSpecial: Bool) -> [Int32] {
        guard let base = utf8.baseAddress, utf8.count > 0 else { return [] }
        var output: [Int32] = []
        output.reserveCapacity(utf8.count / 3 + 4)
        var scratch = EncodeScratch()
        for fragment in partition(base, count: utf8.count, parseSpecial: parseSpecial) {
            switch fragment {
            case .token(let id):
                output.append(id)
            case .text(let start, let end):
                var scanner = PieceScanner(base: base, end: end, isFinal: true)
                var pos = start
                while pos < end {
                    let pieceEnd = scanner.pieceEnd(from: pos, kind: preTokenizer)
                    encodePiece(base + pos, pieceEnd - pos, scratch: &scratch, into: &output)
                    pos = pieceEnd
                }
            }
        }
        return output
    }

    /// Whether any special token is matched in text for this `parseSpecial` setting.
    func hasSpecialTokens(parseSpecial: Bool) -> Bool {
        !(parseSpecial ? specialTokensAll : specialTokensUser).isEmpty
    }

    /// llama.cpp's `tokenizer_st_partition`: for each special token, longest first, split every
    /// remaining text fragment at each of its occurrences (left to right, non-overlapping).
    func partition(_ base: UnsafePointer<UInt8>, count: Int, parseSpecial: Bool) -> [Fragment] {
        let specials = parseSpecial ? specialTokensAll : specialTokensUser
        var fragments: [Fragment] = [.text(start: 0, end: count)]
        for special in specials {
            let needle = special.bytes
            var updated: [Fragment] = []
            updated.reserveCapacity(fragments.count)
            for fragment in fragments {
                guard case .text(var start, let end) = fragment else {
                    updated.append(fragment)
                    continue
                }
                while start < end {
                    guard let match = Self.find(needle, in: base, from: start, to: end) else { break }
                    if match > start { updated.append(.text(start: start, end: match)) }
                    updated.append(.token(special.id))
                    start = match + needle.count
                }
                if start < end { updated.append(.text(start: start, end: end)) }
            }
            fragments = updated
        }
        return fragments
    }

    private static func find(_ needle: [UInt8], in base: UnsafePointer<UInt8>, from: Int, to: Int) -> Int? {
        let n = needle.count
        guard n > 0, to - from >= n else { return nil }
        let first = needle[0]
        var i = from
        while i <= to - n {
            if base[i] == first {
                var j = 1
                while j < n && base[i + j] == needle[j] { j += 1 }
                if j == n { return i }
            }
            i += 1
        }
        return nil
    }

    /// Appends the ids of one pre-token (`n` bytes at `p`) to `output`.
    @inline(__always)
    func encodePiece(_ p: UnsafePointer<UInt8>, _ n: Int, scratch: inout EncodeScratch, into output: inout [Int32]) {
        if scratch.cache.lookup(p, n, into: &output) { return }
        let start = output.count
        if preTokenizer.ignoresMerges,
           let id = textToID[ByteLevel.encode(UnsafeBufferPointer(start: p, count: n))] {
            output.append(id)
        } else {
            scratch.symbols.removeAll(keepingCapacity: true)
            for i in 0..<n { scratch.symbols.append(byteSymbols[Int(p[i])]) }
            scratch.merged.removeAll(keepingCapacity: true)
            scratch.symbols.withUnsafeBufferPointer { symbols in
                scratch.merger.merge(symbols, merges: merges, into: &scratch.merged)
            }
            let vocabSize = Int32(pieces.count)
            for id in scratch.merged {
                if id < vocabSize {
                    output.append(id)
                } else {
                    output.append(contentsOf: fallbacks[Int(id - vocabSize)])
                }
            }
        }
        scratch.cache.store(p, n, ids: output[start...])
    }
}

extension BPETokenizer {
    /// The pre-tokens (pieces before BPE) of `text`, for inspection and tests.
    public func preTokenize(_ text: String) -> [String] {
        var text = text
        return text.withUTF8 { buffer -> [String] in
            guard let base = buffer.baseAddress, buffer.count > 0 else { return [] }
            var scanner = PieceScanner(base: base, end: buffer.count, isFinal: true)
            var result: [String] = []
            var pos = 0
            while pos < buffer.count {
                let end = scanner.pieceEnd(from: pos, kind: preTokenizer)
                result.append(String(decoding: UnsafeBufferPointer(start: base + pos, count: end - pos), as: UTF8.self))
                pos = end
            }
            return result
        }
    }
}
