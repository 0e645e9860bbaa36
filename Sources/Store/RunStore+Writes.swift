import Foundation
import GRDB

extension RunStore {
    /// Creates a run with a fresh random id, status `running`, and zero progress.
    ///
    /// - Returns: The stored row.
    /// - Throws: `StoreError` (e.g. `.readOnlyLocation`, `.diskFull`).
    @discardableResult
    public func createRun(_ new: NewRun) throws -> RunRecord {
        try write("create a run") { db in
            let now = Date()
            for _ in 0 ..< 16 {
                let id = RunID.random()
                if try RunRecord.exists(db, key: id) { continue }
                let record = RunRecord(
                    id: id, batchID: new.batchID, task: new.task,
                    documentPath: new.documentPath, documentSHA256: new.documentSHA256,
                    documentSize: new.documentSize, modelPath: new.modelPath,
                    modelSHA256: new.modelSHA256, config: new.config, mode: new.mode,
                    status: .running, createdAt: now, updatedAt: now, completedAt: nil,
                    tokens: 0, bytes: 0, nllSum: 0, lastCheckpointAt: nil, errorText: nil)
                try record.insert(db)
                return record
            }
            throw StoreError(code: .sqlite, path: self.path, message: "Could not find an unused run id in the run store at \(self.path) after 16 tries.")
        }
    }

    /// Writes a checkpoint and everything produced since the previous one, atomically.
    ///
    /// In one transaction: inserts the new K/V blocks, loss blocks, metric rows and outputs,
    /// inserts the checkpoint, deletes K/V blocks that intersect none of `liveRanges`,
    /// deletes older checkpoints and updates the run's progress. If anything fails
    /// (including a full disk) nothing is written and the previous checkpoint stays intact.
    ///
    /// - Throws: `StoreError` `.runNotFound`, `.invalidArgument`, `.diskFull`, `.sqlite`, ….
    public func writeCheckpoint(_ c: CheckpointWrite) throws {
        try c.validate(location: path)
        let hook = hooks.beforeCheckpointCommit
        try write("write checkpoint at token \(c.tokenIndex)", runID: c.runID) { db in
            guard var run = try RunRecord.fetchOne(db, key: c.runID) else {
                throw StoreError.runNotFound(c.runID, path: self.path)
            }
            try Self.trimOverwrittenKVBlocks(db, runID: c.runID, by: c.newKVBlocks.map(\.tokens))
            for var block in c.newKVBlocks {
                block.runID = c.runID
                try block.insert(db, onConflict: .replace)
            }
            for block in c.newNLLBlocks {
                try NLLBlockRecord(runID: c.runID, block: block).insert(db, onConflict: .replace)
            }
            for var metric in c.newMetrics {
                metric.runID = c.runID
                try metric.insert(db, onConflict: .replace)
            }
            for var output in c.newOutputs {
                output.runID = c.runID
                try output.insert(db, onConflict: .replace)
            }

            let now = Date()
            let previous = try Int64.fetchOne(
                db, sql: "SELECT MAX(sequence) FROM checkpoint WHERE runID = ?", arguments: [c.runID]) ?? 0
            let checkpoint = CheckpointRecord(
                runID: c.runID, sequence: previous + 1, tokenIndex: c.tokenIndex, byteOffset: c.byteOffset,
                tokenizerState: c.tokenizerState, cacheState: c.cacheState, taskState: c.taskState,
                rngState: c.rngState, liveRangesText: c.liveRangesText, createdAt: now)
            try checkpoint.insert(db)
            try db.execute(
                sql: "DELETE FROM checkpoint WHERE runID = ? AND sequence < ?",
                arguments: [c.runID, checkpoint.sequence])
            try Self.deleteEvictedKVBlocks(db, runID: c.runID, liveRanges: c.liveRanges)

            run.tokens = c.progress.tokens
            run.bytes = c.progress.bytes
            run.nllSum = c.progress.nllSum
            run.lastCheckpointAt = now
            run.updatedAt = now
            try run.update(db)
            try hook?(db)
        }
    }

    /// Replaces each stored K/V block that overlaps one of `written` (the tokens of the new
    /// blocks) by its ``KVBlock/remainder(outside:)``, so that the new rows are the only ones
    /// stored for their tokens. Without it, a stale block from before a rewind could be restored
    /// over the new rows.
    static func trimOverwrittenKVBlocks(_ db: Database, runID: String, by written: [Range<Int64>]) throws {
        guard let low = written.map(\.lowerBound).min(), let high = written.map(\.upperBound).max() else { return }
        let overlapping = try KVBlock.fetchAll(db, sql: """
            SELECT * FROM kv_block WHERE runID = ? AND firstToken < ? AND firstToken + count > ?
            """, arguments: [runID, high, low])
        for old in overlapping where written.contains(where: { $0.overlaps(old.tokens) }) {
            try db.execute(sql: "DELETE FROM kv_block WHERE runID = ? AND firstToken = ?", arguments: [runID, old.firstToken])
            for part in old.remainder(outside: written) {
                try part.insert(db, onConflict: .replace)
            }
        }
    }

    /// Deletes the run's K/V blocks that intersect none of `liveRanges`.
    static func deleteEvictedKVBlocks(_ db: Database, runID: String, liveRanges: [Range<Int64>]) throws {
        var sql = "DELETE FROM kv_block WHERE runID = ?"
        var arguments: StatementArguments = [runID]
        let live = liveRanges.filter { !$0.isEmpty }
        if !live.isEmpty {
            let tests = Array(repeating: "(firstToken < ? AND firstToken + count > ?)", count: live.count)
            sql += " AND NOT (" + tests.joined(separator: " OR ") + ")"
            for range in live {
                arguments += [range.upperBound, range.lowerBound]
            }
        }
        try db.execute(sql: sql, arguments: arguments)
    }

    /// Sets a run's status (and error text); `completed` also sets `completedAt`.
    ///
    /// - Parameters:
    ///   - runID: The run.
    ///   - status: The new status.
    ///   - error: The error text to record (nil clears it).
    /// - Throws: `StoreError` `.runNotFound` or a database error.
    public func setStatus(runID: String, _ status: RunStatus, error: String? = nil) throws {
        try write("set the status of run \(runID) to \(status.rawValue)", runID: runID) { db in
            guard var run = try RunRecord.fetchOne(db, key: runID) else {
                throw StoreError.runNotFound(runID, path: self.path)
            }
            let now = Date()
            run.status = status
            run.errorText = error
            run.updatedAt = now
            run.completedAt = status == .completed ? now : nil
            try run.update(db)
        }
    }
}

extension CheckpointWrite {
    /// Checks the lengths and ranges of a checkpoint write before opening a transaction.
    /// (Every backend refuses the same writes.)
    public func validate(location path: String) throws {
        let c = self
        func fail(_ sentence: String) -> StoreError {
            StoreError.invalidArgument("Refusing the checkpoint of run \(c.runID) at token \(c.tokenIndex): \(sentence)", runID: c.runID, path: path)
        }
        for range in c.liveRanges where range.lowerBound < 0 {
            throw fail("the live range \(range) starts before token 0.")
        }
        for block in c.newKVBlocks where block.firstToken < 0 || block.count <= 0 {
            throw fail("the K/V block at token \(block.firstToken) has \(block.count) tokens.")
        }
        for block in c.newNLLBlocks {
            if block.nll.count != block.byteOffsets.count {
                throw fail("the loss block at token \(block.firstToken) has \(block.nll.count) losses but \(block.byteOffsets.count) byte offsets.")
            }
            if block.firstToken < 0 || block.nll.isEmpty {
                throw fail("the loss block at token \(block.firstToken) is empty or starts before token 0.")
            }
        }
        if c.tokenIndex < 0 || c.byteOffset < 0 || c.progress.tokens < 0 || c.progress.bytes < 0 {
            throw fail("token index, byte offset and progress must not be negative.")
        }
    }
}
