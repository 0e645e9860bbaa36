/// A piece of a document cut at a natural boundary: its tokens and the bytes they came from.
public struct DocumentSection: Codable, Sendable, Equatable {
    /// 0 for the first section of the document.
    public var index: Int
    /// The document bytes of the section: `byteStart ..< byteEnd`. Consecutive sections touch.
    public var byteStart: Int64
    public var byteEnd: Int64
    /// The section's tokens, as the document's tokenizer produced them.
    public var tokenIDs: [Int32]

    /// Creates a section.
    public init(index: Int, byteStart: Int64, byteEnd: Int64, tokenIDs: [Int32]) {
        self.index = index
        self.byteStart = byteStart
        self.byteEnd = byteEnd
        self.tokenIDs = tokenIDs
    }

    /// The section's byte range.
    public var byteRange: Range<Int64> { byteStart..<byteEnd }
}
