import Kernels
import Streaming

/// Everything that determines a scoring run's results, stored with the run as JSON.
public struct ScoreConfiguration: RunConfiguration, Equatable {
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
    /// Recompute mode only: score every K-th token position (`t % K == 0`) and store NaN for the
    /// others, since each scored position costs a forward over the whole window (nil or 1: all).
    public var recomputeStride: Int?
    /// Keep the final checkpoint's K/V blocks when the run completes (nil: no; optional so
    /// that runs stored before it existed decode).
    public var keepCache: Bool?

    public var keepsCache: Bool { keepCache ?? false }

    public init(mode: AttentionMode, precision: Precision = .fast, chunk: Int = 256,
                checkpointEveryTokens: Int = 16_384, checkpointEverySeconds: Double = 30,
                bucket: Int = 1_024, replaceInvalid: Bool = false, tokenLimit: Int? = nil,
                recomputeStride: Int? = nil, keepCache: Bool = false) {
        self.mode = mode
        self.precision = precision
        self.chunk = chunk
        self.checkpointEveryTokens = checkpointEveryTokens
        self.checkpointEverySeconds = checkpointEverySeconds
        self.bucket = bucket
        self.replaceInvalid = replaceInvalid
        self.tokenLimit = tokenLimit
        self.recomputeStride = recomputeStride
        self.keepCache = keepCache ? true : nil
    }

    /// The positions scored: every `sampleStride`-th (1 unless a recompute run is sampled).
    public var sampleStride: Int {
        guard case .recompute = mode, let k = recomputeStride, k > 1 else { return 1 }
        return k
    }
}
