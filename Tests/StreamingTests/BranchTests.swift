import Foundation
import Kernels
import Model
import Streaming
import Testing
import TestSupport

/// A branch of a stream (a task's prompt and reply) rewound without copying the cache: the
/// stream then goes on exactly as if the branch had never been.
@Suite("Stream branches")
struct BranchTests {
    /// A tiny model the test writes.
    private func engine(_ name: String, precision: Precision) throws -> InferenceEngine {
        let dir = try Fixtures.temporaryDirectory(name)
        let path = dir.appendingPathComponent("tiny.gguf").path
        try TinyModel.write(to: path)
        return InferenceEngine(model: try LanguageModel(path: path, precision: precision), threads: 1, maxChunk: 16, maxContext: 80)
    }

    @Test("Fork, a branch longer than the window, rewind: the losses that follow are bit-identical to an unbranched stream",
          arguments: [Precision.fast, .f32])
    func rewindIsExact(_ precision: Precision) throws {
        try check(engine: try engine("branch-\(precision.rawValue)", precision: precision), documentLength: 300, branchLength: 70,
                  mode: .sink(sinks: 4, window: 60), part: 50)
    }

    @Test("Gemma 3: a branch past the 512-token local window leaves the sliding layers' rows for the rewound stream")
    func rewindGemma() throws {
        let model = try ArchitectureModel.gemma3.load(.fast)
        let engine = InferenceEngine(model: model, threads: 2, maxChunk: 64, maxContext: 256)
        try check(engine: engine, documentLength: 900, branchLength: 600, mode: .sink(sinks: 4, window: 252), part: 300)
    }

    private func check(engine: InferenceEngine, documentLength: Int, branchLength: Int, mode: AttentionMode, part: Int) throws {
        let vocabulary = engine.model.config.vocabularySize
        let document = (0..<documentLength).map { Int32(($0 * 7919 + 13) % min(vocabulary, 30_000) + 3) }
        let branch = (0..<branchLength).map { Int32(($0 * 104_729 + 5) % min(vocabulary, 30_000) + 3) }
        let straight = try StreamSession(engine: engine, mode: mode)
        let expected = try straight.process(Array(document.dropLast()), targets: Array(document.dropFirst())).losses

        let session = try StreamSession(engine: engine, mode: mode, branchCapacity: branchLength)
        var losses: [Float] = []
        for start in stride(from: 0, to: document.count - 1, by: part) {
            let end = min(document.count - 1, start + part)
            // A branch before every part: past the window, so its own window evicts the fork's tokens.
            let fork = session.fork()
            _ = try session.process(branch, logits: true)
            try session.rewind(to: fork)
            #expect(session.position == fork.position)
            losses += try session.process(Array(document[start..<end]), targets: Array(document[(start + 1)...end])).losses
        }
        #expect(losses.map(\.bitPattern) == expected.map(\.bitPattern))
    }

    @Test("A branch past the reserved room is refused instead of rewinding onto overwritten rows")
    func tooLong() throws {
        let engine = try engine("branch-long", precision: .fast)
        let session = try StreamSession(engine: engine, mode: .sink(sinks: 4, window: 60), branchCapacity: 20)
        _ = try session.process((0..<100).map { Int32($0 % 50) })
        let fork = session.fork()
        _ = try session.process((0..<40).map { Int32($0 % 50) })
        #expect(throws: StreamingError.self) { try session.rewind(to: fork) }
    }
}
