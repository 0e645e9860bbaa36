/// Reusable buffers and the piece cache for one encoding run (one `encode` call or one stream).
struct EncodeScratch {
    var cache: PieceCache
    var merger = BPEMerger()
    var sentencePiece = SentencePieceMerger()
    var symbols: [Int32] = []
    var merged: [Int32] = []

    /// - Parameter stream: scratch of a streaming encoder (its cache allocated in full up front).
    init(stream: Bool = false) {
        cache = PieceCache(reserve: stream)
    }
}

/// A run of text or an already-recognized special token (llama.cpp `fragment_buffer_variant`).
enum Fragment: Equatable {
    case text(start: Int, end: Int)
    case token(Int32, start: Int)
}

extension BPETokenizer {
    /// Splits `text` into token ids (see `Tokenizer.encode`).
    public func encode(_ text: String, parseSpecial: Bool) -> [Int32] {
        var text = text
        return text.withUTF8 { buffer in
            encode(utf8: buffer, parseSpecial: parseSpecial)
        }
    }

    /// Splits valid UTF-8 into token ids (no BOS is added; see ``addsBOS``).
    ///
    /// - Parameters:
    ///   - utf8: Bytes that must be valid UTF-8 (a `String`'s storage, or bytes already validated).
    ///   - parseSpecial: Whether control-token text becomes control tokens.
    public func encode(utf8: UnsafeBufferPointer<UInt8>, parseSpecial: Bool) -> [Int32] {
        guard let base = utf8.baseAddress, utf8.count > 0 else { return [] }
        var output: [Int32] = []
        output.reserveCapacity(utf8.count / 3 + 4)
        var scratch = EncodeScratch()
        var previousIsSpecial = true
        for fragment in partition(base, count: utf8.count, parseSpecial: parseSpecial) {
            switch fragment {
            case .token(let id, _):
                output.append(id)
                previousIsSpecial = true
            case .text(let start, let end):
                encodeText(base, from: start, to: end, prefixSpace: previousIsSpecial, scratch: &scratch, into: &output)
                previousIsSpecial = false
            }
        }
        return output
    }

    /// Encodes one whole text fragment `base[start..<end]` (its end is a segment end).
    func encodeText(_ base: UnsafePointer<UInt8>, from start: Int, to end: Int, prefixSpace: Bool,
                    scratch: inout EncodeScratch, into output: inout [Int32]) {
        var scanner = PieceScanner(base: base, end: end, isFinal: true, joiners: sentencePiece?.joiners)
        var pos = start
        if prefixSpace, let spm = sentencePiece, spm.addSpacePrefix, pos < end {
            let pieceEnd = scanner.pieceEnd(from: pos, kind: preTokenizer)
            scratch.sentencePiece.encode(base + pos, pieceEnd - pos, prefixSpace: true, model: spm, into: &output)
            pos = pieceEnd
        }
        while pos < end {
            let pieceEnd = scanner.pieceEnd(from: pos, kind: preTokenizer)
            encodePiece(base + pos, pieceEnd - pos, scratch: &scratch, into: &output)
            pos = pieceEnd
        }
    }

    /// Whether any special token is matched in text for this `parseSpecial` setting.
    func hasSpecialTokens(parseSpecial: Bool) -> Bool {
        !(parseSpecial ? specialTokensAll : specialTokensUser).isEmpty
    }

    /// The special tokens matched in text for this `parseSpecial` setting.
    func specialMatcher(parseSpecial: Bool) -> SpecialTokenMatcher {
        parseSpecial ? specialTokensAll : specialTokensUser
    }

    /// llama.cpp's `tokenizer_st_partition`: for each special token, longest first, split every
    /// remaining text fragment at each of its occurrences (left to right, non-overlapping).
    func partition(_ base: UnsafePointer<UInt8>, count: Int, parseSpecial: Bool) -> [Fragment] {
        let matcher = specialMatcher(parseSpecial: parseSpecial)
        if matcher.isEmpty { return [.text(start: 0, end: count)] }
        return matcher.partition(count: count, occurrences: matcher.occurrences(base, count: count))
    }

    /// Appends the ids of one pre-token (`n` bytes at `p`) to `output`.
    @inline(__always)
    func encodePiece(_ p: UnsafePointer<UInt8>, _ n: Int, scratch: inout EncodeScratch, into output: inout [Int32]) {
        if scratch.cache.lookup(p, n, into: &output) { return }
        let start = output.count
        if let spm = sentencePiece {
            scratch.sentencePiece.encode(p, n, prefixSpace: false, model: spm, into: &output)
        } else if preTokenizer.ignoresMerges,
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
            var scanner = PieceScanner(base: base, end: buffer.count, isFinal: true, joiners: sentencePiece?.joiners)
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
