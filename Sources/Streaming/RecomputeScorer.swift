import Model

/// The quality oracle `recompute(W)`: for every token a fresh forward over the last `W` tokens
/// (positions 0, 1, … within that window), no cache carried between tokens.
public final class RecomputeScorer {
    public let engine: InferenceEngine
    public let window: Int
    private let storage: LayeredKVStorage

    public init(engine: InferenceEngine, window: Int) {
        self.engine = engine
        self.window = max(1, window)
        storage = engine.makeStorage(sinkCapacity: 0, ringCapacity: self.window + engine.maxChunk)
    }

    /// The loss of predicting `tokens[t + 1]` for every `t` in `range` (absolute token indices).
    public func losses(tokens: [Int32], range: Range<Int>) -> [Float] {
        var out: [Float] = []
        out.reserveCapacity(range.count)
        for t in range {
            let start = max(0, t - window + 1)
            let windowTokens = Array(tokens[start...t])
            let target: Int32 = t + 1 < tokens.count ? tokens[t + 1] : -1
            var position = 0
            var loss = Float.nan
            while position < windowTokens.count {
                let end = min(windowTokens.count, position + engine.maxChunk)
                let chunk = Array(windowTokens[position..<end])
                let views = (position..<end).map { QueryView.dense($0) }
                var targets = [Int32](repeating: -1, count: chunk.count)
                if end == windowTokens.count { targets[targets.count - 1] = target }
                let r = engine.forward(tokens: chunk, first: position, views: views, storage: storage,
                                       output: end == windowTokens.count ? .losses(targets: targets) : .none)
                if end == windowTokens.count { loss = r.losses.last ?? .nan }
                position = end
            }
            out.append(loss)
        }
        return out
    }
}
