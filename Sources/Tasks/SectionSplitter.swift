/// Cuts a token stream into sections of at most `budget` tokens at natural boundaries.
///
/// Tokens arrive one by one with their byte offsets and bytes (the reader's order); nothing
/// but the open section is held. When `budget + 1` tokens are pending, the section is cut at
/// the strongest boundary among the last half of the budget — a blank line or a heading, then a
/// sentence end, a line end, a word boundary — preferring the latest on ties. Every token goes
/// to exactly one section, so the sections' byte ranges cover the document without gap or
/// overlap. The splitter is `Codable`: its state goes into a run's checkpoint.
public struct SectionSplitter: Codable, Sendable, Equatable {
    /// The most tokens of one section.
    public let budget: Int
    /// The fewest tokens of a section cut before the end of the document.
    public let minimum: Int
    private var ids: [Int32] = []
    private var offsets: [Int64] = []
    /// `strengths[i]`: strength of the boundary after token `i` (known once token `i + 1` came).
    private var strengths: [UInt8] = []
    /// The last bytes of the document read so far.
    private var tail: [UInt8] = []
    /// Index of the next section.
    public private(set) var nextIndex = 0

    /// - Parameter budget: the most tokens of one section (at least 1).
    public init(budget: Int) {
        self.budget = max(1, budget)
        self.minimum = max(1, self.budget / 2)
    }

    /// Tokens received but not yet given out in a section.
    public var pendingCount: Int { ids.count }

    /// Adds the next token of the document; returns a section when one is complete.
    /// - Parameters:
    ///   - bytes: the token's text as bytes (used only to find boundaries).
    public mutating func append(id: Int32, byteOffset: Int64, bytes: [UInt8]) -> DocumentSection? {
        if !ids.isEmpty { strengths.append(Self.strength(tail: tail, next: bytes)) }
        ids.append(id)
        offsets.append(byteOffset)
        tail.append(contentsOf: bytes)
        if tail.count > 16 { tail.removeFirst(tail.count - 16) }
        guard ids.count > budget else { return nil }
        var cut = budget
        var best = strengths[budget - 1]
        var c = budget - 1
        while c >= minimum {
            if strengths[c - 1] > best {
                best = strengths[c - 1]
                cut = c
            }
            c -= 1
        }
        return take(cut, end: offsets[cut])
    }

    /// The last section (if any tokens are pending) once the document has ended at byte `documentEnd`.
    public mutating func finish(documentEnd: Int64) -> DocumentSection? {
        guard !ids.isEmpty else { return nil }
        return take(ids.count, end: documentEnd)
    }

    private mutating func take(_ count: Int, end: Int64) -> DocumentSection {
        let section = DocumentSection(index: nextIndex, byteStart: offsets[0], byteEnd: end, tokenIDs: Array(ids[0..<count]))
        nextIndex += 1
        ids.removeFirst(count)
        offsets.removeFirst(count)
        strengths.removeFirst(min(count, strengths.count))
        return section
    }

    /// How good a place the point between `tail` (the text so far) and the token `next` is to
    /// end a section: 4 blank line or heading, 3 sentence end, 2 line end, 1 word boundary, 0 inside a word.
    public static func strength(tail: [UInt8], next: [UInt8]) -> UInt8 {
        let newline: UInt8 = 10
        func isSpace(_ b: UInt8) -> Bool { b == 32 || b == 9 || b == 13 || b == newline }
        guard let last = tail.last else { return 0 }
        // Newlines in the whitespace around the boundary (tokenizers put it on either side).
        var newlines = 0
        var i = tail.count - 1
        while i >= 0, isSpace(tail[i]) { if tail[i] == newline { newlines += 1 }; i -= 1 }
        var j = 0
        while j < next.count, isSpace(next[j]) { if next[j] == newline { newlines += 1 }; j += 1 }
        if newlines >= 2 { return 4 }
        if newlines == 1, j < next.count, next[j] == UInt8(ascii: "#") { return 4 }
        let atWhitespace = isSpace(last) || (next.first.map(isSpace) ?? true)
        // Sentence end: . ! ? (possibly followed by closing quotes or brackets), then whitespace.
        if atWhitespace {
            while i >= 0, tail[i] == UInt8(ascii: "\"") || tail[i] == UInt8(ascii: "'") || tail[i] == UInt8(ascii: ")") || tail[i] == UInt8(ascii: "]") { i -= 1 }
            if i >= 0, tail[i] == UInt8(ascii: ".") || tail[i] == UInt8(ascii: "!") || tail[i] == UInt8(ascii: "?") { return 3 }
        }
        if last == newline { return 2 }
        if atWhitespace { return 1 }
        return 0
    }
}
