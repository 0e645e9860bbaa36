import Foundation
import GRDB
import Testing
@testable import Store

@Suite("Completing, measuring, deleting and pruning runs")
struct RunCleanupTests {
    /// A run with two K/V blocks, one loss block, a metric row and an output.
    func fullRun(_ store: RunStore, kvBytes: Int = 256, kvBlocks: Int = 2) throws -> RunRecord {
        let run = try store.createRun(Sample.newRun())
        let kv = (0 ..< kvBlocks).map { Sample.kvBlock(Int64($0) * 64, 64, bytes: kvBytes) }
        let tokens = Int64(kvBlocks) * 64
        var write = Sample.checkpoint(run.id, at: tokens, kv: kv, nll: [Sample.nllBlock(0, tokens)], live: [0 ..< tokens])
        write.newMetrics = [MetricRow(bucketStart: 0, bucketEnd: tokens, meanNLL: 1, ppl: 2.7, cumulativePPL: 2.7,
                                      tokensPerSecond: 100, cacheFill: 0.5, peakMemoryBytes: 1 << 20)]
        write.newOutputs = [OutputChunk(sequence: 0, kind: "note", byteStart: 0, byteEnd: 10, text: "Résumé")]
        try store.writeCheckpoint(write)
        return try #require(try store.run(id: run.id))
    }

    func count(_ store: RunStore, _ table: String, _ runID: String) throws -> Int {
        try store.pool.read { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM \(table) WHERE runID = ?", arguments: [runID]) ?? -1
        }
    }

    @Test("complete(keepCache: false) drops the K/V blocks in the same transaction and keeps everything else")
    func complete() throws {
        let dir = try TemporaryDirectory()
        let store = try RunStore(path: dir.databasePath)
        let run = try fullRun(store)
        let kept = try fullRun(store)
        try store.setStatus(runID: run.id, .failed, error: "was failing once")
        let losses = try store.nll(runID: run.id, range: 0 ..< 128)
        let checkpoint = try store.latestCheckpoint(runID: run.id)

        try store.complete(runID: run.id, keepCache: false)
        let stored = try #require(try store.run(id: run.id))
        #expect(stored.status == .completed && stored.completedAt != nil && stored.errorText == nil)
        #expect(try count(store, "kv_block", run.id) == 0)
        #expect(try store.nll(runID: run.id, range: 0 ..< 128) == losses)
        #expect(try store.metrics(runID: run.id).count == 1)
        #expect(try store.outputs(runID: run.id).map(\.text) == ["Résumé"])
        #expect(try store.latestCheckpoint(runID: run.id) == checkpoint)
        #expect(try store.storedSize(runID: run.id).kvCache == 0)

        try store.complete(runID: kept.id, keepCache: true)
        #expect(try store.run(id: kept.id)?.status == .completed)
        #expect(try count(store, "kv_block", kept.id) == 2)
        #expect(storeError { try store.complete(runID: "rnothere", keepCache: false) }?.code == .runNotFound)
    }

    @Test("storedBytes sums the lengths of every row of the run")
    func storedBytes() throws {
        let dir = try TemporaryDirectory()
        let store = try RunStore(path: dir.databasePath)
        let bare = try store.createRun(Sample.newRun())
        let bareSize = try store.storedSize(runID: bare.id)
        let new = Sample.newRun()
        let text = [new.task.rawValue, new.documentPath, new.documentSHA256, new.modelPath, new.modelSHA256,
                    new.config, new.mode, "running"].map { Int64($0.utf8.count) }.reduce(0, +)
        #expect(bareSize.record == RunStore.runRowFixedBytes + text)
        #expect(bareSize.total == bareSize.record)

        let run = try fullRun(store, kvBytes: 1000)
        let size = try store.storedSize(runID: run.id)
        #expect(size.kvCache == 2000)
        let block = Sample.nllBlock(0, 128)
        #expect(size.losses == Int64(128 * 4 + BlobCoding.encodeDeltaVarints(block.byteOffsets).count))
        #expect(size.checkpoint == RunStore.checkpointRowFixedBytes + 40 + 64 + 16 + Int64("0-128".utf8.count))
        #expect(size.outputs == Int64("Résumé".utf8.count + "note".utf8.count))
        #expect(size.metrics == RunStore.metricRowBytes)
        #expect(try store.storedBytes(runID: run.id) == size.total)
        #expect(size.total == size.kvCache + size.losses + size.checkpoint + size.outputs + size.metrics + size.record)
        #expect(try store.storedSizes() == [bare.id: bareSize, run.id: size])
        #expect(try store.storedBytes(runID: "rnothere") == 0)
    }

    @Test("deleteRuns: all or nothing; unknown or held ids delete nothing; lock files go")
    func deleteRuns() throws {
        let dir = try TemporaryDirectory()
        let store = try RunStore(path: dir.databasePath)
        let a = try fullRun(store), b = try fullRun(store), c = try fullRun(store)
        let staleLock = try leaveStaleLockFile(store, runID: b.id)

        let unknown = storeError { try store.deleteRuns(ids: [a.id, "rnothere"]) }
        #expect(unknown?.code == .runNotFound && unknown?.runID == "rnothere")
        #expect(try store.run(id: a.id) != nil)

        let holder = try store.lock(runID: c.id)
        let held = storeError { try store.deleteRuns(ids: [a.id, c.id]) }
        #expect(held?.code == .runLocked && held?.holderPID == getpid())
        #expect(try store.run(id: a.id) != nil && store.state(of: a) == .interrupted)
        #expect(!FileManager.default.fileExists(atPath: store.lockPath(runID: a.id)), "the refused delete left no lock file")
        holder.release()

        let size = try store.storedBytes(runID: b.id)
        let deleted = try store.deleteRuns(ids: [b.id, a.id, b.id])
        #expect(deleted == [PrunedRun(runID: b.id, bytes: size), PrunedRun(runID: a.id, bytes: try #require(deleted.last).bytes)])
        #expect(try store.run(id: a.id) == nil && store.run(id: b.id) == nil)
        #expect(try count(store, "kv_block", a.id) == 0 && count(store, "nll_block", b.id) == 0)
        #expect(!FileManager.default.fileExists(atPath: staleLock))
        #expect(try store.run(id: c.id) != nil)
        try store.deleteRun(id: c.id)
        #expect(try FileManager.default.contentsOfDirectory(atPath: store.lockDirectory).isEmpty)
    }

    @Test("prune drops completed runs' K/V caches, deletes old completed runs, never touches unfinished ones")
    func prune() throws {
        let dir = try TemporaryDirectory()
        let store = try RunStore(path: dir.databasePath)
        let recent = try fullRun(store), old = try fullRun(store), inUse = try fullRun(store)
        for run in [recent, old, inUse] { try store.setStatus(runID: run.id, .completed) }
        try store.pool.write { db in
            try db.execute(sql: "UPDATE run SET completedAt = ? WHERE id = ?",
                           arguments: [Date(timeIntervalSinceNow: -10 * 86_400), old.id])
        }
        let paused = try fullRun(store), failed = try fullRun(store), interrupted = try fullRun(store), running = try fullRun(store)
        try store.setStatus(runID: paused.id, .paused)
        try store.setStatus(runID: failed.id, .failed, error: "x")
        _ = try leaveStaleLockFile(store, runID: interrupted.id)
        let orphan = try leaveStaleLockFile(store, runID: "rgone00")
        let runningLock = try store.lock(runID: running.id)
        let inUseLock = try store.lock(runID: inUse.id)
        let unfinished = [paused, failed, interrupted, running]
        func snapshot() throws -> [String: [KVBlock]] {
            try Dictionary(uniqueKeysWithValues: unfinished.map { ($0.id, try store.kvBlocks(runID: $0.id)) })
        }
        let before = try snapshot()
        #expect(before.values.allSatisfy { $0.count == 2 })

        // A dry run reports and changes nothing.
        let dry = try store.prune(PruneOptions(deleteCompleted: true, dryRun: true))
        #expect(dry.deletedRuns.map(\.runID) == [recent.id, old.id])
        #expect(dry.skippedInUse == [inUse.id])
        #expect(dry.keptUnfinished == 4)
        #expect(dry.removedLockFiles.sorted() == [orphan, store.lockPath(runID: interrupted.id)].sorted())
        #expect(try store.runs(state: nil).count == 7)
        #expect(FileManager.default.fileExists(atPath: orphan))

        // Default: only the caches of completed runs that nobody holds.
        let first = try store.prune(PruneOptions())
        #expect(first.droppedCaches.map(\.runID) == [recent.id, old.id])
        #expect(first.droppedCaches.allSatisfy { $0.bytes == 512 })
        #expect(first.deletedRuns.isEmpty && first.skippedInUse == [inUse.id])
        #expect(try count(store, "kv_block", recent.id) == 0 && count(store, "kv_block", old.id) == 0)
        #expect(try count(store, "kv_block", inUse.id) == 2)
        #expect(try count(store, "nll_block", recent.id) == 1)
        #expect(try snapshot() == before)
        #expect(!FileManager.default.fileExists(atPath: orphan))
        #expect(FileManager.default.fileExists(atPath: store.lockPath(runID: running.id)), "a held lock file stays")
        #expect(first.vacuumed == false)

        // --completed --older-than 7d: only the old one goes.
        let second = try store.prune(PruneOptions(deleteCompleted: true, completedBefore: Date(timeIntervalSinceNow: -7 * 86_400)))
        #expect(second.deletedRuns.map(\.runID) == [old.id])
        #expect(try store.run(id: old.id) == nil && store.run(id: recent.id) != nil)

        // --completed: every completed run nobody holds; unfinished runs still intact.
        inUseLock.release()
        let third = try store.prune(PruneOptions(deleteCompleted: true))
        #expect(third.deletedRuns.map(\.runID) == [recent.id, inUse.id])
        #expect(try store.runs(state: nil).map(\.record.id) == unfinished.map(\.id))
        #expect(try store.runs(state: nil).map(\.state) == [.paused, .failed, .interrupted, .running])
        #expect(try snapshot() == before)
        for run in unfinished { #expect(try store.latestCheckpoint(runID: run.id) != nil) }
        runningLock.release()
        #expect(try store.integrityCheck() == "ok")
    }

    @Test("prune vacuums when the freed space pays, and the file shrinks; not while a run is running")
    func vacuum() throws {
        let dir = try TemporaryDirectory()
        let store = try RunStore(path: dir.databasePath)
        let big = try fullRun(store, kvBytes: 64 << 10, kvBlocks: 40)
        let small = try fullRun(store)
        try store.setStatus(runID: small.id, .paused)
        try store.setStatus(runID: big.id, .completed)

        let running = try store.lock(runID: small.id)
        let skipped = try store.prune(PruneOptions(keepCache: true, vacuum: .always))
        #expect(!skipped.vacuumed && skipped.vacuumSkipped?.contains(small.id) == true)
        running.release()

        try store.checkpointWAL()
        let before = store.fileBytesOnDisk()
        #expect(before > 2_500_000)
        let report = try store.prune(PruneOptions())
        #expect(report.droppedCaches == [PrunedRun(runID: big.id, bytes: 40 * (64 << 10))])
        #expect(report.vacuumed)
        #expect(report.fileBytesBefore == before)
        #expect(report.fileBytesAfter == store.fileBytesOnDisk())
        #expect(report.fileBytesAfter < 300_000, "\(report.fileBytesAfter) bytes after VACUUM")
        let wal = (try? FileManager.default.attributesOfItem(atPath: dir.databasePath + "-wal"))?[.size] as? NSNumber
        #expect((wal?.intValue ?? 0) == 0, "the write-ahead log was truncated")
        #expect(try store.kvBlocks(runID: small.id).count == 2)
        #expect(try store.integrityCheck() == "ok")

        // Nothing more to free: no VACUUM.
        #expect(try store.prune(PruneOptions()).vacuumed == false)
    }
}
