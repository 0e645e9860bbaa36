import Foundation
import GGUF
import Kernels
import Model
import Streaming
import Testing
import TestSupport

/// A small random-weight model of every tensor format, scored on both paths against the same
/// weights stored as F32: the float path must not depend on the format the weights are stored
/// in (beyond float rounding), and the integer path must stay near it.
@Suite("Tiny models of every weight format against their F32 twins")
struct WeightFormatModelTests {
    static let types = GGMLType.allCases.filter { $0 != .f32 }

    private func losses(_ path: String, _ precision: Precision, tokens: [Int32]) throws -> [Float] {
        let model = try LanguageModel(path: path, precision: precision)
        let engine = InferenceEngine(model: model, threads: 2, maxChunk: 32, maxContext: tokens.count)
        return try TokenScorer.score(tokens: tokens, mode: .sink(sinks: 4, window: 60), engine: engine)
    }

    @Test("f32 path within 1e-3 nats per token of the F32 twin; fast path near it", arguments: types)
    func formatAgainstF32Twin(_ type: GGMLType) throws {
        let directory = try Fixtures.temporaryDirectory("format-\(type.name)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let quantized = directory.appendingPathComponent("tiny.gguf").path
        let twin = directory.appendingPathComponent("tiny-f32.gguf").path
        // Super-block formats need rows of 256; the embedding keeps the weights' format too.
        let wide = type.isSuperBlock
        let shape = (embedding: wide ? 256 : 64, ffn: wide ? 512 : 128)
        for (path, asF32) in [(quantized, false), (twin, true)] {
            try TinyModel.write(to: path, seed: 11, weightType: type, embedding: shape.embedding, heads: 4, kvHeads: 2,
                                ffn: shape.ffn, embeddingType: type, storedAsF32: asF32)
        }
        let file = try GGUFFile(path: quantized), twinFile = try GGUFFile(path: twin)
        let stored = (file.tensor("blk.0.attn_q.weight")?.type, file.tensor("token_embd.weight")?.type)
        let twinStored = twinFile.tensor("blk.0.attn_q.weight")?.type
        #expect(stored.0 == type && stored.1 == type && twinStored == .f32)

        let vocabulary = TinyModel.tokens.count
        let tokens: [Int32] = (0..<150).map { Int32(($0 * 37 + 11) % (vocabulary - 3)) }
        let reference = try losses(twin, .f32, tokens: tokens)
        let f32 = try losses(quantized, .f32, tokens: tokens)
        let fast = try losses(quantized, .fast, tokens: tokens)
        #expect(f32.count == reference.count && fast.count == reference.count)
        let f32Delta = meanAbsoluteDifference(f32, reference.map(Double.init))
        let fastDelta = meanAbsoluteDifference(fast, reference.map(Double.init))
        print("\(type.name): f32 mean |Δ| = \(f32Delta), fast mean |Δ| = \(fastDelta)")
        #expect(f32Delta <= 1e-3, "\(type.name) f32 path")
        #expect(fastDelta <= 0.02, "\(type.name) fast path")
        #expect(fast.allSatisfy { $0.isFinite })
    }
}
