import Foundation
import Kernels
import Model
import Pipeline
import Store
import Streaming
import Testing
import TestSupport

/// The run lifecycle shared by score and task runs, the progress figures it reports, and the
/// memory plan, on a tiny model the test writes.
@Suite("Run lifecycle, progress and memory plan")
struct RunLifecycleTests {
    /// A tiny model and a document of `repeats` sentences in a fresh folder.
    private func setUp(_ name: String, repeats: Int) throws -> (model: LanguageModel, sha: String, doc: String, store: RunStore) {
        let dir = try Fixtures.temporaryDirectory(name)
        let modelPath = dir.appendingPathComponent("tiny.gguf").path
        try TinyModel.write(to: modelPath)
        let model = try LanguageModel(path: modelPath, precision: .fast)
        let doc = dir.appendingPathComponent("doc.txt").path
        let text = (0..<repeats).map { "Sentence \($0) of a document that goes on and on. " }.joined()
        try Data(text.utf8).write(to: URL(fileURLWithPath: doc))
        let store = try RunStore(path: dir.appendingPathComponent("runs.sqlite").path)
        return (model, try FileDigest.sha256(path: modelPath), doc, store)
    }

    @Test("Progress follows the bytes scored, not the reader's read-ahead, and --tokens when given")
    func progressFraction() throws {
        let s = try setUp("progress-fraction", repeats: 4000)
        let config = ScoreConfiguration(mode: .window(64), chunk: 64, checkpointEveryTokens: 0, checkpointEverySeconds: 0)
        let run = try ScoreRun.start(documentPath: s.doc, model: s.model, modelSHA256: s.sha, config: config, store: s.store, threads: 1)
        var reports: [RunProgressReport] = []
        #expect(try run.run(progress: { reports.append($0) }) == .completed)
        let first = try #require(reports.first)
        // One chunk of 64 tokens of a ~200 KB document: far below 1% (the read-ahead block of
        // 16 KiB alone would be 8%).
        #expect(first.fraction < 0.01, "first report at \(first.fraction)")
        #expect(first.fraction > 0)
        // Smooth: every chunk moves the fraction forward, by little.
        for (a, b) in zip(reports, reports.dropFirst()) {
            #expect(b.fraction >= a.fraction)
            #expect(b.fraction - a.fraction < 0.01)
        }
        #expect(reports.last?.fraction == 1)

        let limited = ScoreConfiguration(mode: .window(64), chunk: 64, checkpointEveryTokens: 0, checkpointEverySeconds: 0, tokenLimit: 640)
        let short = try ScoreRun.start(documentPath: s.doc, model: s.model, modelSHA256: s.sha, config: limited, store: s.store, threads: 1)
        var fractions: [Double] = []
        #expect(try short.run(progress: { fractions.append($0.fraction) }) == .completed)
        #expect(fractions.first.map { abs($0 - 0.1) < 1e-9 } == true, "64 of 640 tokens: \(fractions)")
        #expect(fractions.last == 1)
    }

    @Test("A completed run drops its K/V blocks unless it keeps its cache; its losses stay")
    func completedRunsDropTheirCache() throws {
        let s = try setUp("lifecycle-cache", repeats: 200)
        for keep in [false, true] {
            let config = ScoreConfiguration(mode: .sinkBatch(sinks: 4, window: 124, evict: 32), chunk: 64,
                                            checkpointEveryTokens: 128, checkpointEverySeconds: 0, keepCache: keep)
            let run = try ScoreRun.start(documentPath: s.doc, model: s.model, modelSHA256: s.sha, config: config, store: s.store, threads: 1)
            #expect(try run.run() == .completed)
            #expect(try s.store.run(id: run.runID)?.status == .completed)
            #expect(try s.store.kvBlocks(runID: run.runID).isEmpty == !keep, "keepCache \(keep)")
            #expect(try s.store.nll(runID: run.runID, range: 0..<1_000_000).nll.count == run.scored)
        }
    }

    @Test("Score and task runs refuse the other's runs with one error naming both kinds")
    func wrongTask() throws {
        let s = try setUp("lifecycle-task", repeats: 50)
        let config = ScoreConfiguration(mode: .window(64), chunk: 64)
        let run = try ScoreRun.start(documentPath: s.doc, model: s.model, modelSHA256: s.sha, config: config, store: s.store, threads: 1)
        _ = try run.run(shouldStop: { true })
        #expect(throws: RunError.unknownRun("nope")) {
            _ = try ScoreRun.resume(runID: "nope", store: s.store, model: s.model, modelSHA256: s.sha, threads: 1)
        }
        do {
            _ = try RunLifecycle.open(runID: run.runID, tasks: [.summarize, .translate], as: ScoreConfiguration.self,
                                      store: s.store, model: s.model, modelSHA256: s.sha)
            Issue.record("a score run opened as a task run")
        } catch let error as RunError {
            #expect(error.code == "run.task")
            #expect(error.message.contains("score run") && error.message.contains("summarize or translate"))
        }
        // The refusal took no lock and changed nothing: the run resumes and completes.
        let resumed = try ScoreRun.resume(runID: run.runID, store: s.store, model: s.model, modelSHA256: s.sha, threads: 1)
        #expect(try resumed.run() == .completed)
    }

    @Test("The memory plan counts the cache the mode allocates, in half precision on the fast path")
    func memoryPlan() throws {
        let s = try setUp("memory-plan", repeats: 1)
        let f32 = try LanguageModel(path: s.model.path, precision: .f32)
        for mode in [AttentionMode.dense, .window(200), .sink(sinks: 4, window: 200), .sinkBatch(sinks: 4, window: 200, evict: 50), .recompute(64)] {
            let fast = MemoryPlan(model: s.model, mode: mode, chunk: 64, threads: 1)
            let full = MemoryPlan(model: f32, mode: mode, chunk: 64, threads: 1)
            #expect(fast.cache * 2 == full.cache, "\(mode)")
            // What a stream of this mode really allocates.
            if mode != .recompute(64) {
                let engine = InferenceEngine(model: s.model, threads: 1, maxChunk: 64,
                                             maxContext: mode.maxVisible(contextLength: s.model.config.contextLength))
                let session = try StreamSession(engine: engine, mode: mode)
                #expect(session.storage.byteCount == fast.cache, "\(mode)")
            }
        }
    }
}
