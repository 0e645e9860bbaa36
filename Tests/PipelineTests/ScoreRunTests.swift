import Foundation
import Model
import Pipeline
import Store
import Streaming
import Testing
import TestSupport

@Suite("Checkpointed score runs resume exactly", .serialized)
struct ScoreRunTests {
    let config = ScoreConfiguration(mode: .sinkBatch(sinks: 4, window: 252, evict: 64), chunk: 64,
                                    checkpointEveryTokens: 100, checkpointEverySeconds: 0, bucket: 128)

    private func losses(_ store: RunStore, _ run: String) throws -> [Float] {
        try store.nll(runID: run, range: 0..<1_000_000).nll
    }

    @Test("Pausing and resuming at several points gives bit-identical losses and gap-free metrics")
    func pauseResume() throws {
        let model = try #require(try SharedModel.load())
        let dir = try Fixtures.temporaryDirectory("score-run")
        let doc = try SharedModel.goldenDocument(in: dir)
        let store = try RunStore(path: dir.appendingPathComponent("runs.sqlite").path)
        let sha = try FileDigest.sha256(path: model.path)

        let straight = try ScoreRun.start(documentPath: doc, model: model, modelSHA256: sha, config: config, store: store, threads: 2)
        #expect(try straight.run() == .completed)
        let reference = try losses(store, straight.runID)
        #expect(reference.count == 2199)
        // The same losses as scoring the token array in memory.
        let engine = InferenceEngine(model: model, threads: 2, maxChunk: 64, maxContext: 256)
        let inMemory = try TokenScorer.score(tokens: try GoldenA.load().tokenIDs, mode: config.mode, engine: engine)
        #expect(inMemory.map(\.bitPattern) == reference.map(\.bitPattern))

        // Pause after a varying number of chunks, resume in a fresh object each time.
        var run = try ScoreRun.start(documentPath: doc, model: model, modelSHA256: sha, config: config, store: store, threads: 1)
        let id = run.runID
        for stopAfter in [3, 7, 1, 11] {
            var chunks = 0
            let outcome = try run.run(shouldStop: { chunks >= stopAfter }, progress: { _ in chunks += 1 })
            #expect(outcome == .paused)
            #expect(try store.run(id: id)?.status == .paused)
            run = try ScoreRun.resume(runID: id, store: store, model: model, modelSHA256: sha, threads: 2)
        }
        #expect(try run.run() == .completed)
        let resumed = try losses(store, id)
        #expect(resumed.map(\.bitPattern) == reference.map(\.bitPattern))

        let metrics = try store.metrics(runID: id)
        #expect(metrics.first?.bucketStart == 0)
        for (a, b) in zip(metrics, metrics.dropFirst()) { #expect(a.bucketEnd == b.bucketStart, "no gap, no duplicate") }
        #expect(metrics.last?.bucketEnd == 2199)
        #expect(try store.integrityCheck() == "ok")
    }

    @Test("Resume refuses completed runs, changed documents and runs held by another owner")
    func refusals() throws {
        let model = try #require(try SharedModel.load())
        let dir = try Fixtures.temporaryDirectory("score-refuse")
        let doc = try SharedModel.goldenDocument(in: dir)
        let store = try RunStore(path: dir.appendingPathComponent("runs.sqlite").path)
        let sha = try FileDigest.sha256(path: model.path)
        var short = config
        short.tokenLimit = 300
        let done = try ScoreRun.start(documentPath: doc, model: model, modelSHA256: sha, config: short, store: store, threads: 2)
        _ = try done.run()
        #expect(throws: RunError.completed(done.runID)) {
            _ = try ScoreRun.resume(runID: done.runID, store: store, model: model, modelSHA256: sha, threads: 2)
        }
        // `runs` shows completed runs as done, and runs with --tokens against their limit.
        #expect(StoredRun.fractionDone(try #require(try store.run(id: done.runID))) == 1)
        let limited = try ScoreRun.start(documentPath: doc, model: model, modelSHA256: sha, config: short, store: store, threads: 2)
        var limitedChunks = 0
        _ = try limited.run(shouldStop: { limitedChunks >= 1 }, progress: { _ in limitedChunks += 1 })
        let partial = try #require(try store.run(id: limited.runID))
        #expect(partial.status == .paused && partial.tokens > 0 && partial.tokens < 300)
        #expect(StoredRun.fractionDone(partial)
                == max(Double(partial.bytes) / Double(partial.documentSize), Double(partial.tokens) / 300))
        #expect(StoredRun.fractionDone(partial)! >= Double(partial.tokens) / 300)

        let paused = try ScoreRun.start(documentPath: doc, model: model, modelSHA256: sha, config: config, store: store, threads: 2)
        let id = paused.runID
        var chunks = 0
        _ = try paused.run(shouldStop: { chunks >= 2 }, progress: { _ in chunks += 1 })
        // While someone holds the run's lock, nobody else may resume it.
        let holder = try store.lock(runID: id)
        do {
            _ = try ScoreRun.resume(runID: id, store: store, model: model, modelSHA256: sha, threads: 2)
            Issue.record("a held run was resumed twice")
        } catch let error as StoreError {
            #expect(error.message.contains(id))
            #expect(error.holderPID == getpid())
        }
        holder.release()
        #expect(throws: RunError.self) {
            _ = try ScoreRun.resume(runID: id, store: store, model: model, modelSHA256: String(repeating: "0", count: 64), threads: 2)
        }
        try Data("changed".utf8).write(to: URL(fileURLWithPath: doc), options: .atomic)
        #expect(throws: RunError.changed(id, what: "document", path: doc)) {
            _ = try ScoreRun.resume(runID: id, store: store, model: model, modelSHA256: sha, threads: 2)
        }
    }

    @Test("Documents that cannot be scored are refused with the path and offset")
    func badDocuments() throws {
        let model = try #require(try SharedModel.load())
        let dir = try Fixtures.temporaryDirectory("bad-docs")
        func reader(_ bytes: [UInt8]) throws -> DocumentReader {
            let path = dir.appendingPathComponent("doc-\(UUID().uuidString).txt").path
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            return try DocumentReader(path: path, tokenizer: model.tokenizer)
        }
        let bad = try reader(Array("Hello, world.\n".utf8) + [0xFF] + Array(" more".utf8))
        do {
            while !bad.reachedEnd { _ = try bad.next() }
            Issue.record("invalid UTF-8 was accepted")
        } catch let error as DocumentError {
            #expect(error.code == "document.invalid-utf8")
            #expect(error.byteOffset == 14)
        }
        #expect(throws: DocumentError.self) { _ = try DocumentReader(path: dir.path, tokenizer: model.tokenizer) }
        #expect(throws: DocumentError.self) { _ = try DocumentReader(path: dir.path + "/missing.txt", tokenizer: model.tokenizer) }
    }

    @Test("A document that shrinks or grows while it is read is refused with the sizes; an unchanged one reads to its end")
    func changingDocument() throws {
        let model = try #require(try SharedModel.load())
        let dir = try Fixtures.temporaryDirectory("changing-doc")
        let text = String(repeating: "The quick brown fox jumps over the lazy dog. ", count: 400)  // 18 KB
        for change in ["none", "shrink", "grow"] {
            let path = dir.appendingPathComponent("\(change).txt").path
            try Data(text.utf8).write(to: URL(fileURLWithPath: path))
            let reader = try DocumentReader(path: path, tokenizer: model.tokenizer, blockSize: 4096)
            var tokens = try reader.next().count
            let handle = try #require(FileHandle(forUpdatingAtPath: path))
            if change == "shrink" { try handle.truncate(atOffset: 6000) }
            if change == "grow" { try handle.seekToEnd(); try handle.write(contentsOf: Data("More text.".utf8)) }
            try handle.close()
            do {
                while !reader.reachedEnd { tokens += try reader.next().count }
                #expect(change == "none", "a \(change) was not noticed")
                #expect(reader.bytesRead == Int64(text.utf8.count))
                #expect(tokens > 3000)
            } catch let error as DocumentError {
                #expect(change != "none", "\(error)")
                #expect(error.code == "document.changed")
                #expect("\(error)".contains("changed while it was being read"))
            }
        }
    }
}
