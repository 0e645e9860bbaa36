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

/// Runs the llama forward pass over chunks of tokens against a ``KVStorage``.
///
/// One engine serves one stream at a time; it owns the scratch buffers for chunks of up to
/// `maxChunk` tokens and a thread pool. Scoring and generation both call ``forward``.
public final class InferenceEngine {
    public let model: LlamaModel
    public let pool: ThreadPool
    public let maxChunk: Int
    public let precision: Precision
    let rope: Rope
    let c: LlamaConfig
    private let workspace: Workspace

    /// Output rows handled per block in the fused loss (fixed, so reductions do not depend on
    /// the thread count).
    static let vocabularyBlock = 1024

    /// The KV element type this engine's caches should use: halves on the fast path (half the
    /// bandwidth at long context), floats on the f32 verification path.
    public var kvElement: KVElement { precision == .fast ? .float16 : .float32 }

    /// - Parameters:
    ///   - threads: threads for every parallel step (the caller's included).
    ///   - maxChunk: the most tokens one ``forward`` call may process.
    ///   - maxContext: the most keys one query may attend to (sinks + recent).
    ///   - reclaim: when a decode step re-runs work a descheduled thread holds (see ThreadPool).
    public init(model: LlamaModel, threads: Int, maxChunk: Int, maxContext: Int,
                reclaim: ThreadPool.Reclaim = ThreadPool.defaultReclaim) {
        self.model = model
        self.precision = model.precision
        self.pool = ThreadPool(threadCount: threads, reclaim: reclaim)
        self.maxChunk = max(1, maxChunk)
        self.c = model.config
        self.rope = Rope(headDimension: c.headDimension, base: c.ropeFreqBase)
        self.workspace = Workspace(config: c, maxChunk: self.maxChunk, maxContext: maxContext,
                                   threads: pool.threadCount, vocabularyBlock: Self.vocabularyBlock)
    }

    // Late speculative items (see ThreadPool) read the workspace and weights through raw pointers.
    deinit { pool.quiesce() }

    /// Bytes of scratch memory an engine with these sizes allocates.
    public static func workspaceBytes(config: LlamaConfig, threads: Int, maxChunk: Int, maxContext: Int) -> Int {
        Workspace.byteCount(config: config, maxChunk: maxChunk, maxContext: maxContext, threads: threads,
                            vocabularyBlock: vocabularyBlock)
    }

    /// Processes tokens `first ..< first + tokens.count` of a stream.
    ///
    /// Each token's keys and values are written to `storage`; token `first + i` then attends
    /// as `views[i]` says. Token-by-token calls and one chunked call give the same numbers.
    public func forward(
        tokens: [Int32], first: Int, views: [QueryView], storage: KVStorage, output: ForwardOutput
    ) -> ForwardResult {
        let n = tokens.count
        precondition(n > 0 && n <= maxChunk && views.count == n, "forward: chunk of \(n) tokens, views \(views.count), limit \(maxChunk)")
        let w = workspace, e = c.embeddingLength, f = c.feedForwardLength
        let half = c.headDimension / 2
        let fast = precision == .fast

        // Embeddings and RoPE tables for this chunk.
        for i in 0..<n {
            model.weights.tokenEmbedding.dequantizeRow(Int(tokens[i]), into: w.x + i * e)
            rope.table(position: first + i, into: w.ropeRecent + i * 2 * half)
            rope.table(position: views[i].sinkPosition, into: w.ropeSink + i * 2 * half)
        }

        for (layerIndex, layer) in model.weights.layers.enumerated() {
            // Attention block.
            for i in 0..<n {
                VectorMath.rmsNorm(w.x + i * e, weight: layer.attentionNorm, count: e, eps: c.rmsEpsilon, into: w.h + i * e)
            }
            if fast { Matmul.quantize(w.h, tokens: n, cols: e, into: w.hq, pool: pool) }
            Matmul.run([.init(layer.query, w.q), .init(layer.key, w.k), .init(layer.value, w.v)],
                       x: w.h, q: fast ? UnsafeRawPointer(w.hq) : nil, tokens: n, pool: pool)
            storeKeysValues(n: n, first: first, views: views, storage: storage, layer: layerIndex)
            attention(n: n, first: first, views: views, storage: storage, layer: layerIndex)
            if fast { Matmul.quantize(w.attn, tokens: n, cols: e, into: w.hq, pool: pool) }
            Matmul.run([.init(layer.output, w.h)], x: w.attn, q: fast ? UnsafeRawPointer(w.hq) : nil, tokens: n, pool: pool)
            VectorMath.add(w.h, into: w.x, count: n * e)

            // Feed-forward block.
            for i in 0..<n {
                VectorMath.rmsNorm(w.x + i * e, weight: layer.ffnNorm, count: e, eps: c.rmsEpsilon, into: w.h + i * e)
            }
            if fast { Matmul.quantize(w.h, tokens: n, cols: e, into: w.hq, pool: pool) }
            Matmul.run([.init(layer.gate, w.gate), .init(layer.up, w.up)],
                       x: w.h, q: fast ? UnsafeRawPointer(w.hq) : nil, tokens: n, pool: pool)
            VectorMath.swiGLU(gate: w.gate, up: w.up, count: n * f)
            if fast { Matmul.quantize(w.gate, tokens: n, cols: f, into: w.fq, pool: pool) }
            Matmul.run([.init(layer.down, w.h)], x: w.gate, q: fast ? UnsafeRawPointer(w.fq) : nil, tokens: n, pool: pool)
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

    /// Rotates the chunk's keys at their absolute index and writes K and V into the storage.
    private func storeKeysValues(n: Int, first: Int, views: [QueryView], storage: KVStorage, layer: Int) {
        let w = workspace, kv = c.kvWidth, d = c.headDimension, half = d / 2
        for i in 0..<n {
            let k = w.k + i * kv, v = w.v + i * kv
            rope.apply(k, heads: c.kvHeadCount, table: w.ropeRecent + i * 2 * half)
            let slot = storage.slot(first + i)
            for head in 0..<c.kvHeadCount {
                storage.store(layer: layer, head: head, slot: slot, key: k + head * d, value: v + head * d)
            }
        }
    }

    /// Attention for every (token, KV head) of the chunk, split statically over the threads.
    private func attention(n: Int, first: Int, views: [QueryView], storage: KVStorage, layer: Int) {
        let w = workspace, e = c.embeddingLength, d = c.headDimension, half = d / 2
        let group = c.headCount / c.kvHeadCount
        // Queries rotated twice: at the absolute index (recent keys) and at the slot (sinks).
        for i in 0..<n {
            let q = w.q + i * e, qs = w.qSink + i * e
            let needsSink = views[i].sinkCount > 0 && views[i].sinkPosition != first + i
            if needsSink { qs.update(from: q, count: e) }
            rope.apply(q, heads: c.headCount, table: w.ropeRecent + i * 2 * half)
            if needsSink { rope.apply(qs, heads: c.headCount, table: w.ropeSink + i * 2 * half) }
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
            let offset = i * e + g * group * d
            Attention.attend(
                qRecent: w.q + offset, qSink: needsSink ? w.qSink + offset : w.q + offset, group: group,
                token: first + i, view: view, storage: storage, layer: layer, kvHead: g, scores: scores,
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
        let w = workspace, e = c.embeddingLength, d = c.headDimension
        let group = c.headCount / c.kvHeadCount, kvHeads = c.kvHeadCount
        let partFloats = w.attnPartFloats, perQuery = w.attnPartsPerQuery
        @inline(__always) func queries(_ i: Int, _ g: Int, head: Int = 0) -> (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, Int) {
            let view = views[i]
            let needsSink = view.sinkCount > 0 && view.sinkPosition != first + i
            let offset = i * e + (g * group + head) * d
            return (w.q + offset, needsSink ? w.qSink + offset : w.q + offset, offset)
        }
        if n * kvHeads >= Attention.splitUnits(threads: pool.threadCount) {
            pool.parallel(items: n * kvHeads) { unit, thread in
                let i = unit / kvHeads, g = unit % kvHeads
                let (q, qSink, offset) = queries(i, g)
                let (segments, visible) = Attention.halfSegments(token: first + i, view: views[i], storage: storage)
                let scores = w.scores + thread * w.scoresPerThread
                let parts = Attention.parts(visible)
                if parts == 1 {
                    Attention.attendHalf(qRecent: q, qSink: qSink, group: group, segments: segments, storage: storage,
                                         layer: layer, kvHead: g, scores: scores, out: w.attn + offset)
                    return
                }
                let buffer = w.attnParts + thread * perQuery * partFloats
                for p in 0..<parts {
                    let part = buffer + p * partFloats
                    Attention.attendHalf(qRecent: q, qSink: qSink, group: group,
                                         segments: Attention.partSegments(segments, part: p), storage: storage,
                                         layer: layer, kvHead: g, scores: scores, out: part, stats: part + group * d)
                }
                ss_attn_merge(Int64(group), Int64(d), Int64(parts), buffer, w.attn + offset)
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
                                     layer: layer, kvHead: g, scores: scores, out: scratch)
                return UnsafeMutableBufferPointer(start: w.attn + offset, count: d)
            }
            let (q, qSink, _) = queries(i, g)
            Attention.attendHalf(qRecent: q, qSink: qSink, group: group,
                                 segments: Attention.partSegments(segments, part: p), storage: storage,
                                 layer: layer, kvHead: g, scores: scores, out: scratch, stats: scratch + group * d)
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
                        var m = -Float.infinity
                        for r in 0..<count { m = max(m, row[r]) }
                        var acc = SIMD8<Float>(repeating: 0)
                        var r = 0
                        while r + 8 <= count {
                            acc += VectorMath.exp(VectorMath.load(row + r) - m)
                            r += 8
                        }
                        var s = acc.sum()
                        while r < count {
                            s += VectorMath.exp(SIMD8<Float>(repeating: row[r] - m))[0]
                            r += 1
                        }
                        partialMax[b * n + i] = m
                        partialSum[b * n + i] = s
                        let target = Int(targets[i])
                        if rows.contains(target) { targetLogit[i] = row[target - rows.lowerBound] }
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
