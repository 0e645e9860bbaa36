import Foundation
import PostgresNIO
import Store

extension PostgresStore: RunStoring {
    public var location: String { url.description }

    static let runColumns = """
        id, batchID, task, documentPath, documentSHA256, documentSize, modelPath, modelSHA256, config, mode,
        status, createdAt, updatedAt, completedAt, tokens, bytes, nllSum, lastCheckpointAt, errorText
        """

    static func runRecord(_ row: PostgresRandomAccessRow, location: String) throws -> RunRecord {
        let id = try row[0].decode(String.self)
        guard let task = RunTask(rawValue: try row[2].decode(String.self)),
              let status = RunStatus(rawValue: try row[10].decode(String.self)) else {
            throw StoreError.invalidData("Run \(id) in \(location) has an unknown task or status.", runID: id, path: location)
        }
        return RunRecord.stored(
            id: id, batchID: try row[1].decode(String?.self), task: task,
            documentPath: try row[3].decode(String.self), documentSHA256: try row[4].decode(String.self),
            documentSize: try row[5].decode(Int64.self), modelPath: try row[6].decode(String.self),
            modelSHA256: try row[7].decode(String.self), config: try row[8].decode(String.self),
            mode: try row[9].decode(String.self), status: status, createdAt: try row[11].decode(Date.self),
            updatedAt: try row[12].decode(Date.self), completedAt: try row[13].decode(Date?.self),
            tokens: try row[14].decode(Int64.self), bytes: try row[15].decode(Int64.self),
            nllSum: try row[16].decode(Double.self), lastCheckpointAt: try row[17].decode(Date?.self),
            errorText: try row[18].decode(String?.self))
    }

    /// Creates a run (status `running`). The id is drawn once, outside the retried
    /// transaction, so a retry after a COMMIT whose answer was lost returns the committed run
    /// instead of creating a second one.
    @discardableResult
    public func createRun(_ new: NewRun) throws -> RunRecord {
        var id = RunID.random()
        let now = Self.now()
        return try transaction("create a run") { connection in try insertRun(connection, new, id: &id, createdAt: now) }
    }

    /// Inserts a new run with id `id` (status `running`) inside the caller's transaction.
    ///
    /// When `id` exists already: a run with the same document, path and creation time is this
    /// call's own, committed by an earlier try of the transaction whose answer was lost, and is
    /// returned; any other is a collision, and a fresh id is drawn (into `id`, so that a retry
    /// uses it).
    func insertRun(_ connection: PostgresConnection, _ new: NewRun, id: inout String, createdAt now: Date) throws -> RunRecord {
        for _ in 0 ..< 16 {
            let inserted = try query(connection, """
                INSERT INTO run (id, batchID, task, documentPath, documentSHA256, documentSize, modelPath,
                    modelSHA256, config, mode, status, createdAt, updatedAt)
                VALUES (\(id), \(new.batchID), \(new.task.rawValue), \(new.documentPath), \(new.documentSHA256),
                    \(new.documentSize), \(new.modelPath), \(new.modelSHA256), \(new.config), \(new.mode),
                    'running', \(now), \(now))
                ON CONFLICT (id) DO NOTHING RETURNING id
                """)
            if !inserted.isEmpty {
                return RunRecord.stored(
                    id: id, batchID: new.batchID, task: new.task, documentPath: new.documentPath,
                    documentSHA256: new.documentSHA256, documentSize: new.documentSize, modelPath: new.modelPath,
                    modelSHA256: new.modelSHA256, config: new.config, mode: new.mode, status: .running,
                    createdAt: now, updatedAt: now, completedAt: nil, tokens: 0, bytes: 0, nllSum: 0,
                    lastCheckpointAt: nil, errorText: nil)
            }
            if let existing = try query(connection, "SELECT \(unescaped: Self.runColumns) FROM run WHERE id = \(id)")
                .first.map({ try Self.runRecord($0, location: location) }),
               existing.documentSHA256 == new.documentSHA256, existing.documentPath == new.documentPath,
               existing.task == new.task, abs(existing.createdAt.timeIntervalSince(now)) < 0.000_01 {
                return existing
            }
            id = RunID.random()
        }
        throw StoreError(code: .postgres, path: location, message: "Could not find an unused run id in the run store at \(location) after 16 tries.")
    }

    public func writeCheckpoint(_ c: CheckpointWrite) throws {
        try c.validate(location: location)
        try checkNotFenced(c.runID)
        let token = heldLease(runID: c.runID)
        let delay = checkpointCommitDelay
        // The steps of RunStore.writeCheckpoint (Sources/Store/RunStore+Writes.swift), in its order.
        try transaction("write checkpoint at token \(c.tokenIndex)", runID: c.runID) { connection in
            // Lock order everywhere: the queue row first, then the run (claim, setStatus, fail
            // and finish do the same), so that a checkpoint and a takeover cannot deadlock.
            if let token { try checkLease(connection, runID: c.runID, token: token) }
            let found = try query(connection, "SELECT id FROM run WHERE id = \(c.runID) FOR UPDATE")
            guard !found.isEmpty else { throw StoreError.runNotFound(c.runID, path: location) }
            try trimOverwrittenKVBlocks(connection, runID: c.runID, by: c.newKVBlocks.map(\.tokens))
            for block in c.newKVBlocks {
                try query(connection, """
                    INSERT INTO kv_block (runID, firstToken, count, data) VALUES (\(c.runID), \(block.firstToken), \(block.count), \(block.data))
                    ON CONFLICT (runID, firstToken) DO UPDATE SET count = EXCLUDED.count, data = EXCLUDED.data
                    """)
            }
            for block in c.newNLLBlocks {
                let blobs = block.storedBlobs
                try query(connection, """
                    INSERT INTO nll_block (runID, firstToken, count, nll, byteOffsets)
                    VALUES (\(c.runID), \(block.firstToken), \(Int64(block.nll.count)), \(blobs.nll), \(blobs.byteOffsets))
                    ON CONFLICT (runID, firstToken) DO UPDATE SET count = EXCLUDED.count, nll = EXCLUDED.nll, byteOffsets = EXCLUDED.byteOffsets
                    """)
            }
            for m in c.newMetrics {
                try query(connection, """
                    INSERT INTO metric (runID, bucketStart, bucketEnd, meanNLL, ppl, cumulativePPL, tokensPerSecond, cacheFill, peakMemoryBytes)
                    VALUES (\(c.runID), \(m.bucketStart), \(m.bucketEnd), \(m.meanNLL), \(m.ppl), \(m.cumulativePPL), \(m.tokensPerSecond), \(m.cacheFill), \(m.peakMemoryBytes))
                    ON CONFLICT (runID, bucketStart) DO UPDATE SET bucketEnd = EXCLUDED.bucketEnd, meanNLL = EXCLUDED.meanNLL,
                        ppl = EXCLUDED.ppl, cumulativePPL = EXCLUDED.cumulativePPL, tokensPerSecond = EXCLUDED.tokensPerSecond,
                        cacheFill = EXCLUDED.cacheFill, peakMemoryBytes = EXCLUDED.peakMemoryBytes
                    """)
            }
            for o in c.newOutputs {
                try query(connection, """
                    INSERT INTO output_chunk (runID, sequence, kind, byteStart, byteEnd, text)
                    VALUES (\(c.runID), \(o.sequence), \(o.kind), \(o.byteStart), \(o.byteEnd), \(o.text))
                    ON CONFLICT (runID, sequence) DO UPDATE SET kind = EXCLUDED.kind, byteStart = EXCLUDED.byteStart,
                        byteEnd = EXCLUDED.byteEnd, text = EXCLUDED.text
                    """)
            }
            let now = Self.now()
            let previous = try query(connection, "SELECT COALESCE(MAX(sequence), 0) FROM checkpoint WHERE runID = \(c.runID)")
                .first.map { try $0[0].decode(Int64.self) } ?? 0
            try query(connection, """
                INSERT INTO checkpoint (runID, sequence, tokenIndex, byteOffset, tokenizerState, cacheState, taskState, rngState, liveRanges, createdAt)
                VALUES (\(c.runID), \(previous + 1), \(c.tokenIndex), \(c.byteOffset), \(c.tokenizerState), \(c.cacheState),
                    \(c.taskState), \(c.rngState), \(c.liveRangesText), \(now))
                """)
            try query(connection, "DELETE FROM checkpoint WHERE runID = \(c.runID) AND sequence < \(previous + 1)")
            try query(connection, Self.evictionQuery(runID: c.runID, liveRanges: c.liveRanges))
            try query(connection, """
                UPDATE run SET tokens = \(c.progress.tokens), bytes = \(c.progress.bytes), nllSum = \(c.progress.nllSum),
                    lastCheckpointAt = \(now), updatedAt = \(now) WHERE id = \(c.runID)
                """)
            if let delay, delay > 0 { usleep(UInt32(min(delay, 3600) * 1_000_000)) }
            if let token {
                // The checkpoint renews the lease (same length, counted from now): a heartbeat
                // renewal waits behind this transaction's lock on the queue row, and a long
                // checkpoint must not leave it a lease that is about to run out.
                try query(connection, """
                    UPDATE queue SET leaseUntil = clock_timestamp() + (leaseUntil - heartbeatAt), heartbeatAt = clock_timestamp()
                    WHERE runID = \(c.runID) AND leaseToken = \(token) AND leaseUntil IS NOT NULL AND heartbeatAt IS NOT NULL
                    """)
            }
        }
    }

    /// Replaces each stored K/V block that overlaps one of `written` (the tokens of the new
    /// blocks) by its parts outside them (``KVBlock/remainder(outside:)``), so that stored
    /// blocks never overlap and every stored row is the latest written for its token: as
    /// `RunStore.trimOverwrittenKVBlocks` does on SQLite.
    func trimOverwrittenKVBlocks(_ connection: PostgresConnection, runID: String, by written: [Range<Int64>]) throws {
        let written = written.filter { !$0.isEmpty }
        if written.isEmpty { return }
        var bindings = PostgresBindings()
        bindings.append(runID)
        let overlaps = Self.overlapPredicate(written, bindings: &bindings)
        let overlapping = try query(connection, PostgresQuery(unsafeSQL: """
            SELECT firstToken, count, data FROM kv_block WHERE runID = $1 AND (\(overlaps)) ORDER BY firstToken
            """, binds: bindings)).map { row in
            KVBlock(runID: runID, firstToken: try row[0].decode(Int64.self), count: try row[1].decode(Int64.self),
                    data: try row[2].decode(Data.self))
        }
        for old in overlapping {
            try query(connection, "DELETE FROM kv_block WHERE runID = \(runID) AND firstToken = \(old.firstToken)")
            for part in old.remainder(outside: written) {
                try query(connection, """
                    INSERT INTO kv_block (runID, firstToken, count, data) VALUES (\(runID), \(part.firstToken), \(part.count), \(part.data))
                    ON CONFLICT (runID, firstToken) DO UPDATE SET count = EXCLUDED.count, data = EXCLUDED.data
                    """)
            }
        }
    }

    /// `(firstToken < $i AND firstToken + count > $j) OR …`: a block intersects one of `ranges`
    /// (each non-empty), with the ranges' bounds appended to `bindings`.
    static func overlapPredicate(_ ranges: [Range<Int64>], bindings: inout PostgresBindings) -> String {
        var tests: [String] = []
        for range in ranges {
            bindings.append(range.upperBound)
            bindings.append(range.lowerBound)
            tests.append("(firstToken < $\(bindings.count - 1) AND firstToken + count > $\(bindings.count))")
        }
        return tests.joined(separator: " OR ")
    }

    /// Deletes the run's K/V blocks that intersect none of `liveRanges` (as the SQLite store does).
    static func evictionQuery(runID: String, liveRanges: [Range<Int64>]) throws -> PostgresQuery {
        var bindings = PostgresBindings()
        bindings.append(runID)
        var sql = "DELETE FROM kv_block WHERE runID = $1"
        let live = liveRanges.filter { !$0.isEmpty }
        if !live.isEmpty { sql += " AND NOT (" + overlapPredicate(live, bindings: &bindings) + ")" }
        return PostgresQuery(unsafeSQL: sql, binds: bindings)
    }

    /// The run's K/V blocks that intersect one of `liveRanges` (each non-empty), in token order.
    static func liveBlocksQuery(runID: String, liveRanges: [Range<Int64>]) -> PostgresQuery {
        var bindings = PostgresBindings()
        bindings.append(runID)
        let live = overlapPredicate(liveRanges, bindings: &bindings)
        return PostgresQuery(unsafeSQL: """
            SELECT firstToken, count, data FROM kv_block WHERE runID = $1 AND (\(live)) ORDER BY firstToken
            """, binds: bindings)
    }

    public func setStatus(runID: String, _ status: RunStatus, error: String? = nil) throws {
        try checkNotFenced(runID)
        let token = heldLease(runID: runID)
        if status == .failed, token != nil {
            // An attempt of a leased run failed: counted, and the run goes back to the queue
            // until it has failed `maxFailures` times in a row (a poisoned document).
            try fail(runID: runID, error: error ?? "failed", maxFailures: maxFailures)
            return
        }
        try transaction("set the status of run \(runID) to \(status.rawValue)", runID: runID) { connection in
            if let token { try checkLease(connection, runID: runID, token: token) }
            let now = Self.now()
            let completedAt: Date? = status == .completed ? now : nil
            let updated = try query(connection, """
                UPDATE run SET status = \(status.rawValue), errorText = \(error), updatedAt = \(now), completedAt = \(completedAt)
                WHERE id = \(runID) RETURNING id
                """)
            guard !updated.isEmpty else { throw StoreError.runNotFound(runID, path: location) }
        }
    }

    /// Marks the run completed; a run this store holds a lease on is also done in the queue (in
    /// the same transaction, after checking that the lease is still ours).
    public func complete(runID: String, keepCache: Bool) throws {
        try checkNotFenced(runID)
        if heldLease(runID: runID) != nil { return try finish(runID: runID, keepCache: keepCache) }
        try transaction("complete run \(runID)", runID: runID) { connection in
            try completeRun(connection, runID: runID, keepCache: keepCache)
        }
    }

    func completeRun(_ connection: PostgresConnection, runID: String, keepCache: Bool) throws {
        let now = Self.now()
        let updated = try query(connection, """
            UPDATE run SET status = 'completed', errorText = NULL, updatedAt = \(now), completedAt = \(now)
            WHERE id = \(runID) RETURNING id
            """)
        guard !updated.isEmpty else { throw StoreError.runNotFound(runID, path: location) }
        if !keepCache { try query(connection, "DELETE FROM kv_block WHERE runID = \(runID)") }
    }

    public func deleteRun(id: String) throws {
        try transaction("delete run \(id)", runID: id) { connection in
            // The queue row first (the lock order everywhere), then the run and, by cascade, the rest.
            try query(connection, "SELECT 1 FROM queue WHERE runID = \(id) FOR UPDATE")
            let deleted = try query(connection, "DELETE FROM run WHERE id = \(id) RETURNING id")
            guard !deleted.isEmpty else { throw StoreError.runNotFound(id, path: location) }
        }
    }

    public func run(id: String) throws -> RunRecord? {
        try withConnection("read run \(id)", runID: id) { connection in
            try query(connection, "SELECT \(unescaped: Self.runColumns) FROM run WHERE id = \(id)")
                .first.map { try Self.runRecord($0, location: location) }
        }
    }

    public func runs(task: RunTask? = nil, status: RunStatus? = nil, batchID: String? = nil) throws -> [RunRecord] {
        try withConnection("list runs") { connection in
            try query(connection, """
                SELECT \(unescaped: Self.runColumns) FROM run
                WHERE (\(task?.rawValue)::text IS NULL OR task = \(task?.rawValue))
                  AND (\(status?.rawValue)::text IS NULL OR status = \(status?.rawValue))
                  AND (\(batchID)::text IS NULL OR batchID = \(batchID))
                ORDER BY createdAt, seq
                """).map { try Self.runRecord($0, location: location) }
        }
    }

    public func latestCheckpoint(runID: String) throws -> CheckpointRecord? {
        try withConnection("read the latest checkpoint of run \(runID)", runID: runID) { connection in
            try latestCheckpoint(connection, runID: runID)
        }
    }

    func latestCheckpoint(_ connection: PostgresConnection, runID: String) throws -> CheckpointRecord? {
        try query(connection, """
            SELECT sequence, tokenIndex, byteOffset, tokenizerState, cacheState, taskState, rngState, liveRanges, createdAt
            FROM checkpoint WHERE runID = \(runID) ORDER BY sequence DESC LIMIT 1
            """).first.map { row in
            CheckpointRecord.stored(
                runID: runID, sequence: try row[0].decode(Int64.self), tokenIndex: try row[1].decode(Int64.self),
                byteOffset: try row[2].decode(Int64.self), tokenizerState: try row[3].decode(Data.self),
                cacheState: try row[4].decode(Data.self), taskState: try row[5].decode(Data.self),
                rngState: try row[6].decode(Data?.self), liveRangesText: try row[7].decode(String.self),
                createdAt: try row[8].decode(Date.self))
        }
    }

    public func kvBlocks(runID: String) throws -> [KVBlock] {
        try withConnection("read the K/V blocks of run \(runID)", runID: runID) { connection in
            guard let checkpoint = try latestCheckpoint(connection, runID: runID) else { return [] }
            let live: [Range<Int64>]
            do {
                live = try checkpoint.liveRanges.filter { !$0.isEmpty }
            } catch {
                throw StoreError.invalidData(
                    "The live ranges of run \(runID)'s latest checkpoint are malformed in \(location).",
                    runID: runID, path: location)
            }
            if live.isEmpty { return [] }
            return try query(connection, Self.liveBlocksQuery(runID: runID, liveRanges: live)).map { row in
                KVBlock(runID: runID, firstToken: try row[0].decode(Int64.self), count: try row[1].decode(Int64.self),
                        data: try row[2].decode(Data.self))
            }
        }
    }

    public func nll(runID: String, range: Range<Int64>) throws -> NLLSlice {
        try withConnection("read the losses of run \(runID)", runID: runID) { connection in
            let start = try query(connection, """
                SELECT MAX(firstToken) FROM nll_block WHERE runID = \(runID) AND firstToken <= \(range.lowerBound)
                """).first.flatMap { try $0[0].decode(Int64?.self) } ?? range.lowerBound
            let blocks = try query(connection, """
                SELECT firstToken, count, nll, byteOffsets FROM nll_block
                WHERE runID = \(runID) AND firstToken >= \(start) AND firstToken < \(range.upperBound) ORDER BY firstToken
                """).map { row in
                let first = try row[0].decode(Int64.self)
                let count = try row[1].decode(Int64.self)
                guard let block = NLLBlock(firstToken: first, count: count, nll: try row[2].decode(Data.self),
                                           byteOffsets: try row[3].decode(Data.self)) else {
                    throw StoreError.invalidData(
                        "The loss block of run \(runID) starting at token \(first) is damaged (expected \(count) values).",
                        runID: runID, path: location)
                }
                return block
            }
            return try NLLSlice.joining(blocks, range: range, runID: runID, location: location)
        }
    }

    public func metrics(runID: String) throws -> [MetricRow] {
        try withConnection("read the metrics of run \(runID)", runID: runID) { connection in
            try query(connection, """
                SELECT bucketStart, bucketEnd, meanNLL, ppl, cumulativePPL, tokensPerSecond, cacheFill, peakMemoryBytes
                FROM metric WHERE runID = \(runID) ORDER BY bucketStart
                """).map { row in
                MetricRow(
                    runID: runID, bucketStart: try row[0].decode(Int64.self), bucketEnd: try row[1].decode(Int64.self),
                    meanNLL: try row[2].decode(Double.self), ppl: try row[3].decode(Double.self),
                    cumulativePPL: try row[4].decode(Double.self), tokensPerSecond: try row[5].decode(Double.self),
                    cacheFill: try row[6].decode(Double.self), peakMemoryBytes: try row[7].decode(Int64.self))
            }
        }
    }

    public func outputs(runID: String) throws -> [OutputChunk] {
        try withConnection("read the outputs of run \(runID)", runID: runID) { connection in
            try query(connection, """
                SELECT sequence, kind, byteStart, byteEnd, text FROM output_chunk WHERE runID = \(runID) ORDER BY sequence
                """).map { row in
                OutputChunk(
                    runID: runID, sequence: try row[0].decode(Int64.self), kind: try row[1].decode(String.self),
                    byteStart: try row[2].decode(Int64.self), byteEnd: try row[3].decode(Int64.self),
                    text: try row[4].decode(String.self))
            }
        }
    }

    /// Now, to the microsecond (PostgreSQL's timestamp precision), so that what is returned
    /// equals what is read back.
    static func now() -> Date {
        Date(timeIntervalSince1970: (Date().timeIntervalSince1970 * 1_000_000).rounded() / 1_000_000)
    }
}
