import Foundation
import Model
import Pipeline
import Store
import Testing
import TestSupport

/// What the lifecycle records when the store (not the run) fails, and when a run's hold is
/// taken away: nothing against the run.
@Suite("Run lifecycle: store outages and lost holds are not the run's failure")
struct RunHandBackTests {
    /// A hold whose loss the test decides (the PostgreSQL lease's heartbeat sets it there).
    final class ToggleHold: RunHold, @unchecked Sendable {
        // @unchecked Sendable: `lost` is guarded by `mutex`; `inner` is immutable.
        private let inner: any RunHold
        private let mutex = NSLock()
        private var lost = false
        init(_ inner: any RunHold) { self.inner = inner }
        func release() { inner.release() }
        var isLost: Bool { mutex.withLock { lost } }
        func lose() { mutex.withLock { lost = true } }
    }

    /// An SQLite store whose checkpoint writes can be made to fail with a chosen error, and
    /// whose holds the test can take away.
    final class FaultyStore: RunStoring, @unchecked Sendable {
        // @unchecked Sendable: the mutable fields are guarded by `mutex`.
        let inner: RunStore
        private let mutex = NSLock()
        private var writes = 0
        private var failAt: (write: Int, error: StoreError)?
        private var holds: [ToggleHold] = []
        init(_ inner: RunStore) { self.inner = inner }

        /// Checkpoint writes that reached the store (failed or not).
        var checkpointWrites: Int { mutex.withLock { writes } }
        /// The `write`-th checkpoint write (1-based) and every later one throws `error`.
        func failCheckpoints(from write: Int, with error: StoreError) { mutex.withLock { failAt = (write, error) } }
        func loseHolds() { for h in mutex.withLock({ holds }) { h.lose() } }

        var location: String { inner.location }
        func createRun(_ new: NewRun) throws -> RunRecord { try inner.createRun(new) }
        func writeCheckpoint(_ c: CheckpointWrite) throws {
            let fail: StoreError? = mutex.withLock {
                writes += 1
                return failAt.flatMap { writes >= $0.write ? $0.error : nil }
            }
            if let fail { throw fail }
            try inner.writeCheckpoint(c)
        }
        func setStatus(runID: String, _ status: RunStatus, error: String?) throws { try inner.setStatus(runID: runID, status, error: error) }
        func complete(runID: String, keepCache: Bool) throws { try inner.complete(runID: runID, keepCache: keepCache) }
        func deleteRun(id: String) throws { try inner.deleteRun(id: id) }
        func run(id: String) throws -> RunRecord? { try inner.run(id: id) }
        func runs(task: RunTask?, status: RunStatus?, batchID: String?) throws -> [RunRecord] { try inner.runs(task: task, status: status, batchID: batchID) }
        func latestCheckpoint(runID: String) throws -> CheckpointRecord? { try inner.latestCheckpoint(runID: runID) }
        func kvBlocks(runID: String) throws -> [KVBlock] { try inner.kvBlocks(runID: runID) }
        func nll(runID: String, range: Range<Int64>) throws -> NLLSlice { try inner.nll(runID: runID, range: range) }
        func metrics(runID: String) throws -> [MetricRow] { try inner.metrics(runID: runID) }
        func outputs(runID: String) throws -> [OutputChunk] { try inner.outputs(runID: runID) }
        func hold(runID: String) throws -> any RunHold {
            let hold = ToggleHold(try inner.hold(runID: runID))
            mutex.withLock { holds.append(hold) }
            return hold
        }
        func stateAndHolder(of record: RunRecord) -> RunWithState { inner.stateAndHolder(of: record) }
        func runs(task: RunTask?, state: RunState?, batchID: String?) throws -> [RunWithState] { try inner.runs(task: task, state: state, batchID: batchID) }
    }

    private func setUp(_ name: String) throws -> (model: LanguageModel, sha: String, doc: String, store: FaultyStore) {
        let dir = try Fixtures.temporaryDirectory(name)
        let modelPath = dir.appendingPathComponent("tiny.gguf").path
        try TinyModel.write(to: modelPath)
        let model = try LanguageModel(path: modelPath, precision: .fast)
        let doc = dir.appendingPathComponent("doc.txt").path
        let text = (0..<300).map { "Sentence \($0) of a document that goes on and on. " }.joined()
        try Data(text.utf8).write(to: URL(fileURLWithPath: doc))
        let store = FaultyStore(try RunStore(path: dir.appendingPathComponent("runs.sqlite").path))
        return (model, try FileDigest.sha256(path: modelPath), doc, store)
    }

    private let config = ScoreConfiguration(mode: .window(64), chunk: 32, checkpointEveryTokens: 128, checkpointEverySeconds: 0)

    @Test("A store that cannot be reached, stays busy or asks for a retry during a checkpoint: the run is not marked failed and no error is stored")
    func outageIsNotTheRunsFailure() throws {
        for (i, error) in [
            StoreError(code: .unreachable, path: "pg", message: "Cannot reach the PostgreSQL server at pg to write a checkpoint."),
            StoreError(code: .busy, path: "pg", message: "too many connections"),
            StoreError(code: .busy, path: "pg", message: "The server rolled back the transaction (deadlock detected, SQLSTATE 40P01) 10 times in a row."),
            StoreError(code: .leaseLost, path: "pg", message: "Another worker took run R over."),
        ].enumerated() {
            let s = try setUp("handback-outage-\(i)")
            s.store.failCheckpoints(from: 2, with: error)
            let run = try ScoreRun.start(documentPath: s.doc, model: s.model, modelSHA256: s.sha, config: config, store: s.store, threads: 1)
            #expect(throws: error) { try run.run() }
            let record = try #require(try s.store.run(id: run.runID))
            #expect(record.status == .running && record.errorText == nil, "\(error.code): \(record.status) \(record.errorText ?? "")")
            // The hold was given up (nobody holds it), and the first checkpoint is there to resume from.
            #expect(s.store.stateAndHolder(of: record).state == .interrupted)
            #expect(try s.store.latestCheckpoint(runID: run.runID)?.tokenIndex == 128)
        }
    }

    @Test("An error of the run itself still marks it failed, with the error (the test above can fail)")
    func runErrorsStillCount() throws {
        let s = try setUp("handback-counted")
        s.store.failCheckpoints(from: 2, with: StoreError.invalidData("the run's losses are not contiguous", runID: nil, path: "x"))
        let run = try ScoreRun.start(documentPath: s.doc, model: s.model, modelSHA256: s.sha, config: config, store: s.store, threads: 1)
        #expect(throws: StoreError.self) { try run.run() }
        let record = try #require(try s.store.run(id: run.runID))
        #expect(record.status == .failed && record.errorText?.contains("not contiguous") == true)
    }

    @Test("A hold taken away stops the run at the next token batch: nothing more is written, the run is not failed")
    func lostHoldStopsTheRun() throws {
        let s = try setUp("handback-lost")
        let run = try ScoreRun.start(documentPath: s.doc, model: s.model, modelSHA256: s.sha, config: config, store: s.store, threads: 1)
        var reports = 0
        var writesAtLoss = -1
        #expect(throws: StoreError.self) {
            try run.run(progress: { p in
                reports += 1
                // Lost just after the first checkpoint (at 128 tokens).
                if p.scored == 160 { writesAtLoss = s.store.checkpointWrites; s.store.loseHolds() }
            })
        }
        #expect(writesAtLoss == 1)
        #expect(s.store.checkpointWrites == 1, "a checkpoint was attempted after the hold was lost")
        #expect(reports == 5, "the run went on for \(reports - 5) token batches after the loss")
        #expect(run.scored == 160)
        let record = try #require(try s.store.run(id: run.runID))
        #expect(record.status == .running && record.errorText == nil && record.tokens == 128)
    }
}
