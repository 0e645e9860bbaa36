/// How the next token is chosen: greedy (temperature 0, the default) or sampled.
public struct SamplingConfiguration: Codable, Sendable, Equatable {
    /// 0: always the most likely token.
    public var temperature: Double
    /// Keep only the k most likely tokens (0: all).
    public var topK: Int
    /// Keep the smallest set of most likely tokens whose probability reaches p (1: all).
    public var topP: Double
    /// Seed of the generator (its state is checkpointed).
    public var seed: UInt64

    /// Creates a sampling configuration (greedy by default).
    public init(temperature: Double = 0, topK: Int = 0, topP: Double = 1, seed: UInt64 = 0) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.seed = seed
    }

    /// Whether this is plain greedy decoding.
    public var isGreedy: Bool { temperature <= 0 }
}
