import Foundation
import PostgresNIO
import Store

/// Who holds a lease: the worker's host and process id.
public struct WorkerIdentity: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var pid: Int32

    public init(host: String, pid: Int32) {
        self.host = host
        self.pid = pid
    }

    /// This process.
    public static var current: WorkerIdentity {
        WorkerIdentity(host: ProcessInfo.processInfo.hostName, pid: getpid())
    }

    public var description: String { "\(host):\(pid)" }
}

/// A run claimed from the queue: the run, the lease's token and which attempt this is.
public struct Claim: Sendable, Equatable {
    public var runID: String
    public var token: Int64
    public var attempt: Int
    /// Whether a checkpoint of an earlier attempt exists (the run continues from it).
    public var resumes: Bool
}

/// A run's place in the queue, for `runs --batch`.
public struct QueueEntry: Sendable, Equatable {
    public enum State: String, Sendable { case queued, claimed, done, failed }
    public var runID: String
    public var state: State
    public var attempts: Int
    public var failures: Int
    public var worker: WorkerIdentity?
    public var leaseUntil: Date?
    /// When a worker first claimed the run.
    public var startedAt: Date?
    /// Whether the lease is live now (by the server's clock).
    public var live: Bool = false
}

extension PostgresStore {
    /// The size of the chunks documents are stored in.
    public static let documentChunkSize = 1 << 20

    /// Stores a document's bytes content-addressed by their SHA-256 (once, however many runs
    /// use it), in chunks, inside the caller's transaction. Returns the digest.
    func storeDocument(_ connection: PostgresConnection, data: Data, sha256: String) throws {
        let exists = try query(connection, "SELECT 1 FROM document WHERE sha256 = \(sha256)")
        if !exists.isEmpty { return }
        try query(connection, """
            INSERT INTO document (sha256, size, chunkSize, createdAt)
            VALUES (\(sha256), \(Int64(data.count)), \(Self.documentChunkSize), now()) ON CONFLICT DO NOTHING
            """)
        var index = 0
        var offset = 0
        while offset < data.count || (data.isEmpty && index == 0) {
            let end = min(offset + Self.documentChunkSize, data.count)
            let chunk = data.subdata(in: offset ..< end)
            try query(connection, """
                INSERT INTO document_chunk (sha256, chunkIndex, data) VALUES (\(sha256), \(index), \(chunk)) ON CONFLICT DO NOTHING
                """)
            index += 1
            offset = end
            if data.isEmpty { break }
        }
    }

    /// Registers a run over `document` (its bytes stored in the database) and puts it in the
    /// queue, in one transaction. `new.documentSHA256` must be the bytes' SHA-256.
    ///
    /// Idempotent when retried after a COMMIT whose answer was lost: the run id is drawn once,
    /// so the retry finds the committed run (and its queue row) instead of adding a second one.
    /// - Returns: the stored run.
    @discardableResult
    public func enqueue(_ new: NewRun, document: Data) throws -> RunRecord {
        var id = RunID.random()
        let now = Self.now()
        return try transaction("submit a run") { connection in
            try storeDocument(connection, data: document, sha256: new.documentSHA256)
            let record = try insertRun(connection, new, id: &id, createdAt: now)
            try query(connection, """
                INSERT INTO queue (runID, state, enqueuedAt) VALUES (\(record.id), 'queued', now()) ON CONFLICT (runID) DO NOTHING
                """)
            return record
        }
    }

    /// The bytes of a stored document, checked against their SHA-256.
    /// - Throws: `StoreError.invalidData` when chunks are missing or the digest differs.
    public func document(sha256: String, verify: (Data) -> String) throws -> Data {
        let data = try withConnection("read document \(sha256)") { connection in
            let rows = try query(connection, "SELECT data FROM document_chunk WHERE sha256 = \(sha256) ORDER BY chunkIndex")
            var data = Data()
            for row in rows { data.append(try row[0].decode(Data.self)) }
            return data
        }
        guard verify(data) == sha256 else {
            throw StoreError.invalidData("The stored document \(sha256) in \(location) is incomplete or damaged.", runID: nil, path: location)
        }
        return data
    }

    /// Claims the oldest run that is queued, or whose lease ran out (its worker died), with
    /// `SELECT … FOR UPDATE SKIP LOCKED` so that concurrent claimers never get the same row,
    /// and leases it to `worker` for `lease` seconds.
    ///
    /// Taking over a run whose lease ran out counts a failed attempt: its worker crashed or lost
    /// the server during that attempt (a SIGTERM hand-back, ``releaseLease(runID:direct:)``, is
    /// not counted, nor a lease last renewed before the server (re)started: the outage's doing;
    /// a network partition longer than the lease is counted). When that makes `maxFailures` failures in a row, the run is failed for good
    /// with an error naming the worker and the attempt, and the next claimable run is taken
    /// instead; so a document that crashes every worker that takes it stops after
    /// `maxFailures` crashes.
    ///
    /// A retry after a COMMIT whose answer was lost (and only then: host and pid may repeat
    /// across containers) first adopts a run this worker (host and pid) holds a live lease on
    /// whose token this store does not know: the claim that did commit.
    /// - Returns: nil when nothing is claimable.
    public func claim(worker: WorkerIdentity, lease: TimeInterval, batchID: String? = nil) throws -> Claim? {
        let maxFailures = self.maxFailures
        let known = knownLeases()
        let claim: Claim? = try transaction("claim a run", knowingDoubt: { connection, inDoubt in
            if inDoubt, let adopted = try adoptClaim(connection, worker: worker, lease: lease, batchID: batchID, known: known) {
                return adopted
            }
            // Each pass claims a row or fails one for good (which no later pass selects again).
            while true {
                let rows = try query(connection, """
                    SELECT q.runID, q.state, q.attempts, q.failures, q.workerHost, q.workerPID,
                        COALESCE(q.heartbeatAt > pg_postmaster_start_time(), true) FROM queue q JOIN run r ON r.id = q.runID
                    WHERE (q.state = 'queued' OR (q.state = 'claimed' AND q.leaseUntil < now())) AND q.submitted
                      AND (\(batchID)::text IS NULL OR r.batchID = \(batchID))
                    ORDER BY q.seq LIMIT 1 FOR UPDATE OF q SKIP LOCKED
                    """)
                guard let row = rows.first else { return nil }
                let runID = try row[0].decode(String.self)
                // A lease that ran out while the server was down (its last renewal came before
                // the server started) is the outage's doing, not the attempt's: not counted.
                let crashed = try row[1].decode(String.self) == "claimed" && (try row[6].decode(Bool.self))
                if crashed {
                    let attempt = try row[2].decode(Int32.self)
                    let failures = Int(try row[3].decode(Int32.self)) + 1
                    let holder = "\(try row[4].decode(String?.self) ?? "?"):\(try row[5].decode(Int32?.self).map(String.init) ?? "?")"
                    var note = "worker \(holder) stopped renewing its lease during attempt \(attempt) (it crashed or lost the server)"
                    if failures >= maxFailures {
                        note += "; \(failures) failed attempts in a row, so the run is failed for good"
                        try query(connection, """
                            UPDATE queue SET state = 'failed', failures = failures + 1, leaseToken = leaseToken + 1,
                                leaseUntil = NULL, workerHost = NULL, workerPID = NULL WHERE runID = \(runID)
                            """)
                        try query(connection, "UPDATE run SET status = 'failed', errorText = \(note), updatedAt = now() WHERE id = \(runID)")
                        continue
                    }
                    try query(connection, "UPDATE run SET errorText = \(note), updatedAt = now() WHERE id = \(runID)")
                }
                let updated = try query(connection, """
                    UPDATE queue SET state = 'claimed', attempts = attempts + 1, leaseToken = leaseToken + 1,
                        failures = failures + \(Int32(crashed ? 1 : 0)),
                        leaseUntil = now() + make_interval(secs => \(lease)), workerHost = \(worker.host),
                        workerPID = \(Int32(worker.pid)), heartbeatAt = now(), startedAt = COALESCE(startedAt, now())
                    WHERE runID = \(runID) RETURNING leaseToken, attempts
                    """)
                guard let claimed = updated.first else { return nil }
                let resumes = try !query(connection, "SELECT 1 FROM checkpoint WHERE runID = \(runID) LIMIT 1").isEmpty
                try query(connection, "UPDATE run SET status = 'running', updatedAt = now() WHERE id = \(runID) AND status <> 'completed'")
                return Claim(runID: runID, token: try claimed[0].decode(Int64.self), attempt: Int(try claimed[1].decode(Int32.self)), resumes: resumes)
            }
        })
        if let claim {
            setLease(runID: claim.runID, token: claim.token)
            startClaimHeartbeat(runID: claim.runID, lease: lease)
        }
        return claim
    }

    /// A live lease of `worker` on a submitted run whose token is not in `known`: what a claim
    /// committed before its answer was lost. Its lease is renewed and it is returned.
    private func adoptClaim(_ connection: PostgresConnection, worker: WorkerIdentity, lease: TimeInterval,
                            batchID: String?, known: [String]) throws -> Claim? {
        let rows = try query(connection, """
            SELECT q.runID, q.leaseToken, q.attempts FROM queue q JOIN run r ON r.id = q.runID
            WHERE q.state = 'claimed' AND q.leaseUntil > now() AND q.submitted
              AND q.workerHost = \(worker.host) AND q.workerPID = \(Int32(worker.pid)) AND q.runID <> ALL(\(known))
              AND (\(batchID)::text IS NULL OR r.batchID = \(batchID))
            ORDER BY q.seq LIMIT 1 FOR UPDATE OF q SKIP LOCKED
            """)
        guard let row = rows.first else { return nil }
        let runID = try row[0].decode(String.self)
        try query(connection, """
            UPDATE queue SET leaseUntil = now() + make_interval(secs => \(lease)), heartbeatAt = now() WHERE runID = \(runID)
            """)
        let resumes = try !query(connection, "SELECT 1 FROM checkpoint WHERE runID = \(runID) LIMIT 1").isEmpty
        return Claim(runID: runID, token: try row[1].decode(Int64.self), attempt: Int(try row[2].decode(Int32.self)), resumes: resumes)
    }

    /// Extends the lease on a claimed run (the heartbeat), on the store's heartbeat connection
    /// (one statement, no transaction).
    /// - Throws: `StoreError.leaseLost` when another worker took the run over.
    public func renewLease(runID: String, lease: TimeInterval) throws {
        guard let token = heldLease(runID: runID) else { throw leaseLost(runID) }
        try withConnection("renew the lease on run \(runID)", runID: runID, slot: heartbeatSlot) { connection in
            let rows = try query(connection, """
                UPDATE queue SET leaseUntil = now() + make_interval(secs => \(lease)), heartbeatAt = now()
                WHERE runID = \(runID) AND state = 'claimed' AND leaseToken = \(token) RETURNING runID
                """)
            if rows.isEmpty {
                loseLease(runID: runID)
                throw leaseLost(runID)
            }
        }
    }

    /// Gives a claimed run back to the queue (after a final checkpoint on SIGTERM): another
    /// worker may claim it at once.
    public func releaseLease(runID: String, direct: Bool = false) throws {
        guard let token = heldLease(runID: runID) else { return }
        setLease(runID: runID, token: nil)
        _ = try transaction("release the lease on run \(runID)", runID: runID) { connection in
            if direct {
                try query(connection, "DELETE FROM queue WHERE runID = \(runID) AND state = 'claimed' AND leaseToken = \(token) AND NOT submitted")
            } else {
                try query(connection, """
                    UPDATE queue SET state = 'queued', leaseUntil = NULL, workerHost = NULL, workerPID = NULL
                    WHERE runID = \(runID) AND state = 'claimed' AND leaseToken = \(token)
                    """)
            }
        }
    }

    /// Marks a claimed run done (status completed, K/V blocks dropped unless `keepCache`), in
    /// one transaction that first checks the lease is still ours.
    public func finish(runID: String, keepCache: Bool) throws {
        let token = heldLease(runID: runID)
        try transaction("complete run \(runID)", runID: runID) { connection in
            if let token {
                // A retry after a COMMIT whose answer was lost (the connection cut at that
                // moment) finds the run done under our own token: it is, once.
                let rows = try query(connection, "SELECT state, leaseToken FROM queue WHERE runID = \(runID)")
                if let row = rows.first, try row[0].decode(String.self) == "done", try row[1].decode(Int64.self) == token { return }
                try checkLease(connection, runID: runID, token: token)
            }
            try completeRun(connection, runID: runID, keepCache: keepCache)
            try query(connection, "UPDATE queue SET state = 'done', leaseUntil = NULL, failures = 0 WHERE runID = \(runID)")
        }
        setLease(runID: runID, token: nil)
    }

    /// Records that the attempt on a claimed run failed with `error`. After `maxFailures`
    /// failed attempts in a row the run is marked failed for good (a poisoned document);
    /// before that it goes back to the queue for another worker.
    ///
    /// `token`: the claim's lease token, for a worker that no longer holds the lease (it was
    /// given back to the queue when opening the run failed); the failure is recorded only if
    /// nobody claimed the run since.
    ///
    /// Recording a failure also advances the lease token, so that a retry after a COMMIT whose
    /// answer was lost recognises its own committed failure and does not count it twice.
    /// - Returns: whether the run is now failed for good.
    @discardableResult
    public func fail(runID: String, error: String, maxFailures: Int, token claimed: Int64? = nil) throws -> Bool {
        let token = heldLease(runID: runID)
        var tries = 0
        let final: Bool = try transaction("record the failure of run \(runID)", runID: runID) { connection in
            tries += 1
            if tries > 1, let expected = token ?? claimed {
                let rows = try query(connection, "SELECT leaseToken, state FROM queue WHERE runID = \(runID) FOR UPDATE")
                if let row = rows.first, try row[0].decode(Int64.self) == expected + 1 {
                    let state = try row[1].decode(String.self)
                    if state == "queued" || state == "failed" { return state == "failed" }
                }
            }
            if let token { try checkLease(connection, runID: runID, token: token) }
            else if let claimed {
                let rows = try query(connection, "SELECT leaseToken, state FROM queue WHERE runID = \(runID) FOR UPDATE")
                guard let row = rows.first, try row[0].decode(Int64.self) == claimed,
                      ["claimed", "queued"].contains(try row[1].decode(String.self)) else { throw leaseLost(runID) }
            }
            let rows = try query(connection, """
                UPDATE queue SET failures = failures + 1, leaseToken = leaseToken + 1, leaseUntil = NULL, workerHost = NULL, workerPID = NULL,
                    state = CASE WHEN NOT submitted OR failures + 1 >= \(maxFailures) THEN 'failed' ELSE 'queued' END
                WHERE runID = \(runID) RETURNING state
                """)
            let final = try rows.first.map { try $0[0].decode(String.self) } == "failed"
            try query(connection, """
                UPDATE run SET status = \(final ? "failed" : "running"), errorText = \(error), updatedAt = now() WHERE id = \(runID)
                """)
            return final
        }
        setLease(runID: runID, token: nil)
        return final
    }

    /// The queue rows of a batch (or of every run), in submission order.
    public func queueEntries(batchID: String?) throws -> [QueueEntry] {
        try withConnection("read the queue") { connection in
            try query(connection, """
                SELECT q.runID, q.state, q.attempts, q.failures, q.workerHost, q.workerPID, q.leaseUntil, q.startedAt,
                    COALESCE(q.state = 'claimed' AND q.leaseUntil > now(), false)
                FROM queue q JOIN run r ON r.id = q.runID
                WHERE (\(batchID)::text IS NULL OR r.batchID = \(batchID)) ORDER BY q.seq
                """).map { row in
                let host = try row[4].decode(String?.self)
                let pid = try row[5].decode(Int32?.self)
                return QueueEntry(
                    runID: try row[0].decode(String.self),
                    state: QueueEntry.State(rawValue: try row[1].decode(String.self)) ?? .queued,
                    attempts: Int(try row[2].decode(Int32.self)), failures: Int(try row[3].decode(Int32.self)),
                    worker: host.flatMap { h in pid.map { WorkerIdentity(host: h, pid: $0) } },
                    leaseUntil: try row[6].decode(Date?.self), startedAt: try row[7].decode(Date?.self),
                    live: try row[8].decode(Bool.self))
            }
        }
    }

    // MARK: Leases held by this store

    /// The runs this store knows its lease token of.
    func knownLeases() -> [String] {
        leaseLock.lock()
        defer { leaseLock.unlock() }
        return Array(leases.keys)
    }

    func heldLease(runID: String) -> Int64? {
        leaseLock.lock()
        defer { leaseLock.unlock() }
        return leases[runID]
    }

    func setLease(runID: String, token: Int64?) {
        leaseLock.lock()
        leases[runID] = token
        if token != nil { fenced.remove(runID) }
        let heartbeat = token == nil ? claimHeartbeats.removeValue(forKey: runID) : nil
        leaseLock.unlock()
        heartbeat?.heartbeat.stop()
    }

    /// The lease on the run was taken over: forget it, fence further writes, stop its heartbeat.
    func loseLease(runID: String) {
        leaseLock.lock()
        leases[runID] = nil
        fenced.insert(runID)
        let heartbeat = claimHeartbeats.removeValue(forKey: runID)
        leaseLock.unlock()
        heartbeat?.heartbeat.state.markLost()
        heartbeat?.heartbeat.stop()
    }

    /// Starts renewing the lease of a run just claimed, until ``hold(runID:)`` adopts the
    /// heartbeat or the lease is given up: fetching the document and loading the model between
    /// the claim and the hold may take longer than the lease.
    func startClaimHeartbeat(runID: String, lease: TimeInterval) {
        leaseLock.lock()
        let enabled = heartbeatsAtClaim
        leaseLock.unlock()
        guard enabled else { return }
        let heartbeat = Heartbeat.start(store: self, runID: runID, lease: lease)
        leaseLock.lock()
        let previous = claimHeartbeats.updateValue((heartbeat, lease), forKey: runID)
        leaseLock.unlock()
        previous?.heartbeat.stop()
    }

    /// The heartbeat started when the run was claimed (and its lease length), for its hold.
    func takeClaimHeartbeat(runID: String) -> (Heartbeat?, TimeInterval?) {
        leaseLock.lock()
        defer { leaseLock.unlock() }
        let taken = claimHeartbeats.removeValue(forKey: runID)
        return (taken?.heartbeat, taken?.lease)
    }

    /// Test hook: claims start no heartbeat (as if the worker died right after claiming).
    func startHeartbeatsAtClaim(_ enabled: Bool) {
        leaseLock.lock(); heartbeatsAtClaim = enabled; leaseLock.unlock()
    }

    /// Whether this store lost its lease on the run: every further write for it is refused
    /// (``leaseLost``) until it claims the run again.
    func isFenced(runID: String) -> Bool {
        leaseLock.lock()
        defer { leaseLock.unlock() }
        return fenced.contains(runID)
    }

    /// Throws ``leaseLost`` when this store lost its lease on the run.
    func checkNotFenced(_ runID: String) throws {
        if isFenced(runID: runID) { throw leaseLost(runID) }
    }

    /// Fencing: throws `.leaseLost` unless the queue row still carries our lease token (locks
    /// the row until the transaction ends, so a takeover waits for this write or sees it).
    func checkLease(_ connection: PostgresConnection, runID: String, token: Int64) throws {
        let rows = try query(connection, "SELECT leaseToken, state FROM queue WHERE runID = \(runID) FOR UPDATE")
        guard let row = rows.first, try row[0].decode(Int64.self) == token, try row[1].decode(String.self) == "claimed" else {
            loseLease(runID: runID)
            throw leaseLost(runID)
        }
    }

    func leaseLost(_ runID: String) -> StoreError {
        StoreError(code: .leaseLost, path: location,
                   message: "This worker's lease on run \(runID) in \(location) was taken over by another worker (it missed its heartbeats); it stops without writing.",
                   runID: runID)
    }
}
