import Foundation
import GGUF
import Model
import Testing
import TestSupport
import Tokenization

/// `GGUFTokenizer.load` on small synthetic GGUF files of both vocabulary kinds.
@Suite("Loading tokenizers from GGUF metadata")
struct TokenizerLoadingTests {
    func write(_ kv: [String: GGUFValue]) throws -> GGUFFile {
        var writer = GGUFWriter()
        for (k, v) in kv { writer.set(k, v) }
        let path = try Fixtures.temporaryDirectory("tokenizer-loading").appendingPathComponent("t.gguf").path
        try writer.write(to: path)
        return try GGUFFile(path: path)
    }

    @Test("a SentencePiece vocabulary merges by score, falls back to bytes and adds BOS by default")
    func sentencePiece() throws {
        let tokens = ["<pad>", "<eos>", "<bos>", "<0x21>", "▁", "h", "i", "hi", "▁hi", "<end_of_turn>", "\n"]
        let scores: [Float] = [0, 0, 0, 0, -5, -3, -3, -1, -0.5, 0, 0]
        let types: [Int32] = [3, 3, 3, 6, 1, 1, 1, 1, 1, 3, 4]
        let file = try write([
            "tokenizer.ggml.model": .string("llama"),
            "tokenizer.ggml.tokens": .array(tokens.map { .string($0) }),
            "tokenizer.ggml.scores": .array(scores.map { .float32($0) }),
            "tokenizer.ggml.token_type": .array(types.map { .int32($0) }),
            "tokenizer.ggml.bos_token_id": .uint32(2), "tokenizer.ggml.eos_token_id": .uint32(1),
            "tokenizer.ggml.add_space_prefix": .bool(false),
        ])
        let tokenizer = try GGUFTokenizer.load(file: file, vocabularySize: tokens.count)
        #expect(tokenizer.isSentencePiece && tokenizer.addsBOS && tokenizer.bosID == 2)
        #expect(tokenizer.encode("hi hi!\n", parseSpecial: false) == [7, 8, 3, 10])
        #expect(tokenizer.decode([7, 8, 3, 10]) == "hi hi!\n")
        #expect(tokenizer.isEndOfGeneration(1) && tokenizer.isEndOfGeneration(9))
        #expect(tokenizer.encode("<end_of_turn>", parseSpecial: true) == [9])
        #expect(throws: ModelError.self) { _ = try GGUFTokenizer.load(file: file, vocabularySize: 99) }
    }

    @Test("byte-level BPE: the qwen2 pre-tokenizer, no BOS unless the file says so; unknown kinds are refused")
    func byteLevel() throws {
        let tokens = ["a", "b", "ab", "1", "2", "<|im_end|>"]
        let base: [String: GGUFValue] = [
            "tokenizer.ggml.model": .string("gpt2"), "tokenizer.ggml.pre": .string("qwen2"),
            "tokenizer.ggml.tokens": .array(tokens.map { .string($0) }),
            "tokenizer.ggml.merges": .array([.string("a b")]),
            "tokenizer.ggml.token_type": .array([1, 1, 1, 1, 1, 3].map { .int32($0) }),
            "tokenizer.ggml.eos_token_id": .uint32(5),
        ]
        let tokenizer = try GGUFTokenizer.load(file: try write(base), vocabularySize: nil)
        #expect(!tokenizer.addsBOS && !tokenizer.isSentencePiece && tokenizer.preTokenizer == .qwen2)
        #expect(tokenizer.encode("ab12", parseSpecial: false) == [2, 3, 4])
        #expect(tokenizer.isEndOfGeneration(5))
        var other = base
        other["tokenizer.ggml.model"] = .string("bert")
        #expect { _ = try GGUFTokenizer.load(file: try write(other), vocabularySize: nil) } throws: {
            ($0 as? ModelError)?.code == "model.tokenizer"
        }
    }
}
