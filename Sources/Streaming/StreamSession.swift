import Model

/// One token stream through the model under one attention mode: the cache policy, its storage
/// and the engine. Scoring and generation both go through ``process(_:targets:logits:)``.
public final class StreamSession {
    public let engine: InferenceEngine
    public private(set) var cache: any KVCache
    public let storage: KVStorage
    /// Tokens processed so far (the next token's index).
    public private(set) var position = 0

    /// - Throws: ``StreamingError`` if the mode is `recompute` (it has no cache; use
    ///   ``RecomputeScorer``).
    public init(engine: InferenceEngine, mode: AttentionMode) throws {
        guard let cache = mode.makeCache(contextLength: engine.model.config.contextLength) else {
            throw StreamingError(code: "streaming.no-cache", message: "recompute mode has no cache; it is scored by RecomputeScorer.")
        }
        self.engine = engine
        self.cache = cache
        let shape = cache.storageShape(maxChunk: engine.maxChunk)
        let c = engine.model.config
        storage = KVStorage(layerCount: c.layerCount, kvHeadCount: c.kvHeadCount, headDimension: c.headDimension,
                            sinkCapacity: shape.sinks, ringCapacity: shape.ring,
                            element: engine.kvElement)
    }

    /// Puts the session back at a saved point: `position` tokens processed and the cache
    /// policy's bookkeeping from a checkpoint. The caller then restores the K/V rows of the live
    /// tokens with `storage.importToken`.
    public func restore(position: Int, cacheState: [Int]) throws {
        try cache.restore(cacheState)
        self.position = position
    }

    /// Feeds tokens (any number; split into engine-sized chunks).
    ///
    /// - Parameters:
    ///   - targets: when given (same count), the loss of predicting `targets[i]` after token i
    ///     is returned; a negative target is skipped (`nan`).
    ///   - logits: return the logits after the last token.
    public func process(_ tokens: [Int32], targets: [Int32]? = nil, logits: Bool = false) throws -> ForwardResult {
        var result = ForwardResult()
        var start = 0
        while start < tokens.count {
            let end = min(tokens.count, start + engine.maxChunk)
            var views: [QueryView] = []
            views.reserveCapacity(end - start)
            for i in start..<end { views.append(try cache.append(position + i - start)) }
            let chunk = Array(tokens[start..<end])
            let output: ForwardOutput
            if let targets { output = .losses(targets: Array(targets[start..<end])) }
            else if logits && end == tokens.count { output = .lastLogits }
            else { output = .none }
            let r = engine.forward(tokens: chunk, first: position, views: views, storage: storage, output: output)
            position += chunk.count
            result.losses += r.losses
            if !r.logits.isEmpty { result.logits = r.logits }
            start = end
        }
        return result
    }
}
