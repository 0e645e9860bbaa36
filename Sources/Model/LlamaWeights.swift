import GGUF
import Kernels

/// The weights of one transformer block.
public struct LlamaLayer: Sendable {
    public let attentionNorm: [Float]
    public let query: WeightMatrix
    public let key: WeightMatrix
    public let value: WeightMatrix
    public let output: WeightMatrix
    public let ffnNorm: [Float]
    public let gate: WeightMatrix
    public let up: WeightMatrix
    public let down: WeightMatrix
}

/// All weights of a llama model, as views into the memory-mapped file (plus packed copies).
public struct LlamaWeights: Sendable {
    public let tokenEmbedding: WeightMatrix
    public let layers: [LlamaLayer]
    public let outputNorm: [Float]
    /// The output projection; the token embedding itself when the model ties them.
    public let output: WeightMatrix

    /// Finds, checks and wraps every tensor the forward pass needs.
    /// - Throws: ``ModelError`` for a missing tensor, a shape that contradicts the metadata,
    ///   an unsupported type, or NaN/Inf in a norm vector or a matrix (float elements or
    ///   quantized block scales; scanned once at load, about 1 GB/s).
    public init(file: GGUFFile, config c: LlamaConfig) throws {
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
        var layers: [LlamaLayer] = []
        for i in 0..<c.layerCount {
            let p = "blk.\(i)."
            layers.append(LlamaLayer(
                attentionNorm: try vector(p + "attn_norm.weight", count: c.embeddingLength),
                query: try matrix(p + "attn_q.weight", cols: c.embeddingLength, rows: c.embeddingLength),
                key: try matrix(p + "attn_k.weight", cols: c.embeddingLength, rows: c.kvWidth),
                value: try matrix(p + "attn_v.weight", cols: c.embeddingLength, rows: c.kvWidth),
                output: try matrix(p + "attn_output.weight", cols: c.embeddingLength, rows: c.embeddingLength),
                ffnNorm: try vector(p + "ffn_norm.weight", count: c.embeddingLength),
                gate: try matrix(p + "ffn_gate.weight", cols: c.embeddingLength, rows: c.feedForwardLength),
                up: try matrix(p + "ffn_up.weight", cols: c.embeddingLength, rows: c.feedForwardLength),
                down: try matrix(p + "ffn_down.weight", cols: c.feedForwardLength, rows: c.embeddingLength)
            ))
        }
        self.layers = layers
        outputNorm = try vector("output_norm.weight", count: c.embeddingLength)
        if file.tensor("output.weight") != nil {
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
