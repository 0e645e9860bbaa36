import Model

/// StreamingLLM with token-by-token eviction: `sinks` first tokens plus the `window` most
/// recent (current included). `window(W)` is `SinkCache(sinks: 0, window: W)`.
public struct SinkCache: KVCache {
    public let sinks: Int
    public let window: Int
    private var count = 0

    public init(sinks: Int, window: Int) {
        self.sinks = sinks
        self.window = max(1, window)
    }

    public var sinkCount: Int { sinks }
    public func storageShape(maxChunk: Int) -> (sinks: Int, ring: Int) { (sinks, window + maxChunk) }

    public mutating func append(_ t: Int) throws(StreamingError) -> QueryView {
        count = t + 1
        if t < sinks { return QueryView(sinkCount: t + 1, recentFirst: t + 1, sinkPosition: t) }
        let first = max(sinks, t - window + 1)
        return QueryView(sinkCount: sinks, recentFirst: first, sinkPosition: sinks + (t - first))
    }

    public var liveRanges: [Range<Int>] {
        let first = max(sinks, count - window)
        return [0..<min(sinks, count), first..<max(first, count)].filter { !$0.isEmpty }
    }

    public var state: [Int] { [count] }
    public mutating func restore(_ state: [Int]) throws(StreamingError) {
        guard state.count == 1, state[0] >= 0 else { throw .badState("sink") }
        count = state[0]
    }
}
