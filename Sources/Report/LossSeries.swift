/// One run's per-token losses over a document, as plain values.
///
/// Position `t` (an absolute token index in the document) maps to `nll[t - firstToken]`,
/// which is `−ln p(token t+1 | context)` in nats. `byteOffsets`, when present, runs in
/// parallel with `nll`: `byteOffsets[i]` is the byte offset of token `firstToken + i`. It may
/// hold one entry more than `nll` (the offset of the final, unpredicted token).
public struct LossSeries: Sendable, Equatable {
    /// The run's display name, e.g. `sink(4,1020)`.
    public var label: String
    /// The attention mode, e.g. `sink`, `window`, `dense`, `recompute`.
    public var mode: String
    /// The absolute token position of `nll[0]` (usually 0).
    public var firstToken: Int
    /// Negative log-likelihood in nats for each scored token, in token order.
    public var nll: [Float]
    /// Byte offset in the document of each scored token (same indexing as `nll`), if known.
    public var byteOffsets: [Int64]?
    /// The document's length in bytes, if known (closes the byte range of the last token).
    public var documentByteCount: Int64?
    /// The token position where the cache becomes full (sink + window), marked on plots.
    public var cacheCapacity: Int?
    /// A short human status, e.g. `completed` or `running (interrupted at token 12,345)`.
    public var status: String

    /// Creates a series from plain values.
    public init(
        label: String,
        mode: String,
        firstToken: Int = 0,
        nll: [Float],
        byteOffsets: [Int64]? = nil,
        documentByteCount: Int64? = nil,
        cacheCapacity: Int? = nil,
        status: String = "completed"
    ) {
        self.label = label
        self.mode = mode
        self.firstToken = firstToken
        self.nll = nll
        self.byteOffsets = byteOffsets
        self.documentByteCount = documentByteCount
        self.cacheCapacity = cacheCapacity
        self.status = status
    }

    /// The number of scored tokens.
    public var scoredTokens: Int { nll.count }

    /// One past the last scored token position.
    public var endToken: Int { firstToken + nll.count }

    /// The absolute token positions this series covers.
    public var tokenPositions: Range<Int> { firstToken..<endToken }

    /// The loss at an absolute token position (caller guarantees it is in `tokenPositions`).
    @inline(__always)
    func loss(at position: Int) -> Float { nll[position - firstToken] }

    /// Checks that the series has tokens and that `range` (default: everything) lies inside it.
    func validatedRange(_ range: Range<Int>?) throws(ReportError) -> Range<Int> {
        guard !nll.isEmpty else { throw .emptySeries(run: label) }
        let r = range ?? tokenPositions
        guard !r.isEmpty else { throw .emptyRange(r) }
        guard r.lowerBound >= firstToken, r.upperBound <= endToken else {
            throw .rangeOutsideRun(r, run: label, available: tokenPositions)
        }
        return r
    }
}
