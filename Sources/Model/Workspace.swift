import Kernels

/// Scratch buffers of the forward pass, allocated once per engine.
final class Workspace {
    let x, h, q, qSink, k, v, attn, gate, up: UnsafeMutablePointer<Float>
    let hq, fq: UnsafeMutableRawPointer
    /// RoPE tables of the chunk's tokens, `ropeTableFloats` per distinct RoPE base.
    let ropeRecent, ropeSink: UnsafeMutablePointer<Float>
    let ropeTableFloats: Int
    let scores: UnsafeMutablePointer<Float>
    let scoresPerThread: Int
    let tiles: UnsafeMutablePointer<Float>
    let tileFloats: Int
    let partialMax, partialSum, targetLogit: UnsafeMutablePointer<Float>
    /// Partial attentions of split queries (``Attention/partSlots``): `attnPartUnits` units of
    /// `attnPartsPerQuery` parts of `attnPartFloats` floats each.
    let attnParts: UnsafeMutablePointer<Float>
    let attnPartsPerQuery, attnPartFloats, attnPartUnits: Int
    private var owned: [UnsafeMutableRawPointer] = []

    init(config c: ModelConfig, maxChunk n: Int, maxContext: Int, threads: Int, vocabularyBlock: Int, ropeTables: Int) {
        var owned: [UnsafeMutableRawPointer] = []
        func floats(_ count: Int) -> UnsafeMutablePointer<Float> {
            let raw = UnsafeMutableRawPointer.allocate(byteCount: max(1, count) * 4, alignment: 64)
            raw.initializeMemory(as: Float.self, repeating: 0, count: max(1, count))
            owned.append(raw)
            return raw.assumingMemoryBound(to: Float.self)
        }
        func bytes(_ count: Int) -> UnsafeMutableRawPointer {
            let raw = UnsafeMutableRawPointer.allocate(byteCount: max(64, count), alignment: 64)
            owned.append(raw)
            return raw
        }
        let e = c.embeddingLength, f = c.feedForwardLength, qw = c.queryWidth
        x = floats(n * e); h = floats(n * e); q = floats(n * qw); qSink = floats(n * qw)
        k = floats(n * c.kvWidth); v = floats(n * c.kvWidth); attn = floats(n * qw)
        gate = floats(n * f); up = floats(n * f)
        hq = bytes(n * Matmul.quantizedRowBytes(max(e, qw))); fq = bytes(n * Matmul.quantizedRowBytes(f))
        ropeTableFloats = n * c.headDimension
        ropeRecent = floats(ropeTables * ropeTableFloats); ropeSink = floats(ropeTables * ropeTableFloats)
        let group = c.headCount / c.kvHeadCount
        // One query's heads over all it sees, or a tile's (Attention.attendHalfTile) over a part.
        scoresPerThread = max(group * (maxContext + n + 16), Attention.tileTokens * min(group, 4) * (Attention.partSlots + 16))
        scores = floats(threads * scoresPerThread)
        tileFloats = n * vocabularyBlock
        tiles = floats(threads * tileFloats)
        let blocks = (c.vocabularySize + vocabularyBlock - 1) / vocabularyBlock
        partialMax = floats(blocks * n); partialSum = floats(blocks * n); targetLogit = floats(n)
        attnPartsPerQuery = Attention.parts(maxContext + n)
        attnPartFloats = group * (c.headDimension + 2)
        attnPartUnits = max(Attention.splitUnits(threads: threads), threads * Attention.tileTokens)
        attnParts = floats(attnPartUnits * attnPartsPerQuery * attnPartFloats)
        self.owned = owned
    }

    deinit { for p in owned { p.deallocate() } }

    /// Bytes the buffers of an engine with these sizes take (an upper bound).
    static func byteCount(config c: ModelConfig, maxChunk n: Int, maxContext: Int, threads: Int, vocabularyBlock: Int) -> Int {
        let e = c.embeddingLength, f = c.feedForwardLength, qw = c.queryWidth
        let ropeTables = Set(c.layers.map(\.ropeBase)).count
        let floats = n * e * 2 + 3 * n * qw + 2 * n * c.kvWidth + 2 * n * f + 2 * ropeTables * n * c.headDimension
            + threads * max((c.headCount / c.kvHeadCount) * (maxContext + n + 16), Attention.tileTokens * 4 * (Attention.partSlots + 16))
            + threads * n * vocabularyBlock + 3 * n * ((c.vocabularySize + vocabularyBlock - 1) / vocabularyBlock)
            + max(Attention.splitUnits(threads: threads), threads * Attention.tileTokens) * Attention.parts(maxContext + n)
                * (c.headCount / c.kvHeadCount) * (c.headDimension + 2)
        return floats * 4 + n * (max(e, qw) + f) * 2
    }
}
