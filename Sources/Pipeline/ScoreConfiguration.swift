import Kernels
import Streaming

/// Everything that determines a scoring run's results, stored with the run as JSON.
public struct ScoreConfiguration: Codable, Sendable, Equatable {
    public var mode: AttentionMode
    public var precision: Precision
    /// Tokens per forward pass.
    public var chunk: Int
    /// Checkpoint after this many tokens (0: only by time and at the end).
    public var checkpointEveryTokens: Int
    /// Checkpoint after this many seconds (0: only by tokens and at the end).
    public var checkpointEverySeconds: Double
    /// Tokens per stored metric bucket.
    public var bucket: Int
    /// Replace ill-formed UTF-8 with U+FFFD instead of failing.
    public var replaceInvalid: Bool
    /// Stop after this many scored tokens (nil: the whole document).
    public var tokenLimit: Int?

    public init(mode: AttentionMode, precision: Precision = .fast, chunk: Int = 256,
                checkpointEveryTokens: Int = 16_384, checkpointEverySeconds: Double = 30,
                bucket: Int = 1_024, replaceInvalid: Bool = false, tokenLimit: Int? = nil) {
        self.mode = mode
        self.precision = precision
        self.chunk = chunk
        self.checkpointEveryTokens = checkpointEveryTokens
        self.checkpointEverySeconds = checkpointEverySeconds
        self.bucket = bucket
        self.replaceInvalid = replaceInvalid
        self.tokenLimit = tokenLimit
    }
}
