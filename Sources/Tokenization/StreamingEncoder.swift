import Foundation

/// A token with the absolute byte offset of its first byte in the document.
public struct EncodedToken: Equatable, Hashable, Sendable {
    /// The token id.
    public var id: Int32
    /// The document offset of the token's first byte.
    public var byteOffset: Int64

    /// Creates a token with its offset.
    public init(id: Int32, byteOffset: Int64) {
        self.id = id
        self.byteOffset = byteOffset
    }
}

/// Tokenizes a document fed as byte chunks of any size, emitting each token once its text is
/// settled, with byte offsets; the concatenated output equals `encode(wholeText, parseSpecial: false)`.
///
/// Why holding back is exact: llama.cpp's splitters scan forward only and restart at every
/// piece boundary, so a piece is fully decided by the code points its scan examined. The
/// encoder commits a piece only if every code point the scan looked at was available; a scan
/// that touched the end of the buffered text (a letter run still growing, `\s+(?!\S)` not
/// knowing what follows the spaces, `'r` not yet `'re`, a pending digit group) is held back
/// with everything after it. An incomplete UTF-8 sequence at a chunk end is held back too.
/// Digits split by `\p{N}` are single code points, decided on their own.
///
/// USER_DEFINED tokens (matched in documents too, as llama.cpp does) are split out first; text
/// is only cut where no occurrence of one can span the cut (see `tokenizePending`). For
/// SentencePiece vocabularies the pieces are the cuts of `PreTokenizer.sentencePiece`, which no
/// vocabulary token spans, so each is decided by its own bytes. No BOS is emitted: a caller
/// whose tokenizer `addsBOS` puts `bosID` before the document's first token.
///
/// The carry-over state is small (the held-back tail) and can be saved with `state` and
/// restored with `init(tokenizer:restoring:)` to resume mid-document.
public struct StreamingEncoder: Sendable {
    /// The tokenizer used.
    public let tokenizer: BPETokenizer
    /// Whether ill-formed UTF-8 becomes U+FFFD (one per maximal subpart) instead of an error.
    public let replaceInvalid: Bool

    /// Validated bytes not yet turned into tokens; `pending[0]` starts a piece.
    var pending: [UInt8] = []
    /// Document offset of `pending[0]`.
    var pendingStart: Int64 = 0
    /// U+FFFD substitutions inside `pending`, in order.
    var replacements: [Replacement] = []
    /// A trailing incomplete UTF-8 sequence (at most 3 bytes), not yet in `pending`.
    var carry: [UInt8] = []
    /// Total bytes fed so far (the document offset of the next byte).
    var consumed: Int64 = 0
    /// Whether the final chunk has been fed.
    public internal(set) var isFinished = false
    /// Total document bytes fed so far (the offset of the next byte to feed).
    public var bytesConsumed: Int64 { consumed }
    var scratch = EncodeScratch(stream: true)

    struct Replacement: Equatable, Sendable {
        /// Index of the U+FFFD's first byte in `pending`.
        var pendingIndex: Int
        /// Document offset of the ill-formed bytes it replaces.
        var documentOffset: Int64
        /// How many document bytes it replaces.
        var documentLength: Int
    }

    /// Starts a stream at document offset 0.
    ///
    /// - Parameters:
    ///   - tokenizer: The tokenizer; documents are encoded with `parseSpecial: false`.
    ///   - replaceInvalid: Substitute U+FFFD for ill-formed UTF-8 instead of throwing.
    /// - Throws: `TokenizerError.streamingUnsupported` for a SentencePiece vocabulary with
    ///   `add_space_prefix` (the added space is not document text, so it has no byte offset).
    public init(tokenizer: BPETokenizer, replaceInvalid: Bool = false) throws {
        if let spm = tokenizer.sentencePiece, spm.addSpacePrefix {
            throw TokenizerError.streamingUnsupported(reason: "the SentencePiece vocabulary adds a space prefix")
        }
        self.tokenizer = tokenizer
        self.replaceInvalid = replaceInvalid
    }

    /// Bytes held back so far (validated but not yet tokenized, plus any incomplete sequence).
    public var heldBackByteCount: Int { pending.count + carry.count }

    /// Feeds the next chunk of the document and returns the tokens that are now settled.
    ///
    /// - Parameters:
    ///   - bytes: The next bytes of the document (any size, may split UTF-8 sequences).
    ///   - isFinal: `true` for the last chunk: everything left is emitted.
    /// - Returns: Tokens with their absolute byte offsets, in document order.
    /// - Throws: `TokenizerError.invalidUTF8(byteOffset:)` at the first ill-formed byte (unless
    ///   `replaceInvalid`), or `.streamAlreadyFinished` after the final chunk.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer, isFinal: Bool) throws -> [EncodedToken] {
        guard !isFinished else { throw TokenizerError.streamAlreadyFinished }
        try validateAndAppend(bytes.bindMemory(to: UInt8.self), isFinal: isFinal)
        if isFinal { isFinished = true }
        return tokenizePending(isFinal: isFinal)
    }

    /// Feeds the next chunk of the document (see `feed(_:isFinal:)`).
    public mutating func feed(_ bytes: [UInt8], isFinal: Bool) throws -> [EncodedToken] {
        try bytes.withUnsafeBytes { try feed($0, isFinal: isFinal) }
    }

    /// Validates `carry + input` and appends the valid (or replaced) bytes to `pending`.
    private mutating func validateAndAppend(_ input: UnsafeBufferPointer<UInt8>, isFinal: Bool) throws {
        var work = carry
        work.append(contentsOf: input)
        let workStart = consumed - Int64(carry.count)
        consumed += Int64(input.count)
        carry.removeAll(keepingCapacity: true)
        let n = work.count
        guard n > 0 else { return }
        try work.withUnsafeBufferPointer { buf in
            guard let p = buf.baseAddress else { return }
            var runStart = 0
            var i = 0
            while i < n {
                if p[i] < 0x80 {
                    i += 1
                    continue
                }
                switch UTF8Validation.step(p, i, n) {
                case .valid(let len):
                    i += len
                case .incomplete where !isFinal:
                    pending.append(contentsOf: UnsafeBufferPointer(rebasing: buf[runStart..<i]))
                    carry.append(contentsOf: UnsafeBufferPointer(rebasing: buf[i..<n]))
                    return
                case .incomplete:
                    try invalid(at: i, length: n - i)
                    i = n
                    runStart = n
                case .invalid(let len):
                    try invalid(at: i, length: len)
                    i += len
                    runStart = i
                }
            }
            pending.append(contentsOf: UnsafeBufferPointer(rebasing: buf[runStart..<n]))

            func invalid(at index: Int, length: Int) throws {
                guard replaceInvalid else {
                    throw TokenizerError.invalidUTF8(byteOffset: workStart + Int64(index))
                }
                pending.append(contentsOf: UnsafeBufferPointer(rebasing: buf[runStart..<index]))
                replacements.append(Replacement(pendingIndex: pending.count,
                                                documentOffset: workStart + Int64(index),
                                                documentLength: length))
                pending.append(contentsOf: UTF8Validation.replacement)
            }
        }
    }

    /// The document offset of `pending[index]`.
    private func documentOffset(_ index: Int) -> Int64 {
        var result = pendingStart + Int64(index)
        for r in replacements {
            if r.pendingIndex > index { break }
            if index < r.pendingIndex + 3 { return r.documentOffset }
            result = r.documentOffset + Int64(r.documentLength) + Int64(index - r.pendingIndex - 3)
        }
        return result
    }

    /// Emits tokens for every settled piece of `pending` and drops those bytes.
    ///
    /// USER_DEFINED tokens (matched even in documents) are handled by cutting `pending` at the
    /// last position that no occurrence of one spans and that is at least the longest such
    /// token's length before the end (an occurrence could still grow into the next chunk
    /// there): llama.cpp's partition of the text before such a cut is the partition of the
    /// whole text there. The text fragment that reaches the cut may continue, so it is scanned
    /// as not final.
    private mutating func tokenizePending(isFinal: Bool) -> [EncodedToken] {
        var output: [EncodedToken] = []
        var ids: [Int32] = []
        let tokenizer = self.tokenizer
        let kind = tokenizer.preTokenizer
        let count = pending.count
        let atEnd = isFinal && carry.isEmpty
        let matcher = tokenizer.specialMatcher(parseSpecial: false)
        var committed = 0
        pending.withUnsafeBufferPointer { buf in
            guard let base = buf.baseAddress else { return }
            let fragments: [Fragment]
            let cut: Int
            if matcher.isEmpty {
                fragments = [.text(start: 0, end: count)]
                cut = count
            } else {
                let found = matcher.occurrences(base, count: count)
                fragments = matcher.partition(count: count, occurrences: found)
                cut = atEnd ? count : matcher.cleanCut(atMost: max(0, count - matcher.maxLength + 1), occurrences: found)
            }
            fragmentLoop: for fragment in fragments {
                switch fragment {
                case .token(let id, let start):
                    guard start < cut else { break fragmentLoop }
                    output.append(EncodedToken(id: id, byteOffset: documentOffset(start)))
                    committed = start + tokenizer.tokenLength(id)
                case .text(let start, let end):
                    guard start < cut else { break fragmentLoop }
                    let segmentEnd = min(end, cut)
                    // A fragment that ends before the cut is followed by a settled special token.
                    let final = atEnd || end < cut
                    var scanner = PieceScanner(base: base, end: segmentEnd, isFinal: final,
                                               joiners: tokenizer.sentencePiece?.joiners)
                    var pos = start
                    while pos < segmentEnd {
                        scanner.needMore = false
                        let pieceEnd = scanner.pieceEnd(from: pos, kind: kind)
                        if scanner.needMore { break }
                        ids.removeAll(keepingCapacity: true)
                        tokenizer.encodePiece(base + pos, pieceEnd - pos, scratch: &scratch, into: &ids)
                        var offset = pos
                        for id in ids {
                            output.append(EncodedToken(id: id, byteOffset: documentOffset(min(offset, pieceEnd - 1))))
                            offset += tokenizer.tokenLength(id)
                        }
                        pos = pieceEnd
                    }
                    committed = pos
                    if pos < end { break fragmentLoop }
                }
            }
        }
        if committed > 0 {
            let newStart = committed < count ? documentOffset(committed) : consumed - Int64(carry.count)
            replacements = replacements.compactMap { r in
                r.pendingIndex >= committed ? Replacement(pendingIndex: r.pendingIndex - committed,
                                                          documentOffset: r.documentOffset,
                                                          documentLength: r.documentLength) : nil
            }
            pending.removeSubrange(0..<committed)
            pendingStart = newStart
        }
        return output
    }
}
