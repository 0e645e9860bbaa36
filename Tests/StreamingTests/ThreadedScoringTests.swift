import Foundation
import Kernels
import Model
import Streaming
import Testing
import TestSupport

/// Scores the tiny random model with 1, 2 and 3 threads. Exercises the thread pool through a
/// whole forward pass in a few milliseconds, so it also runs under ThreadSanitizer
/// (`scripts/sanitize.sh thread`), where the real-model suites are skipped.
@Suite("Threaded scoring of the tiny model")
struct ThreadedScoringTests {
    @Test("losses are identical for 1, 2 and 3 threads", arguments: Precision.allCases)
    func threadCountDoesNotChangeLosses(_ precision: Precision) throws {
        let directory = try Fixtures.temporaryDirectory("threaded-scoring")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("tiny.gguf").path
        try TinyModel.write(to: path, seed: 7)
        let model = try LanguageModel(path: path, precision: precision)
        let tokens: [Int32] = (0..<48).map { Int32(($0 * 37 + 11) % model.config.vocabularySize) }
        var results: [[Float]] = []
        for threads in [1, 2, 3] {
            let engine = InferenceEngine(model: model, threads: threads, maxChunk: 16, maxContext: tokens.count)
            results.append(try TokenScorer.score(tokens: tokens, mode: .sink(sinks: 4, window: 20), engine: engine))
        }
        #expect(results[0].count == tokens.count - 1 || results[0].count == tokens.count)
        #expect(results[0].allSatisfy { $0.isFinite && $0 > 0 })
        #expect(results[1] == results[0])
        #expect(results[2] == results[0])
    }
}
