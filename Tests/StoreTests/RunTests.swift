import Foundation
import Testing
@testable import Store

@Suite("Creating, listing and changing runs")
struct RunTests {
    @Test("createRun assigns a short unique id, status running, zero progress")
    func create() throws {
        let dir = try TemporaryDirectory()
        let store = try RunStore(path: dir.databasePath)
        let run = try store.createRun(Sample.newRun(task: .summarize, batchID: "b1"))
        #expect(run.id.count == 7)
        #expect(run.id.first == "r")
        #expect(run.id.dropFirst().allSatisfy { RunID.alphabet.contains($0) })
        #expect(run.status == .running)
        #expect(run.tokens == 0 && run.bytes == 0 && run.nllSum == 0)
        #expect(run.perplexitySoFar == nil)
        let stored = try #require(try store.run(id: run.id))
        #expect(stored.task == .summarize)
        #expect(stored.batchID == "b1")
        #expect(stored.config == Sample.newRun().config)
        #expect(stored.mode == "sink(4,1020) batch:256")
        #expect(abs(stored.createdAt.timeIntervalSince(run.createdAt)) < 0.01)
        #expect(try store.run(id: "rzzzzzz") == nil)
        let ids = try (0 ..< 50).map { _ in try store.createRun(Sample.newRun()).id }
        #expect(Set(ids).count == 50)
    }

    @Test("runs(task:status:batchID:) filters and orders by creation")
    func list() throws {
        let dir = try TemporaryDirectory()
        let store = try RunStore(path: dir.databasePath)
        let a = try store.createRun(Sample.newRun(task: .score, batchID: "b"))
        let b = try store.createRun(Sample.newRun(task: .translate))
        let c = try store.createRun(Sample.newRun(task: .score, batchID: "b"))
        try store.setStatus(runID: c.id, .completed)
        #expect(try store.runs().map(\.id) == [a.id, b.id, c.id])
        #expect(try store.runs(task: .score).map(\.id) == [a.id, c.id])
        #expect(try store.runs(status: .running).map(\.id) == [a.id, b.id])
        #expect(try store.runs(task: .score, status: .completed, batchID: "b").map(\.id) == [c.id])
        #expect(try store.runs(batchID: "other").isEmpty)
    }

    @Test("setStatus records error text and completion time")
    func status() throws {
        let dir = try TemporaryDirectory()
        let store = try RunStore(path: dir.databasePath)
        let run = try store.createRun(Sample.newRun())
        try store.setStatus(runID: run.id, .failed, error: "model file vanished")
        var stored = try #require(try store.run(id: run.id))
        #expect(stored.status == .failed)
        #expect(stored.errorText == "model file vanished")
        #expect(stored.completedAt == nil)
        try store.setStatus(runID: run.id, .completed)
        stored = try #require(try store.run(id: run.id))
        #expect(stored.status == .completed && stored.errorText == nil && stored.completedAt != nil)
        let error = storeError { try store.setStatus(runID: "rnothere", .paused) }
        #expect(error?.code == .runNotFound)
        #expect(error?.description.contains("rnothere") == true)
    }

    @Test("deleteRun removes the run and cascades to every table")
    func delete() throws {
        let dir = try TemporaryDirectory()
        let store = try RunStore(path: dir.databasePath)
        let run = try store.createRun(Sample.newRun())
        let keep = try store.createRun(Sample.newRun())
        var write = Sample.checkpoint(run.id, at: 64, kv: [Sample.kvBlock(0, 64)], nll: [Sample.nllBlock(0, 64)], live: [0 ..< 64])
        write.newMetrics = [MetricRow(bucketStart: 0, bucketEnd: 64, meanNLL: 1, ppl: 2.7, cumulativePPL: 2.7, tokensPerSecond: 100, cacheFill: 0.06, peakMemoryBytes: 1 << 20)]
        write.newOutputs = [OutputChunk(sequence: 0, kind: "note", byteStart: 0, byteEnd: 10, text: "hi")]
        try store.writeCheckpoint(write)
        try store.writeCheckpoint(Sample.checkpoint(keep.id, at: 64, kv: [Sample.kvBlock(0, 64)], live: [0 ..< 64]))
        try store.deleteRun(id: run.id)
        #expect(try store.run(id: run.id) == nil)
        let counts = try store.pool.read { db in
            try RunStore.tableNames.dropFirst().map {
                try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM \($0) WHERE runID = ?", arguments: [run.id]) ?? -1
            }
        }
        #expect(counts == [0, 0, 0, 0, 0])
        #expect(try store.kvBlocks(runID: keep.id).count == 1)
        #expect(storeError { try store.deleteRun(id: run.id) }?.code == .runNotFound)
    }
}
