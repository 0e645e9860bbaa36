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
    private let heartbeat: Heartbeat
    /// Whether a renewal found the lease taken over (the next checkpoint is refused anyway).
    public var isLost: Bool { heartbeat.state.isLost }

    /// A hold whose heartbeat is `heartbeat` (one started when the run was claimed), else a new one.
    init(store: PostgresStore, runID: String, lease: TimeInterval, direct: Bool, heartbeat: Heartbeat? = nil) {
        self.store = store
        self.runID = runID
        self.lease = lease
        self.direct = direct
        self.heartbeat = heartbeat ?? Heartbeat.start(store: store, runID: runID, lease: lease)
    }

    /// Stops the heartbeat and gives the run back: a submitted run returns to the queue (another
    /// worker may claim it at once), a run held directly (`score`/`resume --db postgres://…`)
    /// leaves it.
    public func release() {
        guard heartbeat.state.markReleased() else { return }
        heartbeat.stop()
        try? store.releaseLease(runID: runID, direct: direct)
    }

    deinit { release() }
}

/// The thread that renews one lease every third of its length until stopped, the lease is found
/// taken over, or the store is gone. It holds the store only weakly and never the hold, so a
/// hold its owner drops without releasing is deinitialised (which releases the lease), and a
/// store dropped without closing stops its heartbeats.
final class Heartbeat: @unchecked Sendable {
    let state = HeartbeatState()
    private let stopped = DispatchSemaphore(value: 0)

    static func start(store: PostgresStore, runID: String, lease: TimeInterval) -> Heartbeat {
        let heartbeat = Heartbeat()
        let weakStore = WeakStore(store)
        let state = heartbeat.state, stopped = heartbeat.stopped
        let thread = Thread {
            let interval = max(0.2, lease / 3)
            while stopped.wait(timeout: .now() + interval) == .timedOut {
                guard let store = weakStore.store else { return }
                do {
                    try store.renewLease(runID: runID, lease: lease)
                } catch let error as StoreError where error.code == .leaseLost {
                    // Taken over (fenced), or given up by this store (finished, failed,
                    // released): only the first is a lost hold.
                    if store.isFenced(runID: runID) { state.markLost() }
                    return
                } catch {
                    // Unreachable for longer than the store's retry window: keep trying; the
                    // lease may run out meanwhile, and fencing then refuses our writes.
                }
            }
        }
        thread.name = "sinkstream-lease-\(runID)"
        thread.start()
        return heartbeat
    }

    /// Ends the thread (at once if it waits, else after its renewal in progress).
    func stop() { stopped.signal() }
}

/// A weak reference to a store, for heartbeat threads.
final class WeakStore: @unchecked Sendable {
    weak var store: PostgresStore?
    init(_ store: PostgresStore) { self.store = store }
}

/// What a ``LeaseHold`` and its heartbeat thread share, under one mutex.
final class HeartbeatState: @unchecked Sendable {
    private let mutex = NSLock()
    private var lost = false
    private var released = false

    var isLost: Bool {
        mutex.lock(); defer { mutex.unlock() }
        return lost
    }

    func markLost() {
        mutex.lock(); lost = true; mutex.unlock()
    }

    /// Marks the hold released; false if it already was.
    func markReleased() -> Bool {
        mutex.lock(); defer { mutex.unlock() }
        if released { return false }
        released = true
        return true
    }
}

extension PostgresStore {
    /// How long a lease lasts unless renewed (`worker --lease-timeout`).
    public static let defaultLease: TimeInterval = 30

    /// Holds the run for this process: adopts the lease of a run this store claimed from the
    /// queue, else takes one directly (a run scored or resumed by a command, not a worker) —
    /// refused while another live holder's lease has not run out.
    public func hold(runID: String) throws -> any RunHold {
        if heldLease(runID: runID) != nil {
            // A claimed run: its heartbeat has been running since the claim.
            let (heartbeat, lease) = takeClaimHeartbeat(runID: runID)
            return LeaseHold(store: self, runID: runID, lease: lease ?? leaseLength, direct: false, heartbeat: heartbeat)
        }
        // A claimed run whose lease was taken over before it was held: not to be taken back.
        if isFenced(runID: runID) { throw leaseLost(runID) }
        let worker = WorkerIdentity.current
        let lease = leaseLength
        let (token, direct): (Int64, Bool) = try transaction("take run \(runID)", runID: runID, knowingDoubt: { connection, inDoubt in
            // Twice at most: a concurrent direct hold may insert the queue row between our
            // SELECT (which then locked nothing) and our INSERT; the second pass waits for its
            // lock and reports it as the live holder.
            for _ in 0 ..< 2 {
                let rows = try query(connection, """
                    SELECT state, leaseUntil > now(), workerHost, workerPID, submitted, leaseToken FROM queue WHERE runID = \(runID) FOR UPDATE
                    """)
                if let row = rows.first {
                    let state = try row[0].decode(String.self)
                    let live = try row[1].decode(Bool?.self) ?? false
                    let host = try row[2].decode(String?.self)
                    let pid = try row[3].decode(Int32?.self)
                    let submitted = try row[4].decode(Bool.self)
                    if state == "claimed" && live {
                        // A retry after a COMMIT whose answer was lost finds our own lease.
                        if inDoubt, host == worker.host, pid == worker.pid {
                            return (try row[5].decode(Int64.self), !submitted)
                        }
                        throw StoreError(
                            code: .runLocked, path: location,
                            message: "Run \(runID) in \(location) is held by worker \(host ?? "?"):\(pid.map(String.init) ?? "?") (its lease is live); wait for it to finish or stop that worker first.",
                            runID: runID, holderPID: pid)
                    }
                    if state == "done" {
                        // Completed by a worker since the caller read the run's status.
                        throw StoreError(code: .runLocked, path: location,
                                         message: "Run \(runID) in \(location) was completed by a worker a moment ago; there is nothing left to resume.",
                                         runID: runID)
                    }
                    let updated = try query(connection, """
                        UPDATE queue SET state = 'claimed', attempts = attempts + 1, leaseToken = leaseToken + 1,
                            leaseUntil = now() + make_interval(secs => \(lease)), workerHost = \(worker.host),
                            workerPID = \(worker.pid), heartbeatAt = now(), startedAt = COALESCE(startedAt, now())
                        WHERE runID = \(runID) RETURNING leaseToken
                        """)
                    return (try updated[0][0].decode(Int64.self), !submitted)
                }
                let inserted = try query(connection, """
                    INSERT INTO queue (runID, state, attempts, leaseToken, leaseUntil, workerHost, workerPID, heartbeatAt,
                        enqueuedAt, startedAt, submitted)
                    VALUES (\(runID), 'claimed', 1, 1, now() + make_interval(secs => \(lease)), \(worker.host), \(worker.pid),
                        now(), now(), now(), false)
                    ON CONFLICT (runID) DO NOTHING RETURNING leaseToken
                    """)
                if let row = inserted.first { return (try row[0].decode(Int64.self), true) }
            }
            throw StoreError(code: .runLocked, path: location,
                             message: "Run \(runID) in \(location) is being taken by another process at this moment; try again.",
                             runID: runID)
        })
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
