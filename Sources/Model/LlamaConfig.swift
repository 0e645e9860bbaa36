import GGUF

/// The hyper-parameters of a llama-architecture model, read from GGUF metadata.
public struct LlamaConfig: Codable, Sendable, Equatable {
    public var vocabularySize: Int
    public var embeddingLength: Int
    public var layerCount: Int
    public var headCount: Int
    public var kvHeadCount: Int
    public var headDimension: Int
    public var feedForwardLength: Int
    public var contextLength: Int
    public var ropeFreqBase: Double
    public var rmsEpsilon: Float

    /// Width of the K and V projections (`kvHeadCount × headDimension`).
    public var kvWidth: Int { kvHeadCount * headDimension }

    /// Reads and checks the `llama.*` metadata of a model file.
    /// - Throws: ``ModelError`` naming the key that is missing or inconsistent.
    public init(file: GGUFFile) throws {
        let path = file.path
        func int(_ key: String) throws -> Int {
            guard let v = file.integer(key) else { throw ModelError.missingKey(path, key) }
            return v
        }
        embeddingLength = try int("llama.embedding_length")
        layerCount = try int("llama.block_count")
        headCount = try int("llama.attention.head_count")
        kvHeadCount = file.integer("llama.attention.head_count_kv") ?? headCount
        feedForwardLength = try int("llama.feed_forward_length")
        contextLength = try int("llama.context_length")
        ropeFreqBase = file.float("llama.rope.freq_base") ?? 10_000
        rmsEpsilon = Float(file.float("llama.attention.layer_norm_rms_epsilon") ?? 1e-5)
        if let v = file.integer("llama.vocab_size") {
            vocabularySize = v
        } else if let tokens = file.stringArray("tokenizer.ggml.tokens") {
            vocabularySize = tokens.count
        } else {
            throw ModelError.missingKey(path, "llama.vocab_size")
        }
        let limits: [(String, Int, ClosedRange<Int>)] = [
            ("llama.embedding_length", embeddingLength, 32...65_536),
            ("llama.block_count", layerCount, 1...1_024),
            ("llama.attention.head_count", headCount, 1...1_024),
            ("llama.attention.head_count_kv", kvHeadCount, 1...1_024),
            ("llama.feed_forward_length", feedForwardLength, 32...1_048_576),
            ("llama.context_length", contextLength, 1...16_777_216),
            ("llama.vocab_size", vocabularySize, 1...4_194_304),
        ]
        for (key, value, range) in limits where !range.contains(value) {
            throw ModelError.invalid(path, "the metadata value \(key) = \(value) is outside the supported range \(range.lowerBound)…\(range.upperBound).")
        }
        guard embeddingLength % headCount == 0 else {
            throw ModelError.invalid(path, "embedding_length \(embeddingLength) is not a multiple of head_count \(headCount).")
        }
        headDimension = embeddingLength / headCount
        if let rotated = file.integer("llama.rope.dimension_count"), rotated != headDimension {
            throw ModelError.invalid(path, "partial rotary embeddings (rope.dimension_count \(rotated) ≠ head size \(headDimension)) are not supported.")
        }
        guard headCount % kvHeadCount == 0, headDimension % 2 == 0 else {
            throw ModelError.invalid(path, "head_count \(headCount) is not a multiple of head_count_kv \(kvHeadCount).")
        }
        guard embeddingLength % 32 == 0, feedForwardLength % 32 == 0, kvWidth % 32 == 0 else {
            throw ModelError.invalid(path, "layer widths must be multiples of 32 (embedding \(embeddingLength), feed-forward \(feedForwardLength), kv \(kvWidth)).")
        }
        guard ropeFreqBase.isFinite, ropeFreqBase > 1, rmsEpsilon.isFinite, rmsEpsilon > 0 else {
            throw ModelError.invalid(path, "rope.freq_base (\(ropeFreqBase)) or layer_norm_rms_epsilon (\(rmsEpsilon)) is not a usable number.")
        }
    }
}
