/// Which tokens each token attends to (see docs/streaming.md for the exact table).
public enum AttentionMode: Sendable, Equatable, Codable, CustomStringConvertible {
    /// Everything before, absolute positions; limited to the model's context length.
    case dense
    /// StreamingLLM: `sinks` first tokens plus the `window` most recent, token-by-token eviction.
    case sink(sinks: Int, window: Int)
    /// `sink` with batched eviction: the `evict` oldest non-sink entries leave at once.
    case sinkBatch(sinks: Int, window: Int, evict: Int)
    /// The `window` most recent tokens only (`sink(0, window)`).
    case window(Int)
    /// A fresh forward over the last `window` tokens for every token (the quality oracle).
    case recompute(Int)

    /// The golden files' spelling: `dense`, `sink(4,252)`, `window(256)`, `sink_batch(4,252,64)`, `recompute(64)`.
    public var description: String {
        switch self {
        case .dense: "dense"
        case .sink(let s, let w): "sink(\(s),\(w))"
        case .sinkBatch(let s, let w, let e): "sink_batch(\(s),\(w),\(e))"
        case .window(let w): "window(\(w))"
        case .recompute(let w): "recompute(\(w))"
        }
    }

    /// Keys one query may see at most.
    public func maxVisible(contextLength: Int) -> Int {
        switch self {
        case .dense: contextLength
        case .sink(let s, let w), .sinkBatch(let s, let w, _): s + w
        case .window(let w), .recompute(let w): w
        }
    }

    /// K/V slots a stream in this mode allocates per layer: the cache's storage shape (sinks
    /// plus ring), or for `recompute` the window plus one chunk.
    public func storageSlots(contextLength: Int, maxChunk: Int) -> Int {
        guard let shape = makeCache(contextLength: contextLength)?.storageShape(maxChunk: maxChunk) else {
            return maxVisible(contextLength: contextLength) + maxChunk
        }
        return shape.sinks + shape.ring
    }

    /// A fresh cache for this mode (`nil` for `recompute`, which has none).
    public func makeCache(contextLength: Int) -> (any KVCache)? {
        switch self {
        case .dense: DenseCache(contextLength: contextLength)
        case .sink(let s, let w): SinkCache(sinks: s, window: w)
        case .window(let w): SinkCache(sinks: 0, window: w)
        case .sinkBatch(let s, let w, let e): e == 1 ? SinkCache(sinks: s, window: w) : BatchedSinkCache(sinks: s, window: w, evict: e)
        case .recompute: nil
        }
    }
}
