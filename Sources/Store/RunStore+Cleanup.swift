import Foundation
import GRDB

/// How many bytes one run takes in the store, by kind of row.
///
/// These are the lengths of the stored values (blobs and text) plus a fixed estimate per row of
/// numbers; SQLite's pages add some overhead, so the file shrinks by about this much when the
/// run is deleted and the database vacuumed.
public struct RunStoredSize: Sendable, Equatable {
    /// K/V cache blocks (`kv_block.data`): only needed to resume the run.
    public var kvCache: Int64 = 0
    /// Per-token losses and byte offsets (`nll_block`).
    public var losses: Int64 = 0
    /// The latest checkpoint's states (`checkpoint`).
    public var checkpoint: Int64 = 0
    /// Task outputs (`output_chunk.text`).
    public var outputs: Int64 = 0
    /// Metric rows (`metric`), `RunStore.metricRowBytes` each.
    public var metrics: Int64 = 0
    /// The run's own row.
    public var record: Int64 = 0

    public init() {}

    /// Everything together.
    public var total: Int64 { kvCache + losses + checkpoint + outputs + metrics + record }
}

/// A run that `deleteRuns` or `prune` deleted (or would delete), or whose K/V cache it dropped.
public struct PrunedRun: Sendable, Equatable {
    public var runID: String
    /// Bytes the run's deleted rows took (`RunStoredSize.total`, or `.kvCache` when only the
    /// cache was dropped).
    public var bytes: Int64

    public init(runID: String, bytes: Int64) {
        self.runID = runID
        self.bytes = bytes
    }
}

/// When `prune` runs `VACUUM`.
public enum VacuumPolicy: String, Sendable, CaseIterable {
    /// Never.
    case never
    /// When the free pages are more than a quarter of the file or more than 64 MiB.
    case whenWorthwhile
    /// Always (unless a live process is running a run).
    case always
}

/// What `prune` should do.
public struct PruneOptions: Sendable, Equatable {
    /// Also delete completed runs entirely (else only their K/V caches are dropped).
    public var deleteCompleted: Bool
    /// With `deleteCompleted`: only runs completed before this date (nil: every completed run).
    public var completedBefore: Date?
    /// Keep the K/V blocks of the completed runs that are not deleted.
    public var keepCache: Bool
    /// Only report what would be done.
    public var dryRun: Bool
    public var vacuum: VacuumPolicy

    public init(deleteCompleted: Bool = false, completedBefore: Date? = nil, keepCache: Bool = false,
                dryRun: Bool = false, vacuum: VacuumPolicy = .whenWorthwhile) {
        self.deleteCompleted = deleteCompleted
        self.completedBefore = completedBefore
        self.keepCache = keepCache
        self.dryRun = dryRun
        self.vacuum = vacuum
    }
}

/// What `prune` did (or, for a dry run, would do).
public struct PruneReport: Sendable, Equatable {
    public var dryRun: Bool
    /// Completed runs deleted with everything stored for them.
    public var deletedRuns: [PrunedRun] = []
    /// Completed runs whose K/V blocks were dropped (`bytes`: the blocks' size).
    public var droppedCaches: [PrunedRun] = []
    /// Completed runs left alone because a live process holds them.
    public var skippedInUse: [String] = []
    /// Unfinished runs (running, interrupted, paused, failed), never touched.
    public var keptUnfinished: Int = 0
    /// Lock files removed because nobody held them (of deleted runs, or left by dead processes).
    public var removedLockFiles: [String] = []
    /// The database and its write-ahead log on disk, before and after.
    public var fileBytesBefore: Int64 = 0
    public var fileBytesAfter: Int64 = 0
    /// Free pages in the database after the deletions, before any VACUUM (an estimate for a dry run).
    public var freeBytes: Int64 = 0
    /// Whether VACUUM ran (or, for a dry run, would run).
    public var vacuumed = false
    /// Why VACUUM was skipped although it would pay, if it was.
    public var vacuumSkipped: String?

    public init(dryRun: Bool) { self.dryRun = dryRun }

    /// Bytes of rows deleted (runs and caches).
    public var bytesDeleted: Int64 {
        deletedRuns.reduce(0) { $0 + $1.bytes } + droppedCaches.reduce(0) { $0 + $1.bytes }
    }
}

extension RunStore {
    /// The estimated size of one metric row (eight numbers and the run id).
    public static let metricRowBytes: Int64 = 80
    /// The estimated size of a run row besides its text columns.
    static let runRowFixedBytes: Int64 = 96
    /// The estimated size of a checkpoint row besides its blobs.
    static let checkpointRowFixedBytes: Int64 = 48

    /// Marks a run completed (setting `completedAt`, clearing its error text) and, unless
    /// `keepCache`, deletes its K/V blocks, in one transaction.
    ///
    /// A completed run cannot be resumed, so its K/V blocks are dead weight (they are most of a
    /// run's size); its losses, metrics, outputs and last checkpoint stay.
    /// - Throws: `StoreError` `.runNotFound` or a database error (then nothing changed).
    public func complete(runID: String, keepCache: Bool) throws {
        try write("complete run \(runID)", runID: runID) { db in
            guard var run = try RunRecord.fetchOne(db, key: runID) else {
                throw StoreError.runNotFound(runID, path: self.path)
            }
            let now = Date()
            run.status = .completed
            run.errorText = nil
            run.updatedAt = now
            run.completedAt = now
            try run.update(db)
            if !keepCache {
                try db.execute(sql: "DELETE FROM kv_block WHERE runID = ?", arguments: [runID])
            }
        }
    }

    /// The bytes a run takes in the store (see `RunStoredSize`); 0 for an unknown run.
    public func storedBytes(runID: String) throws -> Int64 {
        try storedSize(runID: runID).total
    }

    /// A run's stored bytes by kind of row; all zero for an unknown run.
    public func storedSize(runID: String) throws -> RunStoredSize {
        try storedSizes(runIDs: [runID])[runID] ?? RunStoredSize()
    }

    /// The stored sizes of the given runs (nil: every run), by run id.
    ///
    /// Computed with `SUM(LENGTH(...))`, which SQLite answers from the record headers without
    /// reading the blobs.
    public func storedSizes(runIDs: [String]? = nil) throws -> [String: RunStoredSize] {
        try read("measure the stored runs") { db in try Self.storedSizes(db, runIDs: runIDs) }
    }

    static func storedSizes(_ db: Database, runIDs: [String]?) throws -> [String: RunStoredSize] {
        var sizes: [String: RunStoredSize] = [:]
        let ids = runIDs.map { Set($0) }
        func filter(_ column: String) -> String {
            guard let ids else { return "" }
            return " WHERE \(column) IN (\(Array(repeating: "?", count: ids.count).joined(separator: ",")))"
        }
        let arguments = StatementArguments(ids.map(Array.init) ?? [])
        func sum(_ sql: String, column: String, into key: WritableKeyPath<RunStoredSize, Int64>) throws {
            let rows = try Row.fetchAll(db, sql: sql + filter(column) + " GROUP BY \(column)", arguments: arguments)
            for row in rows {
                let id: String = row[0]
                sizes[id, default: RunStoredSize()][keyPath: key] = (row[1] as Int64?) ?? 0
            }
        }
        let blob = { (column: String) in "IFNULL(LENGTH(CAST(\(column) AS BLOB)), 0)" }
        try sum("SELECT id, \(runRowFixedBytes) + " + ["batchID", "task", "documentPath", "documentSHA256", "modelPath",
                                                          "modelSHA256", "config", "mode", "status", "errorText"]
                    .map(blob).joined(separator: " + ") + " FROM run",
                column: "id", into: \.record)
        try sum("SELECT runID, SUM(LENGTH(data)) FROM kv_block", column: "runID", into: \.kvCache)
        try sum("SELECT runID, SUM(LENGTH(nll) + LENGTH(byteOffsets)) FROM nll_block", column: "runID", into: \.losses)
        try sum("SELECT runID, SUM(\(checkpointRowFixedBytes) + LENGTH(tokenizerState) + LENGTH(cacheState) + LENGTH(taskState)"
                    + " + IFNULL(LENGTH(rngState), 0) + LENGTH(CAST(liveRanges AS BLOB))) FROM checkpoint",
                column: "runID", into: \.checkpoint)
        try sum("SELECT runID, SUM(LENGTH(CAST(text AS BLOB)) + LENGTH(CAST(kind AS BLOB))) FROM output_chunk",
                column: "runID", into: \.outputs)
        try sum("SELECT runID, COUNT(*) * \(metricRowBytes) FROM metric", column: "runID", into: \.metrics)
        return sizes
    }

    /// Deletes a run and everything stored for it (checkpoints, blocks, metrics, outputs) and
    /// its lock file.
    ///
    /// - Throws: `StoreError` `.runNotFound` if there is no such run, `.runLocked` if a live
    ///   process holds it (then nothing is deleted).
    public func deleteRun(id: String) throws {
        _ = try deleteRuns(ids: [id])
    }

    /// Deletes several runs, all or none: every id must name a run and no live process may hold
    /// any of them. Their rows go in one transaction; their lock files are removed.
    ///
    /// - Returns: The deleted runs with the bytes each took, in the order given (duplicates once).
    /// - Throws: `StoreError` `.runNotFound` for the first unknown id, `.runLocked` for the first
    ///   run in use; nothing is deleted then.
    @discardableResult
    public func deleteRuns(ids: [String]) throws -> [PrunedRun] {
        var seen = Set<String>()
        let unique = ids.filter { seen.insert($0).inserted }
        let existing = try read("look up runs to delete") { db in
            try Set(String.fetchAll(db, sql: "SELECT id FROM run"))
        }
        if let missing = unique.first(where: { !existing.contains($0) }) {
            throw StoreError.runNotFound(missing, path: path)
        }
        // Hold every run while deleting: nobody may start resuming one meanwhile.
        var locks: [RunLock] = []
        defer { for lock in locks { lock.release() } }
        for id in unique { locks.append(try lock(runID: id)) }
        let sizes = try storedSizes(runIDs: unique)
        try write("delete \(unique.count == 1 ? "run \(unique[0])" : "\(unique.count) runs")") { db in
            for id in unique {
                guard try RunRecord.deleteOne(db, key: id) else {
                    throw StoreError.runNotFound(id, path: self.path)
                }
            }
        }
        return unique.map { PrunedRun(runID: $0, bytes: sizes[$0]?.total ?? 0) }
    }

    /// Frees the space of runs that nothing needs any more; never touches an unfinished run
    /// (running, interrupted, paused or failed: all of them can still go on).
    ///
    /// - Drops the K/V blocks of completed runs (unless `keepCache`): nothing can resume them.
    /// - With `deleteCompleted`, deletes completed runs (completed before `completedBefore`, if
    ///   given) with everything stored for them.
    /// - Removes lock files nobody holds (of runs that are gone, or left by dead processes).
    /// - Runs `VACUUM` per `vacuum` (not while a run is running: it would keep the database
    ///   locked for that run's checkpoints), then truncates the write-ahead log so that the
    ///   reported size is the real file size.
    /// A completed run that a live process holds is skipped. A dry run changes nothing and
    /// reports what would be done.
    public func prune(_ options: PruneOptions) throws -> PruneReport {
        var report = PruneReport(dryRun: options.dryRun)
        report.fileBytesBefore = fileBytesOnDisk()
        let runs = try self.runs(state: nil)
        let sizes = try storedSizes()
        report.keptUnfinished = runs.filter { $0.state.isUnfinished }.count
        let anyRunning = runs.first { $0.state == .running }

        var toDelete: [String] = []
        var toDrop: [String] = []
        for run in runs where run.state == .completed {
            let size = sizes[run.record.id] ?? RunStoredSize()
            let finished = run.record.completedAt ?? run.record.updatedAt
            if options.deleteCompleted, options.completedBefore.map({ finished < $0 }) ?? true {
                toDelete.append(run.record.id)
            } else if !options.keepCache, size.kvCache > 0 {
                toDrop.append(run.record.id)
            }
        }

        // Hold each run while changing it; skip the ones a live process holds.
        var locks: [RunLock] = []
        defer { for lock in locks { lock.release() } }
        func take(_ ids: [String]) throws -> [String] {
            var taken: [String] = []
            for id in ids {
                if options.dryRun {
                    if lockState(runID: id).mayBeHeld { report.skippedInUse.append(id) } else { taken.append(id) }
                    continue
                }
                do {
                    locks.append(try lock(runID: id))
                    taken.append(id)
                } catch let error as StoreError where error.code == .runLocked {
                    report.skippedInUse.append(id)
                }
            }
            return taken
        }
        toDelete = try take(toDelete)
        toDrop = try take(toDrop)
        report.deletedRuns = toDelete.map { PrunedRun(runID: $0, bytes: sizes[$0]?.total ?? 0) }
        report.droppedCaches = toDrop.map { PrunedRun(runID: $0, bytes: sizes[$0]?.kvCache ?? 0) }

        if !options.dryRun, !(toDelete.isEmpty && toDrop.isEmpty) {
            let toDelete = toDelete, toDrop = toDrop
            try write("prune \(toDelete.count) runs and \(toDrop.count) K/V caches") { db in
                // The status test again, inside the transaction: only completed runs, ever.
                for id in toDelete {
                    try db.execute(sql: "DELETE FROM run WHERE id = ? AND status = 'completed'", arguments: [id])
                }
                for id in toDrop {
                    try db.execute(sql: """
                        DELETE FROM kv_block WHERE runID = ?
                        AND EXISTS (SELECT 1 FROM run WHERE id = ? AND status = 'completed')
                        """, arguments: [id, id])
                }
            }
        }
        for lock in locks { lock.release() }
        locks.removeAll()

        report.removedLockFiles = removeFreeLockFiles(dryRun: options.dryRun)

        // VACUUM when it pays.
        let pages = try read("measure the database") { db in
            (pageSize: try Int64.fetchOne(db, sql: "PRAGMA page_size") ?? 4096,
             pageCount: try Int64.fetchOne(db, sql: "PRAGMA page_count") ?? 0,
             freePages: try Int64.fetchOne(db, sql: "PRAGMA freelist_count") ?? 0)
        }
        report.freeBytes = pages.freePages * pages.pageSize
        if options.dryRun { report.freeBytes += report.bytesDeleted }
        let fileBytes = pages.pageCount * pages.pageSize
        let worthwhile = report.freeBytes > 0
            && (report.freeBytes * 4 > fileBytes || report.freeBytes > 64 << 20)
        let wanted = options.vacuum == .always || (options.vacuum == .whenWorthwhile && worthwhile)
        if wanted, let anyRunning {
            report.vacuumSkipped = "run \(anyRunning.record.id) is running (VACUUM would hold up its checkpoints); prune again when it is done"
        } else if wanted {
            report.vacuumed = true
            if !options.dryRun { try vacuum() }
        }
        if !options.dryRun { try checkpointWAL() }
        report.fileBytesAfter = options.dryRun
            ? max(0, report.fileBytesBefore - (report.vacuumed ? report.freeBytes : 0))
            : fileBytesOnDisk()
        return report
    }

    /// Rebuilds the database file without its free pages.
    ///
    /// - Throws: `StoreError` (e.g. `.busy` while another connection reads or writes for longer
    ///   than the busy timeout, `.diskFull`: VACUUM needs room for a copy of the database).
    public func vacuum() throws {
        do {
            try pool.writeWithoutTransaction { db in try db.execute(sql: "VACUUM") }
        } catch {
            throw StoreError.wrap(error, operation: "vacuum the database", path: path)
        }
    }

    /// Copies the write-ahead log into the database and truncates it to zero bytes, so that the
    /// database file's size is the store's real size. Returns whether the log was emptied
    /// (false when another connection still reads an older snapshot).
    @discardableResult
    public func checkpointWAL() throws -> Bool {
        do {
            return try pool.writeWithoutTransaction { db in
                let row = try Row.fetchOne(db, sql: "PRAGMA wal_checkpoint(TRUNCATE)")
                return (row?[0] as Int64?) == 0
            }
        } catch {
            throw StoreError.wrap(error, operation: "checkpoint the write-ahead log", path: path)
        }
    }

    /// The size of the database file plus its write-ahead log.
    public func fileBytesOnDisk() -> Int64 {
        func size(_ path: String) -> Int64 {
            ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.int64Value ?? 0
        }
        return size(path) + size(path + "-wal")
    }

    /// Removes every lock file in the lock directory that nobody holds (of runs that no longer
    /// exist, or left behind by a process that died); with `dryRun`, only lists them.
    /// Returns their paths.
    func removeFreeLockFiles(dryRun: Bool) -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: lockDirectory) else { return [] }
        var removed: [String] = []
        for name in names.sorted() where name.hasSuffix(".lock") {
            let file = lockDirectory + "/" + name
            if dryRun {
                if !RunLock.probe(path: file).mayBeHeld { removed.append(file) }
            } else if RunLock.removeIfFree(path: file) {
                removed.append(file)
            }
        }
        return removed
    }
}
