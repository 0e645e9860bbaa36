import Foundation
import GRDB

/// What a run is doing now, derived from its stored `RunStatus` and its lock.
///
/// The stored status alone cannot tell a live run from one whose process died: a process
/// killed with `kill -9` (or a machine that went down) leaves `running` behind. The lock can:
/// the kernel drops it with the process. Every listing and report derives the state through
/// `RunStore.state(of:)`, so that they all agree.
public enum RunState: String, Sendable, CaseIterable, Codable {
    /// A live process holds the run's lock and is working on it.
    case running
    /// Stored as `running` but nobody holds its lock: its process died. `resume` continues it.
    case interrupted
    /// Stopped cleanly (Ctrl-C, or a full disk); `resume` continues it.
    case paused
    /// Stopped by an error (see its error text); `resume` continues it once the cause is fixed.
    case failed
    /// Finished.
    case completed

    /// Whether the run can still go on (by itself or with `resume`); `prune` never touches such a run.
    public var isUnfinished: Bool { self != .completed }
}

/// Who holds a run's lock file.
public enum RunLockState: Sendable, Equatable {
    /// There is no lock file: nobody holds the lock.
    case absent
    /// The lock file exists but nobody holds it (its holder finished or died).
    case free
    /// A process holds the lock; the pid it wrote, if readable.
    case held(pid: Int32?)
    /// The lock file could not be examined (the reason).
    case unknown(String)

    /// Whether a live process (possibly) holds the lock.
    public var mayBeHeld: Bool {
        switch self {
        case .absent, .free: false
        case .held, .unknown: true
        }
    }
}

/// A run with its derived state.
public struct RunWithState: Sendable, Equatable {
    public var record: RunRecord
    public var state: RunState
    /// The pid of the process holding the run, when it is `running` and the pid is readable.
    public var holderPID: Int32?
    /// The host of that process, when the store knows it (PostgreSQL workers on many machines).
    public var holderHost: String?

    public init(record: RunRecord, state: RunState, holderPID: Int32? = nil, holderHost: String? = nil) {
        self.record = record
        self.state = state
        self.holderPID = holderPID
        self.holderHost = holderHost
    }
}

extension RunStore {
    /// Who holds the lock of a run, probed without creating the lock file and without leaving
    /// anything behind (a shared `flock` for an instant, only if the file exists).
    public func lockState(runID: String) -> RunLockState {
        guard !runID.isEmpty, !runID.contains("/"), runID != ".", runID != ".." else { return .absent }
        return RunLock.probe(path: lockPath(runID: runID))
    }

    /// The run's state: its stored status, corrected by its lock.
    ///
    /// - `completed` stays `completed`.
    /// - A run whose lock a live process holds is `running` (also while a `resume` is still
    ///   restoring a paused run, before it stores `running`).
    /// - Stored `running` with nobody holding the lock is `interrupted`: its process died.
    /// - Otherwise the stored `paused` or `failed`.
    public func state(of record: RunRecord) -> RunState {
        stateAndHolder(of: record).state
    }

    /// The run's state (see `state(of:)`) and, when it is `running`, the holder's pid if known.
    public func stateAndHolder(of record: RunRecord) -> RunWithState {
        if record.status == .completed { return RunWithState(record: record, state: .completed) }
        switch lockState(runID: record.id) {
        case .held(let pid):
            return RunWithState(record: record, state: .running, holderPID: pid)
        case .unknown:
            // Cannot tell: trust the stored status rather than call a live run dead.
            return RunWithState(record: record, state: Self.storedState(record.status))
        case .absent, .free:
            let state: RunState = record.status == .running ? .interrupted : Self.storedState(record.status)
            return RunWithState(record: record, state: state)
        }
    }

    /// Runs matching every given filter, with their derived states, oldest first.
    ///
    /// This is the one place that filters by state: `runs --status`, `prune` and reports all
    /// go through it.
    /// - Parameters:
    ///   - task: Only runs of this task.
    ///   - state: Only runs in this derived state (nil: every run).
    ///   - batchID: Only runs of this batch.
    public func runs(task: RunTask? = nil, state: RunState?, batchID: String? = nil) throws -> [RunWithState] {
        // The stored statuses each state can come from, to let SQLite filter first.
        let candidates: [RunStatus]?
        switch state {
        case nil: candidates = nil
        case .running?: candidates = [.running, .paused, .failed]
        case .interrupted?: candidates = [.running]
        case .paused?: candidates = [.paused]
        case .failed?: candidates = [.failed]
        case .completed?: candidates = [.completed]
        }
        let records = try read("list runs") { db in
            var request = RunRecord.all()
            if let task { request = request.filter(RunRecord.Columns.task == task.rawValue) }
            if let candidates { request = request.filter(candidates.map(\.rawValue).contains(RunRecord.Columns.status)) }
            if let batchID { request = request.filter(RunRecord.Columns.batchID == batchID) }
            return try request.order(RunRecord.Columns.createdAt, Column.rowID).fetchAll(db)
        }
        let derived = records.map(stateAndHolder(of:))
        guard let state else { return derived }
        return derived.filter { $0.state == state }
    }

    /// The state a stored status means when no live process holds the run.
    public static func storedState(_ status: RunStatus) -> RunState {
        switch status {
        case .running: .running
        case .paused: .paused
        case .failed: .failed
        case .completed: .completed
        }
    }
}
