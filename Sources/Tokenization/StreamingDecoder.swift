/// Turns generated token ids into text as they arrive, emitting only complete UTF-8.
///
/// A token may end in the middle of a multi-byte character (emoji, CJK); those bytes are kept
/// until the next token completes them. Bytes that can never become valid are emitted as U+FFFD.
public struct StreamingDecoder: Sendable {
    /// The tokenizer whose bytes are decoded.
    public let tokenizer: any Tokenizer
    private var pending: [UInt8] = []

    /// Creates a decoder with nothing pending.
    public init(tokenizer: any Tokenizer) {
        self.tokenizer = tokenizer
    }

    /// Adds one token and returns the text that is now complete (possibly empty).
    public mutating func append(_ id: Int32) -> String {
        pending.append(contentsOf: tokenizer.tokenBytes(id))
        let cut = UTF8Validation.completePrefixLength(pending)
        guard cut > 0 else { return "" }
        let text = String(decoding: pending[..<cut], as: UTF8.self)
        pending.removeSubrange(0..<cut)
        return text
    }

    /// Returns whatever is still pending (an incomplete sequence becomes U+FFFD) and resets.
    public mutating func finish() -> String {
        defer { pending.removeAll() }
        return String(decoding: pending, as: UTF8.self)
    }
}
