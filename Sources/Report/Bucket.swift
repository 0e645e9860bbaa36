/// Aggregated loss over one run of consecutive token positions.
public struct Bucket: Sendable, Codable, Equatable {
    /// First token position in the bucket.
    public var startToken: Int
    /// One past the last token position in the bucket.
    public var endToken: Int
    /// Number of scored tokens in the bucket (`endToken - startToken`).
    public var count: Int
    /// Mean negative log-likelihood (nats) over the bucket.
    public var meanNLL: Double
    /// `exp(meanNLL)`.
    public var ppl: Double
    /// `exp` of the mean NLL from the start of the range through `endToken`.
    public var cumulativePPL: Double

    /// Creates a bucket from its values.
    public init(startToken: Int, endToken: Int, count: Int, meanNLL: Double, ppl: Double, cumulativePPL: Double) {
        self.startToken = startToken
        self.endToken = endToken
        self.count = count
        self.meanNLL = meanNLL
        self.ppl = ppl
        self.cumulativePPL = cumulativePPL
    }

    enum CodingKeys: String, CodingKey {
        case startToken = "start_token"
        case endToken = "end_token"
        case count
        case meanNLL = "mean_nll"
        case ppl
        case cumulativePPL = "cumulative_ppl"
    }
}
