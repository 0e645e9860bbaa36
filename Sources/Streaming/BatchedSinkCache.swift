import Model

/// StreamingLLM with batched eviction: when appending would exceed `sinks + window` slots, the
/// `evict` oldest non-sink entries leave at once, so the recent part holds `window − evict + 1`
/// to `window` tokens. With `evict == 1` this is ``SinkCache``.
public struct BatchedSinkCache: KVCache {
    public let sinks: Int
    public let window: Int
    public let evict: Int
    /// First recent token still cached.
    private var recentFirst: Int
    private var count = 0

    public init(sinks: Int, window: Int, evict: Int) {
        self.sinks = sinks
        self.window = max(1, window)
        self.evict = min(max(1, evict), self.window)
        self.recentFirst = sinks
    }

    public var sinkCount: Int { sinks }
    public func storageShape(maxChunk: Int) -> (sinks: Int, ring: Int) { (sinks, window + maxChunk) }

    public mutating func append(_ t: Int) throws(StreamingError) -> QueryView {
        count = t + 1
        if t < sinks { return QueryView(sinkCount: t + 1, recentFirst: t + 1, sinkPosition: t) }
        if t - recentFirst + 1 > window { recentFirst += evict }
        return QueryView(sinkCount: sinks, recentFirst: recentFirst, sinkPosition: sinks + (t - recentFirst))
    }

    public var liveRanges: [Range<Int>] {
        [0..<min(sinks, count), recentFirst..<max(recentFirst, count)].filter { !$0.isEmpty }
    }

    public var state: [Int] { [count, recentFirst] }
    public mutating func restore(_ state: [Int]) throws(StreamingError) {
        guard state.count == 2, state[0] >= 0, state[1] >= sinks else { throw .badState("sink_batch") }
        count = state[0]
        recentFirst = state[1]
    }
}
