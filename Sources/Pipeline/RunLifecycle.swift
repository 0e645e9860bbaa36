#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Kernels
import Model
import Store
import Streaming
import Tokenization

/// How a run ended this time.
public enum RunOutcome: Sendable, Equatable {
    case completed
    /// Stopped on request (a signal) after a final checkpoint; `sinkstream resume` continues it.
    case paused
}

/// What the lifecycle needs to know of a run's stored configuration (``ScoreConfiguration``,
/// the tasks' `TaskConfiguration`).
public protocol RunConfiguration: Codable, Sendable {
    /// The arithmetic the run was started with (a resume must use the same).
    var precision: Precision { get }
    /// Checkpoint after this many processed tokens (0: only by time and at the end).
    var checkpointEveryTokens: Int { get }
    /// Checkpoint after this many seconds (0: only by tokens and at the end).
    var checkpointEverySeconds: Double { get }
    /// Keep the K/V blocks of the final checkpoint when the run completes (nothing can resume
    /// a completed run, so by default they are dropped).
    var keepsCache: Bool { get }
}

/// The life of one stored run, shared by score runs and task runs: create, open for work (all
/// the checks a resume needs), the checkpoint interval, the cache's part of a checkpoint,
/// finish, fail.
///
/// A run's status is written only here: `running` while a process works on it (that process
/// holds the run's lock), `paused` after a requested stop with a final checkpoint, `failed`
/// with the error that stopped it, `completed` at the end. A run whose process died stays
/// `running` with nobody holding its lock; the store derives `interrupted` from that.
public final class RunLifecycle {
    public let runID: String
    public let store: any RunStoring
    /// The run's row as it was when the run was opened.
    public let record: RunRecord
    /// The document to read: the run's own path, or a local copy of its bytes (a worker that
    /// fetched a submitted document from the database).
    public let documentPath: String
    private let lock: any RunHold
    private let everyTokens: Int
    private let everySeconds: Double
    private let keepsCache: Bool
    private var markPosition = 0
    private var markTime = Date()

    private init(record: RunRecord, store: any RunStoring, lock: any RunHold, config: some RunConfiguration, documentPath: String) {
        runID = record.id
        self.record = record
        self.documentPath = documentPath
        self.store = store
        self.lock = lock
        everyTokens = config.checkpointEveryTokens
        everySeconds = config.checkpointEverySeconds
        keepsCache = config.keepsCache
    }

    /// Registers a new run without working on it (a batch registers all its inputs first, so
    /// that `resume --batch` finds every one). The document must open and start like text.
    /// - Returns: the stored row (status `running`, nobody holding it yet).
    /// - Throws: ``DocumentError`` when the document cannot be read, `StoreError`.
    public static func register(
        task: RunTask, documentPath: String, tokenizer: BPETokenizer, model: LanguageModel, modelSHA256: String,
        config: some RunConfiguration, replaceInvalid: Bool, mode: String, store: any RunStoring, batchID: String?
    ) throws -> RunRecord {
        try store.createRun(describe(
            task: task, documentPath: documentPath, tokenizer: tokenizer, model: model, modelSHA256: modelSHA256,
            config: config, replaceInvalid: replaceInvalid, mode: mode, batchID: batchID))
    }

    /// The row ``register`` stores for a new run (after the same checks), for a store that
    /// registers it some other way (`submit` puts it in the PostgreSQL queue with its document).
    public static func describe(
        task: RunTask, documentPath: String, tokenizer: BPETokenizer, model: LanguageModel, modelSHA256: String,
        config: some RunConfiguration, replaceInvalid: Bool, mode: String, batchID: String?
    ) throws -> NewRun {
        let path = URL(fileURLWithPath: documentPath).standardizedFileURL.path
        _ = try DocumentReader(path: path, tokenizer: tokenizer, replaceInvalid: replaceInvalid, blockSize: 1 << 12)
        let size = try DocumentReader.fileSize(path)
        let digest = try FileDigest.sha256(path: path)
        let configJSON = String(decoding: try JSONEncoder().encode(config), as: UTF8.self)
        return NewRun(
            batchID: batchID, task: task, documentPath: path, documentSHA256: digest, documentSize: size,
            modelPath: model.path, modelSHA256: modelSHA256, config: configJSON, mode: mode)
    }

    /// Opens a run for work: it must exist, be unfinished and of one of `tasks`; its lock is
    /// taken; its configuration decoded; the model must be the run's (SHA-256) with its
    /// precision, and the document unchanged (unless the run was just registered).
    /// - Returns: the lifecycle, the configuration and the latest checkpoint (nil before the first).
    /// - Throws: ``RunError`` (`run.unknown`, `run.completed`, `run.task`, `run.model-changed`,
    ///   `run.document-changed`, `run.damaged`); `StoreError.runLocked` if another process holds it.
    public static func open<Config: RunConfiguration>(
        runID: String, tasks: Set<RunTask>, as _: Config.Type, store: any RunStoring, model: LanguageModel,
        modelSHA256: String, justRegistered: Bool = false, localDocument: String? = nil
    ) throws -> (lifecycle: RunLifecycle, config: Config, checkpoint: CheckpointRecord?) {
        guard let record = try store.run(id: runID) else { throw RunError.unknownRun(runID) }
        guard record.status != .completed else { throw RunError.completed(runID) }
        guard tasks.contains(record.task) else {
            throw RunError.wrongTask(runID, record.task.rawValue, expected: tasks.map(\.rawValue).sorted())
        }
        let lock = try store.hold(runID: runID)
        var released = false
        defer { if !released { lock.release() } }
        let config: Config
        do {
            config = try JSONDecoder().decode(Config.self, from: Data(record.config.utf8))
        } catch {
            throw RunError.damaged(runID, "its configuration cannot be read (\(error))")
        }
        guard config.precision == model.precision else {
            throw RunError.damaged(runID, "it was run with --precision \(config.precision.rawValue)")
        }
        guard modelSHA256 == record.modelSHA256 else { throw RunError.changed(runID, what: "model", path: model.path) }
        let document = localDocument ?? record.documentPath
        if !justRegistered {
            guard FileManager.default.fileExists(atPath: document),
                  try FileDigest.sha256(path: document) == record.documentSHA256 else {
                throw RunError.changed(runID, what: "document", path: document)
            }
        }
        let checkpoint = try store.latestCheckpoint(runID: runID)
        if record.status != .running { try store.setStatus(runID: runID, .running) }
        released = true
        return (RunLifecycle(record: record, store: store, lock: lock, config: config, documentPath: document), config, checkpoint)
    }

    /// Decodes a part of a checkpoint, calling a failure `run.damaged`.
    public func decode<T: Decodable>(_ type: T.Type, from data: Data, what: String) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: data)
        } catch {
            throw RunError.damaged(runID, "its checkpoint's \(what) cannot be read (\(error))")
        }
    }

    /// Does the work, then releases the run's lock. `work` gets the stop condition to check
    /// at every token batch: `shouldStop` (a stop request), or the hold was taken away
    /// (``holdLost``; the next write is then refused before anything is written).
    ///
    /// A store that cannot take a checkpoint (disk full, write error) leaves the previous
    /// checkpoint intact: the run is paused there (``RunError`` `run.storage`). A store that
    /// cannot be reached, or a hold that was taken over (``StoreError/isWorkerSide``), says
    /// nothing about the run: nothing is recorded for it (it goes back to the queue, or its
    /// lease runs out) and the store error is rethrown. Any other error marks the run failed,
    /// with the error.
    public func perform(shouldStop: () -> Bool = { false },
                        _ work: (_ stop: () -> Bool) throws -> RunOutcome) throws -> RunOutcome {
        defer { lock.release() }
        do {
            let lock = self.lock
            return try withoutActuallyEscaping(shouldStop) { requested in try work { requested() || lock.isLost } }
        } catch let error as StoreError where error.code == .diskFull || (error.sqliteCode ?? 0) & 0xFF == 10 {
            try? store.setStatus(runID: runID, .paused, error: error.message)
            throw RunError.storage(runID, error.message)
        } catch let error as StoreError where error.isWorkerSide {
            throw error
        } catch {
            try? store.setStatus(runID: runID, .failed, error: "\(error)")
            throw error
        }
    }

    /// Whether the run's hold was taken away (a lease another worker took over): the run must
    /// stop, writing nothing more.
    public var holdLost: Bool { lock.isLost }

    /// Starts counting the checkpoint interval at `position` (stream tokens processed).
    public func startInterval(at position: Int) {
        markPosition = position
        markTime = Date()
    }

    /// Whether the configured interval (tokens or seconds) has passed since the last checkpoint.
    public func checkpointDue(at position: Int) -> Bool {
        (everyTokens > 0 && position - markPosition >= everyTokens)
            || (everySeconds > 0 && Date().timeIntervalSince(markTime) >= everySeconds)
    }

    /// The cache's part of the next checkpoint: the K/V rows of `session`'s tokens that became
    /// live at or after `writtenUpTo` (earlier ones are stored already), the live ranges and the
    /// cache's bookkeeping. Empty for a run without a cache (recompute). In a branch of the
    /// stream, `fork` is the point the branch rewinds to: the rows live there stay stored too.
    public func cacheRows(_ session: StreamSession?, from writtenUpTo: Int, fork: StreamFork? = nil) throws -> CheckpointCache {
        guard let session else { return CheckpointCache(blocks: [], liveRanges: [], state: Data(), position: nil) }
        let live = session.liveRanges
        let kept = Self.union(live + (fork?.liveRanges ?? []))
        return CheckpointCache(
            blocks: CacheRows.export(session, live: live, from: writtenUpTo, runID: runID),
            liveRanges: kept.map { Int64($0.lowerBound)..<Int64($0.upperBound) },
            state: try JSONEncoder().encode(CacheSnapshot(position: session.position, policy: session.cache.state)),
            position: session.position)
    }

    /// Writes a checkpoint (one transaction), sets the run's status unless it stays `running`,
    /// and restarts the interval at `position`.
    /// - Returns: the blob bytes written.
    @discardableResult
    public func commit(_ write: CheckpointWrite, status: RunStatus, position: Int) throws -> Int {
        if lock.isLost { throw StoreError.holdLost(runID: runID, path: store.location) }
        try store.writeCheckpoint(write)
        if status != .running { try store.setStatus(runID: runID, status) }
        // What the checkpoint allocated and freed (SQLite's pages, encoders) goes back now, so
        // the heap does not grow with the run (see ProcessMemory).
        ProcessMemory.releaseFreed()
        startInterval(at: position)
        return write.blobBytes
    }

    /// Restores `session`'s bookkeeping and the K/V rows of its live tokens from `checkpoint`,
    /// which must have been written at stream position `position`. A checkpoint written in a
    /// branch restores the rows live at its `fork` first (the branch's window may have evicted
    /// them; rewinding needs them), then the branch's.
    public func restore(_ session: StreamSession, from checkpoint: CheckpointRecord, position: Int, fork: StreamFork? = nil) throws {
        let snapshot = try decode(CacheSnapshot.self, from: checkpoint.cacheState, what: "cache state")
        guard snapshot.position == position else {
            throw RunError.damaged(runID, "its checkpoint is inconsistent (cache at token \(snapshot.position), the rest at \(position))")
        }
        if let fork {
            do {
                try session.restore(position: fork.position, cacheState: fork.cacheState)
            } catch {
                throw RunError.damaged(runID, "its checkpoint's branch point cannot be restored (\(error))")
            }
            try CacheRows.restore(session, runID: runID, store: store)
        }
        try session.restore(position: snapshot.position, cacheState: snapshot.policy)
        try CacheRows.restore(session, runID: runID, store: store)
    }

    /// Sorted, merged ranges.
    static func union(_ ranges: [Range<Int>]) -> [Range<Int>] {
        var merged: [Range<Int>] = []
        for r in ranges.filter({ !$0.isEmpty }).sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if let last = merged.last, r.lowerBound <= last.upperBound {
                merged[merged.count - 1] = last.lowerBound..<max(last.upperBound, r.upperBound)
            } else {
                merged.append(r)
            }
        }
        return merged
    }

    /// Marks the run completed (after its final checkpoint); its K/V blocks go unless the
    /// configuration keeps them.
    public func complete() throws {
        if lock.isLost { throw StoreError.holdLost(runID: runID, path: store.location) }
        try store.complete(runID: runID, keepCache: keepsCache)
    }
}

/// The cache's part of a checkpoint, from ``RunLifecycle/cacheRows(_:from:)``.
public struct CheckpointCache: Sendable {
    public var blocks: [KVBlock]
    public var liveRanges: [Range<Int64>]
    /// The cache's bookkeeping (JSON of its position and policy state).
    public var state: Data
    /// The session's position (nil without a cache): every K/V row before it is now stored.
    public var position: Int?
}

/// The cache's bookkeeping in a checkpoint.
struct CacheSnapshot: Codable {
    var position: Int
    var policy: [Int]
}

extension DocumentReader {
    /// The size of a document file.
    /// - Throws: ``DocumentError`` `document.missing`.
    public static func fileSize(_ path: String) throws -> Int64 {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw DocumentError(code: "document.missing", path: path, byteOffset: nil, message: "cannot open the document: \(String(cString: strerror(errno))).")
        }
        return Int64(info.st_size)
    }
}
