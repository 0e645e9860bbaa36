import GGUF
import Kernels

/// The weights of one transformer block; the optional tensors are there exactly when the
/// architecture's ``BlockTensors`` say so.
public struct LayerWeights: Sendable {
    public let attentionNorm: [Float]
    public let query: WeightMatrix
    public let key: WeightMatrix
    public let value: WeightMatrix
    public let output: WeightMatrix
    public let ffnNorm: [Float]
    public let gate: WeightMatrix
    public let up: WeightMatrix
    public let down: WeightMatrix
    /// Projection biases (``BlockTensors/qkvBias``).
    public let queryBias: [Float]?, keyBias: [Float]?, valueBias: [Float]?
    /// Per-head RMS norm weights of queries and keys (``BlockTensors/qkNorm``).
    public let queryNorm: [Float]?, keyNorm: [Float]?
    /// Norms of the attention and feed-forward outputs (``BlockTensors/postNorms``).
    public let postAttentionNorm: [Float]?, postFFNNorm: [Float]?
}

/// All weights of a model, as views into the memory-mapped file (plus packed copies).
public struct ModelWeights: Sendable {
    public let tokenEmbedding: WeightMatrix
    public let layers: [LayerWeights]
    public let outputNorm: [Float]
    /// The output projection; the token embedding itself when the model ties them.
    public let output: WeightMatrix

    /// Finds, checks and wraps every tensor the forward pass needs.
    /// - Throws: ``ModelError`` for a missing tensor, a shape that contradicts the metadata,
    ///   an unsupported type, or NaN/Inf in a norm vector or a matrix (float elements or
    ///   quantized block scales; scanned once at load, about 1 GB/s).
    public init(file: GGUFFile, config c: ModelConfig, architecture: Architecture) throws {
        let path = file.path
        func matrix(_ name: String, cols: Int, rows: Int) throws -> WeightMatrix {
            guard let info = file.tensor(name) else { throw ModelError.missingTensor(path, name) }
            guard info.dims == [cols, rows] else { throw ModelError.shape(path, name, expected: [cols, rows], found: info.dims) }
            let bytes = file.data(of: info)
            guard let base = bytes.baseAddress, bytes.count == info.byteCount else {
                throw ModelError.invalid(path, "the data of tensor '\(name)' is not readable.")
            }
            if let (element, value) = GGMLFiniteScan.firstNonFinite(bytes, type: info.type, count: info.elementCount) {
                throw ModelError(code: "model.non-finite", file: path,
                                 message: "the tensor '\(name)' holds a non-finite value (\(value)) at element \(element).")
            }
            return WeightMatrix(name: name, typeID: Int32(info.type.rawValue), rows: rows, cols: cols,
                                rowBytes: info.byteCount / rows, bytes: base)
        }
        func vector(_ name: String, count: Int) throws -> [Float] {
            guard let info = file.tensor(name) else { throw ModelError.missingTensor(path, name) }
            guard info.dims == [count] else { throw ModelError.shape(path, name, expected: [count], found: info.dims) }
            guard let base = file.data(of: info).baseAddress else {
                throw ModelError.invalid(path, "the data of tensor '\(name)' is not readable.")
            }
            let m = WeightMatrix(name: name, typeID: Int32(info.type.rawValue), rows: 1, cols: count,
                                 rowBytes: info.byteCount, bytes: base)
            var out = [Float](repeating: 0, count: count)
            out.withUnsafeMutableBufferPointer { m.dequantizeRow(0, into: $0.baseAddress!) }
            if let bad = out.firstIndex(where: { !$0.isFinite }) {
                throw ModelError(code: "model.non-finite", file: path,
                                 message: "the tensor '\(name)' holds a non-finite value (\(out[bad])) at element \(bad).")
            }
            return out
        }
        tokenEmbedding = try matrix("token_embd.weight", cols: c.embeddingLength, rows: c.vocabularySize)
        var layers: [LayerWeights] = []
        let e = c.embeddingLength, has = c.blockTensors
        func optional(_ name: String, count: Int, if flag: BlockTensors) throws -> [Float]? {
            has.contains(flag) ? try vector(name, count: count) : nil
        }
        for i in 0..<c.layerCount {
            let p = "blk.\(i)."
            layers.append(LayerWeights(
                attentionNorm: try vector(p + "attn_norm.weight", count: e),
                query: try matrix(p + "attn_q.weight", cols: e, rows: c.queryWidth),
                key: try matrix(p + "attn_k.weight", cols: e, rows: c.kvWidth),
                value: try matrix(p + "attn_v.weight", cols: e, rows: c.kvWidth),
                output: try matrix(p + "attn_output.weight", cols: c.queryWidth, rows: e),
                ffnNorm: try vector(p + "ffn_norm.weight", count: e),
                gate: try matrix(p + "ffn_gate.weight", cols: e, rows: c.feedForwardLength),
                up: try matrix(p + "ffn_up.weight", cols: e, rows: c.feedForwardLength),
                down: try matrix(p + "ffn_down.weight", cols: c.feedForwardLength, rows: e),
                queryBias: try optional(p + "attn_q.bias", count: c.queryWidth, if: .qkvBias),
                keyBias: try optional(p + "attn_k.bias", count: c.kvWidth, if: .qkvBias),
                valueBias: try optional(p + "attn_v.bias", count: c.kvWidth, if: .qkvBias),
                queryNorm: try optional(p + "attn_q_norm.weight", count: c.headDimension, if: .qkNorm),
                keyNorm: try optional(p + "attn_k_norm.weight", count: c.headDimension, if: .qkNorm),
                postAttentionNorm: try optional(p + "post_attention_norm.weight", count: e, if: .postNorms),
                postFFNNorm: try optional(p + "post_ffw_norm.weight", count: e, if: .postNorms)
            ))
        }
        self.layers = layers
        outputNorm = try vector("output_norm.weight", count: c.embeddingLength)
        if file.tensor("output.weight") != nil || architecture.requiresOutputMatrix {
            output = try matrix("output.weight", cols: c.embeddingLength, rows: c.vocabularySize)
        } else {
            output = tokenEmbedding
        }
    }

    /// Every distinct matrix, for packing.
    public var allMatrices: [WeightMatrix] {
        var list = layers.flatMap { [$0.query, $0.key, $0.value, $0.output, $0.gate, $0.up, $0.down] }
        list.append(output)
        return list
    }
}
