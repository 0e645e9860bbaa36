import Foundation

/// A run of consecutive tokens with its mean loss, e.g. one of the worst-predicted passages.
public struct Span: Sendable, Codable, Equatable {
    /// First token position.
    public var startToken: Int
    /// One past the last token position.
    public var endToken: Int
    /// First byte of the span in the document, if the run stores byte offsets.
    public var startByte: Int64?
    /// One past the last byte, if known (next token's offset, or the document length).
    public var endByte: Int64?
    /// Mean NLL over the span: sequential Double sum from `startToken`, divided by the count.
    public var meanNLL: Double

    /// Creates a span from its values.
    public init(startToken: Int, endToken: Int, startByte: Int64?, endByte: Int64?, meanNLL: Double) {
        self.startToken = startToken
        self.endToken = endToken
        self.startByte = startByte
        self.endByte = endByte
        self.meanNLL = meanNLL
    }

    /// The token positions.
    public var tokenRange: Range<Int> { startToken..<endToken }

    /// The document bytes, when both ends are known.
    public var byteRange: Range<Int64>? {
        guard let s = startByte, let e = endByte else { return nil }
        return s..<max(s, e)
    }

    /// `exp(meanNLL)`.
    public var ppl: Double { exp(meanNLL) }

    enum CodingKeys: String, CodingKey {
        case startToken = "start_token"
        case endToken = "end_token"
        case startByte = "start_byte"
        case endByte = "end_byte"
        case meanNLL = "mean_nll"
    }
}

/// The document text around a span, with the span itself kept apart for marking.
public struct SpanExcerpt: Sendable, Equatable {
    /// The span this excerpt shows.
    public var span: Span
    /// Text before the span (up to the requested context).
    public var before: String
    /// The span's own text.
    public var text: String
    /// Text after the span.
    public var after: String
    /// Whether the document goes on before `before`.
    public var truncatedBefore: Bool
    /// Whether the document may go on after `after`.
    public var truncatedAfter: Bool

    /// The excerpt with the span marked as `»…«`, e.g. `…the cat »sat on« the mat…`.
    ///
    /// - Parameter singleLine: show line breaks as `⏎` and tabs as spaces, for one-line output.
    public func marked(singleLine: Bool = true) -> String {
        let s = (truncatedBefore ? "…" : "") + before + "»" + text + "«" + after + (truncatedAfter ? "…" : "")
        guard singleLine else { return s }
        return s.replacingOccurrences(of: "\r\n", with: "⏎")
            .replacingOccurrences(of: "\n", with: "⏎")
            .replacingOccurrences(of: "\r", with: "⏎")
            .replacingOccurrences(of: "\t", with: " ")
    }
}
