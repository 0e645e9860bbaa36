import CKernels
import Kernels

/// What a forward pass should produce besides filling the cache.
public enum ForwardOutput {
    /// Nothing: the tokens only extend the cache (e.g. a prompt).
    case none
    /// `nll[i] = −ln p(targets[i] | token i and what it attends to)`; a negative target skips.
    case losses(targets: [Int32])
    /// The full logits of the last token of the chunk (for generation).
    case lastLogits
}

/// The result of a forward pass.
public struct ForwardResult: Sendable {
    /// Per-token losses (`.losses`), `nan` where the target was skipped.
    public var losses: [Float] = []
    /// Logits of the last token (`.lastLogits`).
    public var logits: [Float] = []

    public init(losses: [Float] = [], logits: [Float] = []) {
        self.losses = losses
        self.logits = logits
    }
}

/// Runs the forward pass a ``ModelConfig`` describes over chunks of tokens against a
/// ``LayeredKVStorage``.
///
/// One engine serves one stream at a time; it owns the scratch buffers for chunks of up to
/// `maxChunk` tokens and a thread pool. Scoring and generation both call ``forward``. The
/// engine executes the description (optional biases and norms, RoPE pairing and bases per
/// layer, activation, sliding-window layers) and never asks which architecture it runs.
public final class InferenceEngine {
    public let model: LanguageModel
    public let pool: ThreadPool
    public let maxChunk: Int
    public let precision: Precision
    /// One rotation per distinct RoPE base; `layerRope[l]` indexes layer `l`'s.
    let ropes: [Rope]
    let layerRope: [Int]
    /// Whether some global layer uses rotation `r` (sink-rotated queries are only needed there).
    let ropeHasGlobalLayer: [Bool]
    let c: ModelConfig
    private let workspace: Workspace
    /// The instruction set of the fused loss's reductions, fixed for the engine's life (as a
    /// cache's attention ISA is), so a stream's losses never change bits midway.
    private let lossISA: Int32 = ss_isa()

    /// Output rows handled per block in the fused loss (fixed, so reductions do not depend on
    /// the thread count).
    static let vocabularyBlock = 1024

    /// The KV element type this engine's caches should use: halves on the fast path (half the
    /// bandwidth at long context), floats on the f32 verification path.
    public var kvElement: KVElement { KVElement(for: precision) }

    /// - Parameters:
    ///   - threads: threads for every parallel step (the caller's included).
    ///   - maxChunk: the most tokens one ``forward`` call may process.
    ///   - maxContext: the most keys one query of a global layer may attend to (sinks + recent).
    ///   - reclaim: when a decode step re-runs work a descheduled thread holds (see ThreadPool).
    public init(model: LanguageModel, threads: Int, maxChunk: Int, maxContext: Int,
                reclaim: ThreadPool.Reclaim = ThreadPool.defaultReclaim) {
        self.model = model
        self.precision = model.precision
        let pool = ThreadPool(threadCount: threads, reclaim: reclaim)
        self.pool = pool
        self.maxChunk = max(1, maxChunk)
        let c = model.config
        self.c = c
        var bases: [Double] = [], layerRope: [Int] = []
        for layer in c.layers {
            if let i = bases.firstIndex(of: layer.ropeBase) { layerRope.append(i) }
            else { layerRope.append(bases.count); bases.append(layer.ropeBase) }
        }
        self.ropes = bases.map { Rope(headDimension: c.headDimension, base: $0, style: c.ropeStyle) }
        self.layerRope = layerRope
        self.ropeHasGlobalLayer = bases.indices.map { r in
            c.layers.indices.contains { layerRope[$0] == r && c.layers[$0].attention == .global }
        }
        let chunk = max(1, maxChunk)
        self.workspace = Workspace(config: c, maxChunk: chunk, maxContext: max(maxContext, c.slidingWindow ?? 0),
                                   threads: pool.threadCount, vocabularyBlock: Self.vocabularyBlock,
                                   ropeTables: bases.count)
    }

    // Late speculative items (see ThreadPool) read the workspace and weights through raw pointers.
    deinit { pool.quiesce() }

    /// Bytes of scratch memory an engine with these sizes allocates.
    public static func workspaceBytes(config: ModelConfig, threads: Int, maxChunk: Int, maxContext: Int) -> Int {
        Workspace.byteCount(config: config, maxChunk: maxChunk, maxContext: max(maxContext, config.slidingWindow ?? 0),
                            threads: threads, vocabularyBlock: vocabularyBlock)
    }

    /// K/V storage for this engine's model: global layers shaped `sinkCapacity + ringCapacity`
    /// (the attention mode's cache), sliding layers their own window plus a chunk; `reserve`
    /// more slots in every ring keep the rows of `reserve` further tokens from overwriting the
    /// rows of tokens the cache has evicted meanwhile (a branch of the stream that is rewound).
    public func makeStorage(sinkCapacity: Int, ringCapacity: Int, reserve: Int = 0) -> LayeredKVStorage {
        LayeredKVStorage(config: c, sinkCapacity: sinkCapacity, ringCapacity: ringCapacity + reserve, maxChunk: maxChunk + reserve,
                         element: kvElement)
    }

    /// Processes tokens `first ..< first + tokens.count` of a stream.
    ///
    /// Each token's keys and values are written to `storage`; in global layers token
    /// `first + i` then attends as `views[i]` says, in sliding layers to the model's window of
    /// recent tokens. Token-by-token calls and one chunked call give the same numbers.
    public func forward(
        tokens: [Int32], first: Int, views: [QueryView], storage: LayeredKVStorage, output: ForwardOutput
    ) -> ForwardResult {
        let n = tokens.count
        precondition(n > 0 && n <= maxChunk && views.count == n, "forward: chunk of \(n) tokens, views \(views.count), limit \(maxChunk)")
        let w = workspace, e = c.embeddingLength, f = c.feedForwardLength
        let d = c.headDimension, qw = c.queryWidth
        let fast = precision == .fast
        let slidingViews = c.slidingWindow.map { window in
            (0..<n).map { i in QueryView(sinkCount: 0, recentFirst: max(0, first + i - window + 1), sinkPosition: first + i) }
        }

        // Embeddings and RoPE tables for this chunk.
        for i in 0..<n {
            model.weights.tokenEmbedding.dequantizeRow(Int(tokens[i]), into: w.x + i * e)
            if let scale = c.embeddingScale { VectorMath.scale(w.x + i * e, by: scale, count: e) }
            for (r, rope) in ropes.enumerated() {
                rope.table(position: first + i, into: w.ropeRecent + r * w.ropeTableFloats + i * d)
                if ropeHasGlobalLayer[r] {
                    rope.table(position: views[i].sinkPosition, into: w.ropeSink + r * w.ropeTableFloats + i * d)
                }
            }
        }

        for (layerIndex, layer) in model.weights.layers.enumerated() {
            let (layerStorage, groupLayer) = storage.storage(layer: layerIndex)
            let layerViews: [QueryView]
            if case .sliding = c.layers[layerIndex].attention, let slidingViews { layerViews = slidingViews } else { layerViews = views }
            let r = layerRope[layerIndex]
            let rotation = RopeTables(rope: ropes[r], recent: w.ropeRecent + r * w.ropeTableFloats,
                                      sink: w.ropeSink + r * w.ropeTableFloats)

            // Attention block.
            for i in 0..<n {
                VectorMath.rmsNorm(w.x + i * e, weight: layer.attentionNorm, count: e, eps: c.rmsEpsilon, into: w.h + i * e)
            }
            if fast { Matmul.quantize(w.h, tokens: n, cols: e, into: w.hq, pool: pool) }
            Matmul.run([.init(layer.query, w.q), .init(layer.key, w.k), .init(layer.value, w.v)],
                       x: w.h, q: fast ? UnsafeRawPointer(w.hq) : nil, tokens: n, pool: pool)
            if let bq = layer.queryBias, let bk = layer.keyBias, let bv = layer.valueBias {
                for i in 0..<n {
                    VectorMath.add(bq, into: w.q + i * qw, count: qw)
                    VectorMath.add(bk, into: w.k + i * c.kvWidth, count: c.kvWidth)
                    VectorMath.add(bv, into: w.v + i * c.kvWidth, count: c.kvWidth)
                }
            }
            if let qn = layer.queryNorm, let kn = layer.keyNorm {
                for head in 0..<(n * c.headCount) {
                    VectorMath.rmsNorm(w.q + head * d, weight: qn, count: d, eps: c.rmsEpsilon, into: w.q + head * d)
                }
                for head in 0..<(n * c.kvHeadCount) {
                    VectorMath.rmsNorm(w.k + head * d, weight: kn, count: d, eps: c.rmsEpsilon, into: w.k + head * d)
                }
            }
            storeKeysValues(n: n, first: first, storage: layerStorage, layer: groupLayer, rotation: rotation)
            attention(n: n, first: first, views: layerViews, storage: layerStorage, layer: groupLayer, rotation: rotation)
            if fast { Matmul.quantize(w.attn, tokens: n, cols: qw, into: w.hq, pool: pool) }
            Matmul.run([.init(layer.output, w.h)], x: w.attn, q: fast ? UnsafeRawPointer(w.hq) : nil, tokens: n, pool: pool)
            if let post = layer.postAttentionNorm {
                for i in 0..<n { VectorMath.rmsNorm(w.h + i * e, weight: post, count: e, eps: c.rmsEpsilon, into: w.h + i * e) }
            }
            VectorMath.add(w.h, into: w.x, count: n * e)

            // Feed-forward block.
            for i in 0..<n {
                VectorMath.rmsNorm(w.x + i * e, weight: layer.ffnNorm, count: e, eps: c.rmsEpsilon, into: w.h + i * e)
            }
            if fast { Matmul.quantize(w.h, tokens: n, cols: e, into: w.hq, pool: pool) }
            Matmul.run([.init(layer.gate, w.gate), .init(layer.up, w.up)],
                       x: w.h, q: fast ? UnsafeRawPointer(w.hq) : nil, tokens: n, pool: pool)
            switch c.activation {
            case .silu: VectorMath.swiGLU(gate: w.gate, up: w.up, count: n * f)
            case .geluTanh: VectorMath.geluTanhGLU(gate: w.gate, up: w.up, count: n * f)
            }
            if fast { Matmul.quantize(w.gate, tokens: n, cols: f, into: w.fq, pool: pool) }
            Matmul.run([.init(layer.down, w.h)], x: w.gate, q: fast ? UnsafeRawPointer(w.fq) : nil, tokens: n, pool: pool)
            if let post = layer.postFFNNorm {
                for i in 0..<n { VectorMath.rmsNorm(w.h + i * e, weight: post, count: e, eps: c.rmsEpsilon, into: w.h + i * e) }
            }
            VectorMath.add(w.h, into: w.x, count: n * e)
        }

        switch output {
        case .none:
            return ForwardResult()
        case .losses(let targets):
            precondition(targets.count == n)
            return ForwardResult(losses: fusedLosses(n: n, targets: targets))
        case .lastLogits:
            return ForwardResult(logits: lastLogits(n: n))
        }
    }

    /// One layer's rotation and the chunk's tables for it (at the absolute index, at the sink position).
    struct RopeTables {
        let rope: Rope
        let recent: UnsafeMutablePointer<Float>
        let sink: UnsafeMutablePointer<Float>
    }

    /// Rotates the chunk's keys at their absolute index and writes K and V into the storage.
    private func storeKeysValues(n: Int, first: Int, storage: KVStorage, layer: Int, rotation: RopeTables) {
        let w = workspace, kv = c.kvWidth, d = c.headDimension
        for i in 0..<n {
            let k = w.k + i * kv, v = w.v + i * kv
            rotation.rope.apply(k, heads: c.kvHeadCount, table: rotation.recent + i * d)
            let slot = storage.slot(first + i)
            for head in 0..<c.kvHeadCount {
                storage.store(layer: layer, head: head, slot: slot, key: k + head * d, value: v + head * d)
            }
        }
    }

    /// Attention for every (token, KV head) of the chunk, split statically over the threads.
    private func attention(n: Int, first: Int, views: [QueryView], storage: KVStorage, layer: Int, rotation: RopeTables) {
        let w = workspace, qw = c.queryWidth, d = c.headDimension, scale = c.queryScale
        let group = c.headCount / c.kvHeadCount
        // Queries rotated twice: at the absolute index (recent keys) and at the slot (sinks).
        for i in 0..<n {
            let q = w.q + i * qw, qs = w.qSink + i * qw
            let needsSink = views[i].sinkCount > 0 && views[i].sinkPosition != first + i
            if needsSink { qs.update(from: q, count: qw) }
            rotation.rope.apply(q, heads: c.headCount, table: rotation.recent + i * d)
            if needsSink { rotation.rope.apply(qs, heads: c.headCount, table: rotation.sink + i * d) }
        }
        if storage.element == .float16 {
            attentionHalf(n: n, first: first, views: views, storage: storage, layer: layer)
            return
        }
        pool.parallel(items: n * c.kvHeadCount) { unit, thread in
            let scores = w.scores + thread * w.scoresPerThread
            let i = unit / c.kvHeadCount, g = unit % c.kvHeadCount
            let view = views[i]
            let needsSink = view.sinkCount > 0 && view.sinkPosition != first + i
            let offset = i * qw + g * group * d
            Attention.attend(
                qRecent: w.q + offset, qSink: needsSink ? w.qSink + offset : w.q + offset, group: group,
                token: first + i, view: view, storage: storage, layer: layer, kvHead: g, scale: scale, scores: scores,
                out: w.attn + offset)
        }
    }

    /// Attention over a half cache (the fast path), queries already rotated.
    ///
    /// A query that sees more than ``Attention/partSlots`` keys is computed in parts and merged
    /// (the same arithmetic however the work is spread). Chunks with enough (token, KV head)
    /// pairs for every thread run one pair per item, parts in sequence; small chunks (decode)
    /// run every part, or for a one-part query every head, as its own item, so two threads share
    /// even a single token's attention.
    private func attentionHalf(n: Int, first: Int, views: [QueryView], storage: KVStorage, layer: Int) {
        let w = workspace, qw = c.queryWidth, d = c.headDimension, scale = c.queryScale
        let group = c.headCount / c.kvHeadCount, kvHeads = c.kvHeadCount
        let partFloats = w.attnPartFloats, perQuery = w.attnPartsPerQuery
        @inline(__always) func queries(_ i: Int, _ g: Int, head: Int = 0) -> (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, Int) {
            let view = views[i]
            let needsSink = view.sinkCount > 0 && view.sinkPosition != first + i
            let offset = i * qw + (g * group + head) * d
            return (w.q + offset, needsSink ? w.qSink + offset : w.q + offset, offset)
        }
        if n * kvHeads >= Attention.splitUnits(threads: pool.threadCount) {
            // Tiles of consecutive tokens that see nested prefixes of the same keys: each key block
            // is converted once for all their heads (see ss_attend_f16_tile); parts in sequence.
            let tiles = Attention.tiles(views: views, first: first)
            pool.parallel(items: tiles.count * kvHeads) { unit, thread in
                let tile = tiles[unit / kvHeads], g = unit % kvHeads
                let last = tile.upperBound - 1
                let (segments, visible) = Attention.halfSegments(token: first + last, view: views[last], storage: storage)
                let scores = w.scores + thread * w.scoresPerThread
                let buffer = w.attnParts + thread * Attention.tileTokens * perQuery * partFloats
                Attention.attendHalfTile(
                    tile: tile, first: first, views: views, segments: segments, visible: visible, queries: { i in
                        let (q, qSink, offset) = queries(i, g)
                        return (q, qSink, w.attn + offset)
                    }, group: group, storage: storage, layer: layer, kvHead: g, scale: scale, scores: scores,
                    parts: buffer, partsPerToken: perQuery, partFloats: partFloats)
            }
            return
        }
        // Decode: one item per part (or per head of a one-part query).
        let pairs = (0..<(n * kvHeads)).map { pair in
            let (segments, visible) = Attention.halfSegments(token: first + pair / kvHeads, view: views[pair / kvHeads],
                                                             storage: storage)
            return (segments: segments, parts: Attention.parts(visible))
        }
        var items: [(pair: Int, part: Int)] = []
        items.reserveCapacity(n * kvHeads * max(group, perQuery))
        for (pair, p) in pairs.enumerated() {
            for part in 0..<(p.parts == 1 ? group : p.parts) { items.append((pair, part)) }
        }
        // Speculative (see ThreadPool): each item computes into scratch and returns its place.
        pool.parallelSpeculative(items: items.count, itemFloats: max(d, partFloats)) { [items, pairs] item, thread, scratch in
            let (pair, p) = items[item]
            let (segments, parts) = pairs[pair]
            let i = pair / kvHeads, g = pair % kvHeads
            let scores = w.scores + thread * w.scoresPerThread
            if parts == 1 {
                let (q, qSink, offset) = queries(i, g, head: p)
                Attention.attendHalf(qRecent: q, qSink: qSink, group: 1, segments: segments, storage: storage,
                                     layer: layer, kvHead: g, scale: scale, scores: scores, out: scratch)
                return UnsafeMutableBufferPointer(start: w.attn + offset, count: d)
            }
            let (q, qSink, _) = queries(i, g)
            Attention.attendHalf(qRecent: q, qSink: qSink, group: group,
                                 segments: Attention.partSegments(segments, part: p), storage: storage,
                                 layer: layer, kvHead: g, scale: scale, scores: scores, out: scratch, stats: scratch + group * d)
            return UnsafeMutableBufferPointer(start: w.attnParts + (pair * perQuery + p) * partFloats, count: partFloats)
        }
        for (pair, p) in pairs.enumerated() where p.parts > 1 {
            ss_attn_merge(Int64(group), Int64(d), Int64(p.parts), w.attnParts + pair * perQuery * partFloats,
                          w.attn + queries(pair / kvHeads, pair % kvHeads).2)
        }
    }

    /// Final norm of the last token and its full logits.
    private func lastLogits(n: Int) -> [Float] {
        let w = workspace, e = c.embeddingLength
        VectorMath.rmsNorm(w.x + (n - 1) * e, weight: model.weights.outputNorm, count: e, eps: c.rmsEpsilon, into: w.h)
        if precision == .fast { Matmul.quantize(w.h, tokens: 1, cols: e, into: w.hq, pool: pool) }
        var logits = [Float](repeating: 0, count: c.vocabularySize)
        logits.withUnsafeMutableBufferPointer { buffer in
            Matmul.run([.init(model.weights.output, buffer.baseAddress!)], x: w.h,
                       q: precision == .fast ? UnsafeRawPointer(w.hq) : nil, tokens: 1, pool: pool)
            if let cap = c.logitSoftCap { VectorMath.softCap(buffer.baseAddress!, cap: cap, count: buffer.count) }
        }
        return logits
    }

    /// `logsumexp(logits) − logits[target]` per token without materialising all logits: the
    /// vocabulary is processed in fixed blocks whose partial (max, Σexp) are merged in order.
    private func fusedLosses(n chunk: Int, targets allTargets: [Int32]) -> [Float] {
        let w = workspace, e = c.embeddingLength
        // Only the tokens that have a target take part (compacted into the first rows).
        let vocab = c.vocabularySize
        let scored = (0..<chunk).filter { allTargets[$0] >= 0 && Int(allTargets[$0]) < vocab }
        let n = scored.count
        var losses = [Float](repeating: .nan, count: chunk)
        if n == 0 { return losses }
        let targets = scored.map { allTargets[$0] }
        for (row, i) in scored.enumerated() {
            VectorMath.rmsNorm(w.x + i * e, weight: model.weights.outputNorm, count: e, eps: c.rmsEpsilon, into: w.h + row * e)
        }
        let fast = precision == .fast
        if fast { Matmul.quantize(w.h, tokens: n, cols: e, into: w.hq, pool: pool) }
        let output = model.weights.output
        let block = Self.vocabularyBlock
        let blocks = (vocab + block - 1) / block
        let partialMax = w.partialMax, partialSum = w.partialSum, targetLogit = w.targetLogit
        let softCap = c.logitSoftCap, isa = lossISA
        targets.withUnsafeBufferPointer { targets in
            pool.parallel(items: blocks) { b, thread in
                let tile = w.tiles + thread * w.tileFloats
                do {
                    let rows = (b * block)..<min(vocab, (b + 1) * block)
                    output.multiply(x: w.h, q: fast ? UnsafeRawPointer(w.hq) : nil, tokens: n,
                                    rowRange: rows, out: tile - rows.lowerBound, ldo: block)
                    for i in 0..<n {
                        let row = tile + i * block
                        let count = rows.count
                        if let cap = softCap { VectorMath.softCap(row, cap: cap, count: count) }
                        let target = Int(targets[i])
                        if rows.contains(target) { targetLogit[i] = row[target - rows.lowerBound] }
                        // The block's (max, Σexp) in one vector pass; the row is scratch.
                        var m: Float = 0
                        partialSum[b * n + i] = ss_softmax_f32(isa, row, Int64(count), &m)
                        partialMax[b * n + i] = m
                    }
                }
            }
        }
        for i in 0..<n {
            var m = -Float.infinity
            for b in 0..<blocks { m = max(m, partialMax[b * n + i]) }
            var s: Float = 0
            for b in 0..<blocks {
                s += partialSum[b * n + i] * VectorMath.exp(SIMD8<Float>(repeating: partialMax[b * n + i] - m))[0]
            }
            losses[scored[i]] = (m + Float.log(s)) - targetLogit[i]
        }
        return losses
    }
}

#if canImport(Glibc)
import Glibc
extension Float {
    @inline(__always) static func log(_ x: Float) -> Float { logf(x) }
}
#endif
