import Foundation
import PostgresNIO
import Store

/// A lease on one run, renewed by a heartbeat thread until released: what keeps a run to one
/// worker on PostgreSQL (the SQLite store's ``RunLock``). A holder that dies stops renewing, and
/// the lease runs out after its timeout; another worker may then claim the run.
public final class LeaseHold: RunHold, @unchecked Sendable {
    public let runID: String
    /// The lease's length; the heartbeat renews it every third of it.
    public let lease: TimeInterval
    private let store: PostgresStore
    private let direct: Bool
    private let mutex = NSLock()
    private var released = false
    private let stop = DispatchSemaphore(value: 0)
    private var heartbeat: Thread?
    /// Set when a renewal found the lease taken over (the next checkpoint is refused anyway).
    private var lost = false
    /// Whether a renewal found the lease taken over (read under the mutex).
    public var isLost: Bool {
        mutex.lock(); defer { mutex.unlock() }
        return lost
    }

    init(store: PostgresStore, runID: String, lease: TimeInterval, direct: Bool) {
        self.store = store
        self.runID = runID
        self.lease = lease
        self.direct = direct
        let thread = Thread { [weak self] in self?.beat() }
        thread.name = "sinkstream-lease-\(runID)"
        heartbeat = thread
        thread.start()
    }

    private func beat() {
        let interval = max(0.2, lease / 3)
        while stop.wait(timeout: .now() + interval) == .timedOut {
            do {
                try store.renewLease(runID: runID, lease: lease)
            } catch let error as StoreError where error.code == .leaseLost {
                mutex.lock(); lost = true; mutex.unlock()
                return
            } catch {
                // Unreachable for longer than the store's retry window: keep trying; the lease
                // may run out meanwhile, and fencing then refuses our writes.
            }
        }
    }

    /// Stops the heartbeat and gives the run back: a submitted run returns to the queue (another
    /// worker may claim it at once), a run held directly (`score`/`resume --db postgres://…`)
    /// leaves it.
    public func release() {
        mutex.lock()
        if released { mutex.unlock(); return }
        released = true
        mutex.unlock()
        stop.signal()
        try? store.releaseLease(runID: runID, direct: direct)
    }

    deinit { release() }
}

extension PostgresStore {
    /// How long a lease lasts unless renewed (`worker --lease-timeout`).
    public static let defaultLease: TimeInterval = 30

    /// Holds the run for this process: adopts the lease of a run this store claimed from the
    /// queue, else takes one directly (a run scored or resumed by a command, not a worker) —
    /// refused while another live holder's lease has not run out.
    public func hold(runID: String) throws -> any RunHold {
        if heldLease(runID: runID) != nil {
            return LeaseHold(store: self, runID: runID, lease: leaseLength, direct: false)
        }
        let worker = WorkerIdentity.current
        let lease = leaseLength
        let (token, direct): (Int64, Bool) = try transaction("take run \(runID)", runID: runID) { connection in
            let rows = try query(connection, """
                SELECT state, leaseUntil > now(), workerHost, workerPID, submitted FROM queue WHERE runID = \(runID) FOR UPDATE
                """)
            if let row = rows.first {
                let state = try row[0].decode(String.self)
                let live = try row[1].decode(Bool?.self) ?? false
                if state == "claimed" && live {
                    let host = try row[2].decode(String?.self) ?? "?"
                    let pid = try row[3].decode(Int32?.self)
                    throw StoreError(
                        code: .runLocked, path: location,
                        message: "Run \(runID) in \(location) is held by worker \(host):\(pid.map(String.init) ?? "?") (its lease is live); wait for it to finish or stop that worker first.",
                        runID: runID, holderPID: pid)
                }
                let updated = try query(connection, """
                    UPDATE queue SET state = 'claimed', attempts = attempts + 1, leaseToken = leaseToken + 1,
                        leaseUntil = now() + make_interval(secs => \(lease)), workerHost = \(worker.host),
                        workerPID = \(worker.pid), heartbeatAt = now(), startedAt = COALESCE(startedAt, now())
                    WHERE runID = \(runID) RETURNING leaseToken
                    """)
                return (try updated[0][0].decode(Int64.self), !(try row[4].decode(Bool.self)))
            }
            let inserted = try query(connection, """
                INSERT INTO queue (runID, state, attempts, leaseToken, leaseUntil, workerHost, workerPID, heartbeatAt,
                    enqueuedAt, startedAt, submitted)
                VALUES (\(runID), 'claimed', 1, 1, now() + make_interval(secs => \(lease)), \(worker.host), \(worker.pid),
                    now(), now(), now(), false)
                RETURNING leaseToken
                """)
            return (try inserted[0][0].decode(Int64.self), true)
        }
        setLease(runID: runID, token: token)
        return LeaseHold(store: self, runID: runID, lease: lease, direct: direct)
    }

    /// The run's state: completed stays completed; a run whose lease is live (by the server's
    /// clock) is running, with the worker's host and pid; a run stored as running that nobody
    /// holds is interrupted (its worker died, or it waits in the queue).
    public func stateAndHolder(of record: RunRecord) -> RunWithState {
        if record.status == .completed { return RunWithState(record: record, state: .completed) }
        let row = try? withConnection("read the lease of run \(record.id)", runID: record.id) { connection in
            try query(connection, """
                SELECT state = 'claimed' AND leaseUntil > now(), workerHost, workerPID FROM queue WHERE runID = \(record.id)
                """).first.map { (try $0[0].decode(Bool?.self) ?? false, try $0[1].decode(String?.self), try $0[2].decode(Int32?.self)) }
        }
        return Self.derive(record, live: row?.0 ?? false, host: row?.1, pid: row?.2)
    }

    static func derive(_ record: RunRecord, live: Bool, host: String?, pid: Int32?) -> RunWithState {
        if record.status == .completed { return RunWithState(record: record, state: .completed) }
        if live { return RunWithState(record: record, state: .running, holderPID: pid, holderHost: host) }
        let state: RunState = record.status == .running ? .interrupted : RunStore.storedState(record.status)
        return RunWithState(record: record, state: state)
    }

    public func runs(task: RunTask?, state: RunState?, batchID: String?) throws -> [RunWithState] {
        let derived: [RunWithState] = try withConnection("list runs") { connection in
            try query(connection, """
                SELECT \(unescaped: Self.runColumns.split(separator: ",").map { "r." + $0.trimmingCharacters(in: .whitespacesAndNewlines) }.joined(separator: ", ")),
                    COALESCE(q.state = 'claimed' AND q.leaseUntil > now(), false), q.workerHost, q.workerPID
                FROM run r LEFT JOIN queue q ON q.runID = r.id
                WHERE (\(task?.rawValue)::text IS NULL OR r.task = \(task?.rawValue))
                  AND (\(batchID)::text IS NULL OR r.batchID = \(batchID))
                ORDER BY r.createdAt, r.seq
                """).map { row in
                Self.derive(try Self.runRecord(row, location: location), live: try row[19].decode(Bool.self),
                            host: try row[20].decode(String?.self), pid: try row[21].decode(Int32?.self))
            }
        }
        guard let state else { return derived }
        return derived.filter { $0.state == state }
    }
}
