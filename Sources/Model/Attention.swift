import CKernels
import Kernels

/// Scaled dot-product attention of one query token over the cached keys one KV head serves.
///
/// Keys are read in slot segments (the sinks, then the recent tokens, split where the ring wraps);
/// scores come from the transposed key layout, eight slots per vector FMA, and the weighted sum
/// of values keeps its accumulators in registers. Keys are visited in a fixed order (sinks, then
/// recent tokens oldest first), so the result does not depend on threads or on chunking.
enum Attention {
    /// A run of consecutive slots scored with one of the two query rotations.
    struct Segment {
        var slot: Int
        var count: Int
        var sink: Bool
    }

    /// - Parameters:
    ///   - qRecent: `group` query heads rotated at the token's absolute index.
    ///   - qSink: the same heads rotated at `view.sinkPosition` (used for sink keys).
    ///   - scores: scratch of at least `group × (visible keys + 8)` floats.
    ///   - out: `group` head outputs.
    @inline(__always)
    static func attend(
        qRecent: UnsafePointer<Float>, qSink: UnsafePointer<Float>, group: Int, token: Int, view: QueryView,
        storage: KVStorage, layer: Int, kvHead: Int, scale: Float, scores: UnsafeMutablePointer<Float>,
        out: UnsafeMutablePointer<Float>
    ) {
        let d = storage.headDimension, stride = storage.slotStride
        let base = storage.base(layer: layer, head: kvHead)
        let keys = storage.keys + base, values = storage.values + base
        let (segments, n) = visibleSegments(token: token, view: view, storage: storage)
        let rowStride = n + 8

        for h in 0..<group {
            let row = scores + h * rowStride
            var at = 0
            for segment in [segments.0, segments.1, segments.2] where segment.count > 0 {
                let q = (segment.sink ? qSink : qRecent) + h * d
                score(q: q, keys: keys + segment.slot, stride: stride, count: segment.count, dimension: d,
                      scale: scale, into: row + at)
                at += segment.count
            }
            softmax(row, count: n)
            var o = out + h * d
            at = 0
            o.update(repeating: 0, count: d)
            for segment in [segments.0, segments.1, segments.2] where segment.count > 0 {
                accumulate(weights: row + at, values: values + segment.slot * d, count: segment.count, dimension: d, into: o)
                at += segment.count
            }
            o = out
        }
    }

    /// The slots `token` sees, in visiting order: sinks, recent up to the ring's end, recent from
    /// the ring's start (empty segments have `count == 0`), and their total.
    @inline(__always)
    static func visibleSegments(token: Int, view: QueryView, storage: KVStorage) -> ((Segment, Segment, Segment), Int) {
        var segments = (Segment(slot: 0, count: view.sinkCount, sink: true),
                        Segment(slot: 0, count: 0, sink: false), Segment(slot: 0, count: 0, sink: false))
        let recentCount = max(0, token - view.recentFirst + 1)
        if recentCount > 0 {
            let first = storage.slot(view.recentFirst)
            let untilEnd = storage.slotCount - first
            segments.1 = Segment(slot: first, count: min(recentCount, untilEnd), sink: false)
            if recentCount > untilEnd {
                segments.2 = Segment(slot: storage.sinkCapacity, count: recentCount - untilEnd, sink: false)
            }
        }
        return (segments, view.sinkCount + recentCount)
    }

    /// Keys per part when a query's attention on the half cache is split (flash-decoding): a
    /// query that sees more keys is computed as partial attentions over consecutive runs of this
    /// many keys, merged in order by `ss_attn_merge`. A token's split depends only on how many
    /// keys it sees, so its bits are the same in a chunk, alone, or with any thread count; decode
    /// runs the parts in parallel, so each KV head's keys are read once per token instead of once
    /// per query head.
    static let partSlots = 256

    /// Parts of a query that sees `visible` keys.
    @inline(__always)
    static func parts(_ visible: Int) -> Int { max(1, (visible + partSlots - 1) / partSlots) }

    /// (token, KV head) pairs whose parts a decode step may run in parallel at once.
    static func splitUnits(threads: Int) -> Int { 4 * threads }

    typealias HalfSegments = (ss_attn_segment, ss_attn_segment, ss_attn_segment)

    /// The visible slots of `token` as kernel segments, and their total.
    @inline(__always)
    static func halfSegments(token: Int, view: QueryView, storage: KVStorage) -> (HalfSegments, Int) {
        let (s, n) = visibleSegments(token: token, view: view, storage: storage)
        return ((ss_attn_segment(slot: Int64(s.0.slot), count: Int64(s.0.count), sink: 1),
                 ss_attn_segment(slot: Int64(s.1.slot), count: Int64(s.1.count), sink: 0),
                 ss_attn_segment(slot: Int64(s.2.slot), count: Int64(s.2.count), sink: 0)), n)
    }

    /// The segments of part `part`: visiting positions `part·partSlots ..<` the next part's.
    @inline(__always)
    static func partSegments(_ all: HalfSegments, part: Int) -> HalfSegments {
        let lo = Int64(part * partSlots), hi = lo + Int64(partSlots)
        var start: Int64 = 0
        func clip(_ s: ss_attn_segment) -> ss_attn_segment {
            defer { start += s.count }
            let a = max(lo, start), b = min(hi, start + s.count)
            if b <= a { return ss_attn_segment(slot: s.slot, count: 0, sink: s.sink) }
            return ss_attn_segment(slot: s.slot + (a - start), count: b - a, sink: s.sink)
        }
        let first = clip(all.0), second = clip(all.1), third = clip(all.2)
        return (first, second, third)
    }

    /// ``attend(qRecent:qSink:group:token:view:storage:layer:kvHead:scores:out:)`` for a half
    /// cache over `segments`, in the C kernel (the heads of a group scored together). Each head's
    /// result is the same whatever `group` is, so a group may also be split into single heads.
    /// With `stats`, writes a partial for `ss_attn_merge` (unnormalised `out`, (max, sum) pairs).
    @inline(__always)
    static func attendHalf(
        qRecent: UnsafePointer<Float>, qSink: UnsafePointer<Float>, group: Int, segments: HalfSegments,
        storage: KVStorage, layer: Int, kvHead: Int, scale: Float, scores: UnsafeMutablePointer<Float>,
        out: UnsafeMutablePointer<Float>, stats: UnsafeMutablePointer<Float>? = nil
    ) {
        let d = storage.headDimension
        let base = storage.base(layer: layer, head: kvHead)
        withUnsafePointer(to: segments) { tuple in
            tuple.withMemoryRebound(to: ss_attn_segment.self, capacity: 3) { list in
                ss_attend_f16(storage.kernelISA, qRecent, qSink, Int64(group), Int64(d), storage.halfKeys + base,
                              storage.halfValues + base, Int64(storage.slotStride), list, 3,
                              scale, scores, out, stats)
            }
        }
    }

    /// Tokens per tile of ``attendHalfTile``.
    static let tileTokens = Int(SS_ATTN_TILE_TOKENS)

    /// The chunk's tokens in tiles of up to ``tileTokens`` consecutive ones with the same sinks
    /// and the same first recent token: their visible keys are nested prefixes of one visiting
    /// order (token i sees one more than token i − 1).
    static func tiles(views: [QueryView], first: Int) -> [Range<Int>] {
        var tiles: [Range<Int>] = []
        tiles.reserveCapacity(views.count / tileTokens + 1)
        var start = 0
        for i in 1...views.count {
            if i == views.count || i - start == tileTokens || views[i].sinkCount != views[start].sinkCount
                || views[i].recentFirst != views[start].recentFirst || views[i].recentFirst > first + start {
                tiles.append(start..<i)
                start = i
            }
        }
        return tiles
    }

    /// Attention of a tile's tokens (see ``tiles(views:first:)``) for one KV head over a half
    /// cache, each token's result the same bits as alone: a token that sees more than
    /// ``partSlots`` keys is computed in parts, written to `parts` (`partsPerToken` parts of
    /// `partFloats` floats per token of the tile) and merged. `segments` and `visible` are the
    /// tile's last token's; `queries(i)` gives token i's two query rotations and its output.
    @inline(__always)
    static func attendHalfTile(
        tile: Range<Int>, first: Int, views: [QueryView], segments: HalfSegments, visible: Int,
        queries: (Int) -> (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>),
        group: Int, storage: KVStorage, layer: Int, kvHead: Int, scale: Float, scores: UnsafeMutablePointer<Float>,
        parts buffer: UnsafeMutablePointer<Float>, partsPerToken: Int, partFloats: Int
    ) {
        let d = storage.headDimension, base = storage.base(layer: layer, head: kvHead)
        let tokens = tile.count, last = tile.upperBound - 1
        withUnsafeTemporaryAllocation(of: Int64.self, capacity: 2 * tileTokens) { ints in
            withUnsafeTemporaryAllocation(of: UnsafePointer<Float>?.self, capacity: 2 * tileTokens) { qs in
                withUnsafeTemporaryAllocation(of: UnsafeMutablePointer<Float>?.self, capacity: 3 * tileTokens) { outs in
                    let counts = ints.baseAddress!, seen = counts + tileTokens
                    let recent = qs.baseAddress!, sink = recent + tileTokens
                    let out = outs.baseAddress!, stats = out + tileTokens, final = stats + tileTokens
                    for (t, i) in tile.enumerated() {
                        let (q, qSink, o) = queries(i)
                        recent[t] = UnsafePointer(q)
                        sink[t] = UnsafePointer(qSink)
                        final[t] = o
                        seen[t] = Int64(visible - (last - i))
                    }
                    for p in 0..<Self.parts(visible) {
                        for t in 0..<tokens {
                            let split = Self.parts(Int(seen[t])) > 1
                            counts[t] = min(max(0, seen[t] - Int64(p * partSlots)), Int64(partSlots))
                            let part = buffer + (t * partsPerToken + p) * partFloats
                            out[t] = split ? part : final[t]
                            stats[t] = split ? part + group * d : nil
                        }
                        withUnsafePointer(to: Self.partSegments(segments, part: p)) { tuple in
                            tuple.withMemoryRebound(to: ss_attn_segment.self, capacity: 3) { list in
                                ss_attend_f16_tile(storage.kernelISA, Int64(tokens), recent, sink, Int64(group), Int64(d),
                                                   storage.halfKeys + base, storage.halfValues + base,
                                                   Int64(storage.slotStride), list, 3, counts, scale, scores, out, stats)
                            }
                        }
                    }
                    for t in 0..<tokens where Self.parts(Int(seen[t])) > 1 {
                        ss_attn_merge(Int64(group), Int64(d), Int64(Self.parts(Int(seen[t]))),
                                      buffer + t * partsPerToken * partFloats, final[t]!)
                    }
                }
            }
        }
    }

    /// `out[k] = scale · q · key[k]` for `count` consecutive slots of a transposed key block.
    /// Writes whole 8-slot vectors (up to 7 floats past `count`).
    @inline(__always)
    static func score(
        q: UnsafePointer<Float>, keys: UnsafePointer<Float>, stride: Int, count: Int, dimension d: Int,
        scale: Float, into out: UnsafeMutablePointer<Float>
    ) {
        var k = 0
        while k + 32 <= count {
            var a0 = SIMD8<Float>(repeating: 0), a1 = a0, a2 = a0, a3 = a0
            var row = keys + k
            for i in 0..<d {
                let qi = SIMD8<Float>(repeating: q[i])
                a0.addProduct(qi, VectorMath.load(row))
                a1.addProduct(qi, VectorMath.load(row + 8))
                a2.addProduct(qi, VectorMath.load(row + 16))
                a3.addProduct(qi, VectorMath.load(row + 24))
                row += stride
            }
            VectorMath.store(a0 * scale, to: out + k)
            VectorMath.store(a1 * scale, to: out + k + 8)
            VectorMath.store(a2 * scale, to: out + k + 16)
            VectorMath.store(a3 * scale, to: out + k + 24)
            k += 32
        }
        while k < count {
            var a0 = SIMD8<Float>(repeating: 0)
            var row = keys + k
            for i in 0..<d {
                a0.addProduct(SIMD8<Float>(repeating: q[i]), VectorMath.load(row))
                row += stride
            }
            VectorMath.store(a0 * scale, to: out + k)
            k += 8
        }
    }

    /// In-place softmax of `count` scores (fixed reduction order).
    @inline(__always)
    static func softmax(_ row: UnsafeMutablePointer<Float>, count n: Int) {
        var maxScore = -Float.infinity
        for k in 0..<n { maxScore = max(maxScore, row[k]) }
        var acc = SIMD8<Float>(repeating: 0)
        var k = 0
        while k + 8 <= n {
            let e = VectorMath.exp(VectorMath.load(row + k) - maxScore)
            VectorMath.store(e, to: row + k)
            acc += e
            k += 8
        }
        var sum = acc.sum()
        while k < n {
            let e = VectorMath.exp(SIMD8<Float>(repeating: row[k] - maxScore))[0]
            row[k] = e
            sum += e
            k += 1
        }
        let inverse = 1 / sum
        k = 0
        while k + 8 <= n {
            VectorMath.store(VectorMath.load(row + k) * inverse, to: row + k)
            k += 8
        }
        while k < n { row[k] *= inverse; k += 1 }
    }

    /// `out += Σ_k weights[k] · values[k]` over `count` value rows.
    @inline(__always)
    static func accumulate(
        weights: UnsafePointer<Float>, values: UnsafePointer<Float>, count: Int, dimension d: Int,
        into out: UnsafeMutablePointer<Float>
    ) {
        if d == 64 {
            var o0 = VectorMath.load(out), o1 = VectorMath.load(out + 8), o2 = VectorMath.load(out + 16), o3 = VectorMath.load(out + 24)
            var o4 = VectorMath.load(out + 32), o5 = VectorMath.load(out + 40), o6 = VectorMath.load(out + 48), o7 = VectorMath.load(out + 56)
            var v = values
            for k in 0..<count {
                let p = SIMD8<Float>(repeating: weights[k])
                o0.addProduct(p, VectorMath.load(v)); o1.addProduct(p, VectorMath.load(v + 8))
                o2.addProduct(p, VectorMath.load(v + 16)); o3.addProduct(p, VectorMath.load(v + 24))
                o4.addProduct(p, VectorMath.load(v + 32)); o5.addProduct(p, VectorMath.load(v + 40))
                o6.addProduct(p, VectorMath.load(v + 48)); o7.addProduct(p, VectorMath.load(v + 56))
                v += 64
            }
            VectorMath.store(o0, to: out); VectorMath.store(o1, to: out + 8)
            VectorMath.store(o2, to: out + 16); VectorMath.store(o3, to: out + 24)
            VectorMath.store(o4, to: out + 32); VectorMath.store(o5, to: out + 40)
            VectorMath.store(o6, to: out + 48); VectorMath.store(o7, to: out + 56)
            return
        }
        for k in 0..<count {
            let p = weights[k], v = values + k * d
            var i = 0
            while i + 8 <= d {
                var o = VectorMath.load(out + i)
                o.addProduct(SIMD8<Float>(repeating: p), VectorMath.load(v + i))
                VectorMath.store(o, to: out + i)
                i += 8
            }
            while i < d { out[i] += p * v[i]; i += 1 }
        }
    }
}
