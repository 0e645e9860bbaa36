import Foundation
import GGUF
import Testing
import TestSupport

@Suite("The real SmolLM2-135M Q4_1 model file", .enabled(if: Fixtures.modelPath != nil, "real model not found (set SINKSTREAM_MODEL or run `sinkstream model fetch`); skipped"))
struct RealModelTests {
    let file: GGUFFile

    init() throws {
        file = try GGUFFile(path: try #require(Fixtures.modelPath))
    }

    @Test("header, architecture and hyperparameters")
    func header() throws {
        #expect(file.version == 3)
        #expect(file.alignment == 32)
        try file.requireArchitecture(["llama"])
        #expect(try file.requireString("general.architecture") == "llama")
        #expect(file.integer("llama.context_length") == 8192)
        #expect(file.integer("llama.embedding_length") == 576)
        #expect(file.integer("llama.block_count") == 30)
        #expect(file.integer("llama.attention.head_count") == 9)
        #expect(file.integer("llama.attention.head_count_kv") == 3)
        #expect(file.float("llama.rope.freq_base") == 100_000)
        let eps = try #require(file.float("llama.attention.layer_norm_rms_epsilon"))
        #expect(abs(eps - 1e-5) < 1e-9)
        #expect(file.bool("tokenizer.ggml.add_bos_token") == false)
        #expect(file.metadataKeys.count == 33)
        #expect(file.metadataKeys.first == "general.architecture")
    }

    @Test("tokenizer arrays")
    func tokenizer() throws {
        let tokens = try file.requireStringArray("tokenizer.ggml.tokens")
        #expect(tokens.count == 49152)
        #expect(tokens.prefix(3) == ["<|endoftext|>", "<|im_start|>", "<|im_end|>"])
        let merges = try file.requireStringArray("tokenizer.ggml.merges")
        #expect(merges.count == 48900)
        #expect(merges.first == "Ġ t")
        let types = try file.requireIntegerArray("tokenizer.ggml.token_type")
        #expect(types.count == 49152)
        #expect(types[0] == 3)
        #expect(file.integer("tokenizer.ggml.eos_token_id") == 2)
    }

    @Test("tensor table: count, types, shapes, aligned offsets")
    func tensors() throws {
        #expect(file.tensors.count == 272)
        let embedding = try #require(file.tensor("token_embd.weight"))
        #expect(embedding.type == .q8_0)
        #expect(embedding.dims == [576, 49152])
        #expect(embedding.rowLength == 576)
        #expect(embedding.rows == 49152)
        #expect(embedding.rowBytes == 576 / 32 * 34)
        let down = try #require(file.tensor("blk.0.ffn_down.weight"))
        #expect(down.type == .q4_1)
        #expect(down.dims == [1536, 576])
        #expect(down.byteCount == 1536 * 576 / 32 * 20)
        #expect(file.tensor("output.weight") == nil)
        #expect(file.tensor("output_norm.weight")?.type == .f32)
        #expect(file.dataOffset % file.alignment == 0)
        for tensor in file.tensors {
            #expect(tensor.offset % file.alignment == 0, "\(tensor.name)")
            #expect(file.data(of: tensor).count == tensor.byteCount)
        }
        let last = try #require(file.tensors.max { $0.offset < $1.offset })
        #expect(file.dataOffset + last.offset + last.byteCount <= file.fileSize)
    }

    @Test("dequantized weights look like trained weights")
    func weights() throws {
        let norm = try #require(file.tensor("output_norm.weight"))
        let normValues = GGMLDequantize.dequantize(file.data(of: norm), type: norm.type, count: norm.elementCount)
        #expect(normValues.count == 576)
        #expect(normValues.allSatisfy { $0.isFinite })
        let embedding = try #require(file.tensor("token_embd.weight"))
        let row = GGMLDequantize.dequantize(file.data(of: embedding), type: .q8_0, count: 576)
        #expect(row.allSatisfy { $0.isFinite && abs($0) < 10 })
        #expect(row.contains { $0 != 0 })
    }

    @Test("metadata parse time (printed, not asserted)")
    func parseTime() throws {
        let path = try #require(Fixtures.modelPath)
        var times: [Double] = []
        for _ in 0..<5 {
            let start = ContinuousClock.now
            let opened = try GGUFFile(path: path)
            let elapsed = ContinuousClock.now - start
            #expect(opened.tensors.count == 272)
            times.append(Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1e3)
        }
        let start = ContinuousClock.now
        let tokens = file.stringArray("tokenizer.ggml.tokens")
        let accessor = ContinuousClock.now - start
        #expect(tokens?.count == 49152)
        print("GGUF open+parse of the real model: min \(times.min() ?? 0) ms, all \(times.map { Int($0.rounded()) }) ms; stringArray(tokens): \(accessor)")
    }
}
