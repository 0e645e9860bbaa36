import Foundation
import GRDB

extension RunStore {
    /// The run with this id, or nil.
    public func run(id: String) throws -> RunRecord? {
        try read("read run \(id)", runID: id) { db in try RunRecord.fetchOne(db, key: id) }
    }

    /// Runs matching every given filter on the *stored* status, oldest first.
    ///
    /// A stored `running` may belong to a process that died; `runs(task:state:batchID:)`
    /// filters by what the runs are really doing and is what listings should use.
    ///
    /// - Parameters:
    ///   - task: Only runs of this task.
    ///   - status: Only runs in this status.
    ///   - batchID: Only runs of this batch.
    public func runs(task: RunTask? = nil, status: RunStatus? = nil, batchID: String? = nil) throws -> [RunRecord] {
        try read("list runs") { db in
            var request = RunRecord.all()
            if let task { request = request.filter(RunRecord.Columns.task == task.rawValue) }
            if let status { request = request.filter(RunRecord.Columns.status == status.rawValue) }
            if let batchID { request = request.filter(RunRecord.Columns.batchID == batchID) }
            return try request.order(RunRecord.Columns.createdAt, Column.rowID).fetchAll(db)
        }
    }

    /// The most recent checkpoint of a run, or nil if none was written yet.
    public func latestCheckpoint(runID: String) throws -> CheckpointRecord? {
        try read("read the latest checkpoint of run \(runID)", runID: runID) { db in
            try CheckpointRecord
                .filter(CheckpointRecord.Columns.runID == runID)
                .order(CheckpointRecord.Columns.sequence.desc)
                .fetchOne(db)
        }
    }

    /// The K/V blocks referenced by the run's latest checkpoint, by first token.
    ///
    /// Empty if the run has no checkpoint.
    public func kvBlocks(runID: String) throws -> [KVBlock] {
        let path = self.path
        return try read("read the K/V blocks of run \(runID)", runID: runID) { db in
            guard let checkpoint = try CheckpointRecord
                .filter(CheckpointRecord.Columns.runID == runID)
                .order(CheckpointRecord.Columns.sequence.desc)
                .fetchOne(db)
            else { return [] }
            let live: [Range<Int64>]
            do {
                live = try checkpoint.liveRanges.filter { !$0.isEmpty }
            } catch {
                throw StoreError.invalidData(
                    "The live ranges of run \(runID)'s latest checkpoint are malformed in \(path).",
                    runID: runID, path: path)
            }
            if live.isEmpty { return [] }
            let tests = Array(repeating: "(firstToken < ? AND firstToken + count > ?)", count: live.count)
            var arguments: StatementArguments = [runID]
            for range in live { arguments += [range.upperBound, range.lowerBound] }
            return try KVBlock.fetchAll(db, sql: """
                SELECT * FROM kv_block WHERE runID = ? AND (\(tests.joined(separator: " OR ")))
                ORDER BY firstToken
                """, arguments: arguments)
        }
    }

    /// The losses and byte offsets of the tokens in `range`, read from the overlapping blocks only.
    ///
    /// The result is clipped to the stored tokens (e.g. a range past the end returns what exists).
    /// - Throws: `StoreError` `.invalidData` if the stored blocks leave a gap or overlap inside
    ///   the range, or a blob is damaged.
    public func nll(runID: String, range: Range<Int64>) throws -> NLLSlice {
        let path = self.path
        return try read("read the losses of run \(runID)", runID: runID) { db in
            // The block containing range.lowerBound starts at the greatest firstToken <= lowerBound;
            // both lookups are seeks on the (runID, firstToken) index.
            let start = try Int64.fetchOne(db, sql: """
                SELECT MAX(firstToken) FROM nll_block WHERE runID = ? AND firstToken <= ?
                """, arguments: [runID, range.lowerBound]) ?? range.lowerBound
            let records = try NLLBlockRecord.fetchAll(db, sql: """
                SELECT * FROM nll_block WHERE runID = ? AND firstToken >= ? AND firstToken < ?
                ORDER BY firstToken
                """, arguments: [runID, start, range.upperBound])
            return try NLLSlice.joining(records.map { try $0.decoded(path: path) }, range: range, runID: runID, location: path)
        }
    }

    /// The metric rows of a run, by bucket.
    public func metrics(runID: String) throws -> [MetricRow] {
        try read("read the metrics of run \(runID)", runID: runID) { db in
            try MetricRow.fetchAll(db, sql: "SELECT * FROM metric WHERE runID = ? ORDER BY bucketStart", arguments: [runID])
        }
    }

    /// The completed outputs of a run, in sequence order.
    public func outputs(runID: String) throws -> [OutputChunk] {
        try read("read the outputs of run \(runID)", runID: runID) { db in
            try OutputChunk.fetchAll(db, sql: "SELECT * FROM output_chunk WHERE runID = ? ORDER BY sequence", arguments: [runID])
        }
    }
}
