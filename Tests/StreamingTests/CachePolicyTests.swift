import Model
import Streaming
import Testing

/// The cache policies against the table in docs/streaming.md, computed independently.
@Suite("Cache policies follow the streaming semantics")
struct CachePolicyTests {
    /// The set of tokens token t attends to under sink(S, W), straight from the definition.
    func sinkVisible(_ t: Int, s: Int, w: Int) -> [Int] {
        Array(0..<min(s, t + 1)) + (t >= s ? Array(max(s, t - w + 1)...t) : [])
    }

    func visible(_ v: QueryView, _ t: Int) -> [Int] {
        Array(0..<v.sinkCount) + (v.recentFirst <= t ? Array(v.recentFirst...t) : [])
    }

    @Test("sink(S, W) and window(W): visible tokens and slot positions", arguments: [(4, 10), (0, 7), (2, 1), (4, 252)])
    func sinkPolicy(_ s: Int, _ w: Int) throws {
        var cache = SinkCache(sinks: s, window: w)
        for t in 0..<400 {
            let v = try cache.append(t)
            #expect(visible(v, t) == sinkVisible(t, s: s, w: w))
            // The current token's slot index: sinks + kept recent tokens − 1.
            #expect(v.sinkPosition == sinkVisible(t, s: s, w: w).count - 1)
        }
    }

    @Test("sink_batch(S, W, E): E oldest evicted at once; recent part holds W−E+1 … W tokens")
    func batchedPolicy() throws {
        let s = 4, w = 20, e = 6
        var cache = BatchedSinkCache(sinks: s, window: w, evict: e)
        var recent: [Int] = []
        for t in 0..<300 {
            let v = try cache.append(t)
            if t >= s {
                recent.append(t)
                if recent.count > w { recent.removeFirst(e) }
                #expect(recent.count >= w - e + 1 || t < s + w)
                #expect(recent.count <= w)
            }
            let expected = Array(0..<min(s, t + 1)) + recent
            #expect(visible(v, t) == expected)
            #expect(v.sinkPosition == expected.count - 1)
        }
        var one = BatchedSinkCache(sinks: s, window: w, evict: 1)
        var sink = SinkCache(sinks: s, window: w)
        for t in 0..<100 { #expect(try one.append(t) == sink.append(t)) }
    }

    @Test("Live ranges are what a checkpoint must keep")
    func liveRanges() throws {
        var cache = SinkCache(sinks: 4, window: 10)
        for t in 0..<50 { _ = try cache.append(t) }
        #expect(cache.liveRanges == [0..<4, 40..<50])
    }
}
