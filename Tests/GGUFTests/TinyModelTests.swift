import Foundation
import GGUF
import Testing
import TestSupport

@Suite("TinyModel writes a valid SmolLM2-shaped llama file")
struct TinyModelTests {
    @Test("shapes, types and hyperparameters")
    func shapes() throws {
        let file = try openGGUF(try tinyModelBytes())
        try file.requireArchitecture(["llama"])
        #expect(file.integer("llama.block_count") == 2)
        #expect(file.integer("llama.embedding_length") == 64)
        #expect(file.integer("llama.rope.dimension_count") == 16)
        #expect(file.integer("llama.context_length") == 512)
        #expect(file.float("llama.rope.freq_base") == 100_000)
        #expect(file.integer("general.file_type") == 3)
        #expect(file.tensors.count == 1 + 2 * 9 + 1)
        #expect(file.tensor("token_embd.weight")?.dims == [64, 267])
        #expect(file.tensor("token_embd.weight")?.type == .q8_0)
        #expect(file.tensor("blk.1.attn_k.weight")?.dims == [64, 32])
        #expect(file.tensor("blk.1.attn_q.weight")?.dims == [64, 64])
        #expect(file.tensor("blk.0.ffn_down.weight")?.dims == [128, 64])
        #expect(file.tensor("blk.0.ffn_down.weight")?.type == .q4_1)
        #expect(file.tensor("blk.0.ffn_up.weight")?.dims == [64, 128])
        #expect(file.tensor("blk.0.attn_norm.weight")?.type == .f32)
        #expect(file.tensor("output.weight") == nil)
    }

    @Test("byte-level vocabulary, merges and special tokens")
    func vocabulary() throws {
        let file = try openGGUF(try tinyModelBytes())
        let tokens = try file.requireStringArray("tokenizer.ggml.tokens")
        #expect(tokens.count == 267)
        #expect(file.integer("llama.vocab_size") == 267)
        #expect(tokens[0] == "Ā" && tokens[10] == "Ċ" && tokens[32] == "Ġ" && tokens[65] == "A" && tokens[255] == "ÿ")
        #expect(tokens[160] == "ł" && tokens[173] == "Ń")  // NBSP and soft hyphen are remapped in GPT-2's table
        #expect(Set(tokens.prefix(256)).count == 256)
        #expect(Array(tokens[256...]) == ["Ġt", "he", "in", "Ġa", "er", "Ġthe", "on", "re", "<|endoftext|>", "<|im_start|>", "<|im_end|>"])
        let types = try file.requireIntegerArray("tokenizer.ggml.token_type")
        #expect(types.prefix(264).allSatisfy { $0 == 1 } && types.suffix(3).allSatisfy { $0 == 3 })
        #expect(file.stringArray("tokenizer.ggml.merges") == TinyModel.merges)
        #expect(file.integer("tokenizer.ggml.bos_token_id") == TinyModel.specialTokenID("<|im_start|>"))
        #expect(file.integer("tokenizer.ggml.eos_token_id") == 266)
        #expect(file.string("tokenizer.ggml.model") == "gpt2")
        #expect(file.string("tokenizer.ggml.pre") == "smollm")
    }

    @Test("deterministic per seed; small random weights and norms near 1")
    func weights() throws {
        let a = try tinyModelBytes(seed: 7)
        #expect(a == (try tinyModelBytes(seed: 7)))
        #expect(a != (try tinyModelBytes(seed: 8)))
        let file = try openGGUF(a)
        let q = try #require(file.tensor("blk.0.attn_q.weight"))
        let values = GGMLDequantize.dequantize(file.data(of: q), type: q.type, count: q.elementCount)
        let mean = values.reduce(0, +) / Float(values.count)
        let std = (values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(values.count)).squareRoot()
        #expect(abs(mean) < 0.003)
        #expect(std > 0.015 && std < 0.025)
        let norm = try #require(file.tensor("output_norm.weight"))
        let gains = GGMLDequantize.dequantize(file.data(of: norm), type: .f32, count: 64)
        #expect(gains.allSatisfy { $0 > 0.7 && $0 < 1.3 })
    }

    @Test("other weight types and invalid shapes")
    func options() throws {
        for type in GGMLType.allCases where !type.isSuperBlock {
            let file = try openGGUF(try tinyModelBytes(weightType: type))
            #expect(file.tensor("blk.0.attn_v.weight")?.type == type)
        }
        let path = try temporaryPath("bad.gguf")
        let error = #expect(throws: GGUFError.self) { try TinyModel.write(to: path, embedding: 60, heads: 4) }
        #expect(error?.code == "gguf.invalid_writer_input")
        let narrow = #expect(throws: GGUFError.self) { try TinyModel.write(to: path, weightType: .q4_k) }
        #expect(narrow?.description.contains("weight type Q4_K needs rows that are multiples of 256 elements") == true)
    }

    @Test("a tiny model with super-block (K-quant, IQ4_XS) matrices", arguments: GGMLType.allCases.filter(\.isSuperBlock))
    func superBlockWeights(type: GGMLType) throws {
        let path = try temporaryPath("tiny-\(type.name).gguf")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try TinyModel.write(to: path, seed: 3, weightType: type, embedding: 256, heads: 4, kvHeads: 2, ffn: 512)
        let file = try GGUFFile(path: path)
        #expect(file.integer("general.file_type") == Int(TinyModel.fileType(type)))
        let down = try #require(file.tensor("blk.1.ffn_down.weight"))
        #expect(down.type == type && down.dims == [512, 256])
        #expect(down.byteCount == 512 / 256 * type.bytesPerBlock * 256)
        // The weights decode to the N(0, 0.02²) the writer drew (within the type's error).
        let values = GGMLDequantize.dequantize(file.data(of: down), type: type, count: down.elementCount)
        let std = (values.map { $0 * $0 }.reduce(0, +) / Float(values.count)).squareRoot()
        #expect(std > 0.015 && std < 0.025, "\(type): std \(std)")
    }

    @Test("same metadata keys and per-layer tensor names as the real model",
          .enabled(if: Fixtures.modelPath != nil, "real model not found; skipped"))
    func matchesRealModel() throws {
        let real = try GGUFFile(path: try #require(Fixtures.modelPath))
        let tiny = try openGGUF(try tinyModelBytes())
        #expect(Set(tiny.metadataKeys) == Set(real.metadataKeys))
        for key in real.metadataKeys {
            #expect(tiny.metadata[key]?.typeID == real.metadata[key]?.typeID, "\(key)")
        }
        let names = { (file: GGUFFile) in file.tensors.map(\.name).filter { !$0.hasPrefix("blk.") || $0.hasPrefix("blk.0.") } }
        #expect(names(tiny) == names(real))
        #expect(tiny.tensor("token_embd.weight")?.type == real.tensor("token_embd.weight")?.type)
    }
}
