import GGUF

/// How RoPE pairs the elements of a head vector.
public enum RopeStyle: String, Codable, Sendable {
    /// llama's "normal" rotation: adjacent pairs `(x[2i], x[2i+1])`.
    case adjacent
    /// GPT-NeoX's rotation (qwen2, gemma3): pairs `(x[i], x[i + d/2])`.
    case neox
}

/// The gate non-linearity of the gated feed-forward block.
public enum FeedForwardActivation: String, Codable, Sendable {
    /// `silu(g) · u` (SwiGLU).
    case silu
    /// `gelu_tanh(g) · u` (GeGLU with the tanh approximation).
    case geluTanh
}

/// What one layer attends to, whatever the stream's attention mode.
public enum LayerAttention: Codable, Sendable, Equatable {
    /// The stream's attention mode decides (dense, sinks plus window, …).
    case global
    /// The model's own sliding window: the `window` most recent tokens, the current one
    /// included, in every mode (Gemma 3's local layers).
    case sliding(window: Int)
}

/// The per-layer facts that may differ between layers of one model.
public struct LayerSpec: Codable, Sendable, Equatable {
    public var attention: LayerAttention
    /// RoPE base of this layer's rotation.
    public var ropeBase: Double

    public init(attention: LayerAttention, ropeBase: Double) {
        self.attention = attention
        self.ropeBase = ropeBase
    }
}

/// Optional tensors of a transformer block; an architecture declares which its layers have.
public struct BlockTensors: OptionSet, Codable, Sendable, Hashable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    /// Biases on the query, key and value projections (`attn_q.bias`, …).
    public static let qkvBias = BlockTensors(rawValue: 1)
    /// RMS norms of every query and key head (`attn_q_norm`, `attn_k_norm`).
    public static let qkNorm = BlockTensors(rawValue: 2)
    /// RMS norms of the attention and feed-forward outputs before the residual add
    /// (`post_attention_norm`, `post_ffw_norm`).
    public static let postNorms = BlockTensors(rawValue: 4)
}

/// The architecture-neutral description of a decoder-only transformer, read from GGUF metadata.
///
/// Hyper-parameters are read with keys built from `general.architecture` (`"\(arch).block_count"`,
/// as llama.cpp's `LLM_KV_NAMES` does); the ``Architecture`` fills in what its family fixes
/// (RoPE pairing, activation, layer kinds). The engine executes this description and never asks
/// which architecture it runs.
public struct ModelConfig: Codable, Sendable, Equatable {
    /// `general.architecture` (`llama`, `qwen2`, `gemma3`).
    public var architecture: String
    public var vocabularySize: Int
    public var embeddingLength: Int
    public var layerCount: Int
    public var headCount: Int
    public var kvHeadCount: Int
    /// Elements per key (and value) head (`attention.key_length`, else embedding / heads).
    public var headDimension: Int
    public var feedForwardLength: Int
    public var contextLength: Int
    /// The RoPE base of global layers (`rope.freq_base`).
    public var ropeFreqBase: Double
    public var rmsEpsilon: Float
    public var ropeStyle: RopeStyle
    public var activation: FeedForwardActivation
    /// The optional tensors every layer has.
    public var blockTensors: BlockTensors
    /// Attention logits are `scale · q·k` (1/√head size unless the architecture says otherwise).
    public var queryScale: Float
    /// Token embeddings are multiplied by this (Gemma: √embedding); nil for none.
    public var embeddingScale: Float?
    /// Final logits become `cap · tanh(logits / cap)` when set.
    public var logitSoftCap: Float?
    /// Per-layer attention kind and RoPE base, `layerCount` entries.
    public var layers: [LayerSpec]

    /// Width of the K and V projections (`kvHeadCount × headDimension`).
    public var kvWidth: Int { kvHeadCount * headDimension }
    /// Width of the query projection and of the attention output (`headCount × headDimension`).
    public var queryWidth: Int { headCount * headDimension }
    /// The sliding window of the model's local layers, if it has any.
    public var slidingWindow: Int? {
        for layer in layers { if case .sliding(let w) = layer.attention { return w } }
        return nil
    }

    /// Reads and checks a model file's hyper-parameters for `architecture`.
    /// - Throws: ``ModelError`` naming the key that is missing or inconsistent.
    public init(file: GGUFFile, architecture: Architecture) throws {
        let path = file.path, arch = architecture.name
        func key(_ name: String) -> String { "\(arch).\(name)" }
        func int(_ name: String) throws -> Int {
            guard let v = file.integer(key(name)) else { throw ModelError.missingKey(path, key(name)) }
            return v
        }
        self.architecture = arch
        embeddingLength = try int("embedding_length")
        layerCount = try int("block_count")
        headCount = try int("attention.head_count")
        kvHeadCount = file.integer(key("attention.head_count_kv")) ?? headCount
        feedForwardLength = try int("feed_forward_length")
        contextLength = try int("context_length")
        ropeFreqBase = file.float(key("rope.freq_base")) ?? 10_000
        rmsEpsilon = Float(file.float(key("attention.layer_norm_rms_epsilon")) ?? 1e-5)
        if let v = file.integer(key("vocab_size")) {
            vocabularySize = v
        } else if let count = file.stringArray("tokenizer.ggml.tokens")?.count {
            vocabularySize = count
        } else {
            throw ModelError.missingKey(path, key("vocab_size"))
        }
        let limits: [(String, Int, ClosedRange<Int>)] = [
            (key("embedding_length"), embeddingLength, 32...65_536),
            (key("block_count"), layerCount, 1...1_024),
            (key("attention.head_count"), headCount, 1...1_024),
            (key("attention.head_count_kv"), kvHeadCount, 1...1_024),
            (key("feed_forward_length"), feedForwardLength, 32...1_048_576),
            (key("context_length"), contextLength, 1...16_777_216),
            (key("vocab_size"), vocabularySize, 1...4_194_304),
        ]
        for (key, value, range) in limits where !range.contains(value) {
            throw ModelError.invalid(path, "the metadata value \(key) = \(value) is outside the supported range \(range.lowerBound)…\(range.upperBound).")
        }
        if let k = file.integer(key("attention.key_length")) {
            guard (8...1_024).contains(k) else {
                throw ModelError.invalid(path, "the metadata value \(key("attention.key_length")) = \(k) is outside the supported range 8…1024.")
            }
            headDimension = k
        } else {
            guard embeddingLength % headCount == 0 else {
                throw ModelError.invalid(path, "embedding_length \(embeddingLength) is not a multiple of head_count \(headCount).")
            }
            headDimension = embeddingLength / headCount
        }
        if let valueLength = file.integer(key("attention.value_length")), valueLength != headDimension {
            throw ModelError.invalid(path, "value heads of \(valueLength) elements beside key heads of \(headDimension) are not supported.")
        }
        if let rotated = file.integer(key("rope.dimension_count")), rotated != headDimension {
            throw ModelError.invalid(path, "partial rotary embeddings (rope.dimension_count \(rotated) ≠ head size \(headDimension)) are not supported.")
        }
        guard headCount % kvHeadCount == 0, headDimension % 2 == 0 else {
            throw ModelError.invalid(path, "head_count \(headCount) is not a multiple of head_count_kv \(kvHeadCount).")
        }
        ropeStyle = architecture.ropeStyle
        activation = architecture.activation
        blockTensors = architecture.blockTensors
        queryScale = 1 / Float(headDimension).squareRoot()
        embeddingScale = architecture.scalesEmbedding ? Float(embeddingLength).squareRoot() : nil
        logitSoftCap = file.float(key("final_logit_softcapping")).map { Float($0) }
        layers = Array(repeating: LayerSpec(attention: .global, ropeBase: ropeFreqBase), count: layerCount)
        try architecture.configureLayers(file, &self)
        guard embeddingLength % 32 == 0, feedForwardLength % 32 == 0, kvWidth % 32 == 0, queryWidth % 32 == 0 else {
            throw ModelError.invalid(path, "layer widths must be multiples of 32 (embedding \(embeddingLength), feed-forward \(feedForwardLength), query \(queryWidth), kv \(kvWidth)).")
        }
        guard layers.allSatisfy({ $0.ropeBase.isFinite && $0.ropeBase > 1 }), rmsEpsilon.isFinite, rmsEpsilon > 0 else {
            throw ModelError.invalid(path, "rope.freq_base (\(ropeFreqBase)) or layer_norm_rms_epsilon (\(rmsEpsilon)) is not a usable number.")
        }
        if let cap = logitSoftCap, !(cap.isFinite && cap > 0) {
            throw ModelError.invalid(path, "\(key("final_logit_softcapping")) = \(cap) is not a usable number.")
        }
    }
}
