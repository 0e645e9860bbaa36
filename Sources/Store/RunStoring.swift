import Foundation

/// The operations on stored runs that the run lifecycle, the tasks and the commands use, with
/// one implementation per backend: ``RunStore`` (SQLite through GRDB, the embedded default) and
/// `PostgresStore` (PostgreSQL through postgres-nio, shared by many workers).
///
/// Both keep the same logical schema (runs, checkpoints, K/V blocks, loss blocks, metrics,
/// outputs), write every checkpoint in one transaction and return the same values for the same
/// writes, so that a run resumed on either store is bit-identical to an uninterrupted one.
public protocol RunStoring: AnyObject, Sendable {
    /// Where the store is, for messages: a file path, or a database URL without its password.
    var location: String { get }

    /// Creates a run with a fresh random id, status `running`, and zero progress.
    @discardableResult
    func createRun(_ new: NewRun) throws -> RunRecord
    /// Writes a checkpoint and everything produced since the previous one, atomically.
    func writeCheckpoint(_ c: CheckpointWrite) throws
    /// Sets a run's status (and error text); `completed` also sets `completedAt`.
    func setStatus(runID: String, _ status: RunStatus, error: String?) throws
    /// Marks a run completed and, unless `keepCache`, drops its K/V blocks, in one transaction.
    func complete(runID: String, keepCache: Bool) throws
    /// Deletes a run and everything stored for it.
    func deleteRun(id: String) throws

    /// The run with this id, or nil.
    func run(id: String) throws -> RunRecord?
    /// Runs matching every given filter on the stored status, oldest first.
    func runs(task: RunTask?, status: RunStatus?, batchID: String?) throws -> [RunRecord]
    /// The most recent checkpoint of a run, or nil if none was written yet.
    func latestCheckpoint(runID: String) throws -> CheckpointRecord?
    /// The K/V blocks referenced by the run's latest checkpoint, by first token.
    func kvBlocks(runID: String) throws -> [KVBlock]
    /// The losses and byte offsets of the tokens in `range`.
    func nll(runID: String, range: Range<Int64>) throws -> NLLSlice
    /// The metric rows of a run, by bucket.
    func metrics(runID: String) throws -> [MetricRow]
    /// The completed outputs of a run, in sequence order.
    func outputs(runID: String) throws -> [OutputChunk]

    /// Takes the exclusive hold on a run that whoever works on it keeps until done: on SQLite
    /// the run's lock file (`flock`, dropped by the kernel with the process), on PostgreSQL a
    /// lease in the queue that a heartbeat renews and that runs out when its holder dies.
    /// - Throws: `StoreError` `.runLocked` naming the holder while someone else holds it.
    func hold(runID: String) throws -> any RunHold
    /// The run's state: its stored status, corrected by whether anybody holds it.
    func stateAndHolder(of record: RunRecord) -> RunWithState
    /// Runs matching every given filter, with their derived states, oldest first.
    func runs(task: RunTask?, state: RunState?, batchID: String?) throws -> [RunWithState]
}

/// What keeps a run to one worker: ``RunLock`` on SQLite, a lease on PostgreSQL.
public protocol RunHold: AnyObject, Sendable {
    /// Gives the run up; calling it again does nothing.
    func release()
    /// Whether the hold was taken away (a lease another worker took over): the holder must stop
    /// at once, writing nothing more for the run.
    var isLost: Bool { get }
}

extension StoreError {
    /// The hold on a run was taken away (``RunHold/isLost``): the holder stops, writing nothing.
    public static func holdLost(runID: String, path: String) -> StoreError {
        StoreError(code: .leaseLost, path: path,
                   message: "This worker's lease on run \(runID) in \(path) was taken over by another worker (it missed its heartbeats); it stops without writing.",
                   runID: runID)
    }

    /// Whether the error is about the store or this process's hold, not about the run: the
    /// server cannot be reached, the hold was taken over, the store stayed busy or asked for a
    /// retry (``isTransient``). Such an error is never recorded as the run's failure.
    public var isWorkerSide: Bool { code == .leaseLost || isTransient }

    /// Whether trying again later may succeed: the server cannot be reached, the store stayed
    /// busy (too many connections, a lock), or PostgreSQL aborted the transaction for a retry
    /// (deadlock 40P01, serialization failure 40001, lock timeout 55P03).
    public var isTransient: Bool {
        switch code {
        // The PostgreSQL store reports 40P01, 40001, 55P03 and 57014 as `.busy` once its own
        // retries ran out.
        case .unreachable, .busy: return true
        default: return false
        }
    }
}

extension RunLock: RunHold {
    /// A lock file is never taken away while its process lives.
    public var isLost: Bool { false }
}

extension RunStore: RunStoring {
    public var location: String { path }

    public func hold(runID: String) throws -> any RunHold { try lock(runID: runID) }
}

extension RunStoring {
    /// Sets a run's status, without error text.
    public func setStatus(runID: String, _ status: RunStatus) throws {
        try setStatus(runID: runID, status, error: nil)
    }

    /// The runs of a batch, oldest first.
    public func runs(batchID: String) throws -> [RunRecord] {
        try runs(task: nil, status: nil, batchID: batchID)
    }

    /// Runs in a derived state (nil: every run), oldest first.
    public func runs(state: RunState?) throws -> [RunWithState] {
        try runs(task: nil, state: state, batchID: nil)
    }
}

extension RunRecord {
    /// A run row as a backend other than SQLite reads it back.
    public static func stored(
        id: String, batchID: String?, task: RunTask, documentPath: String, documentSHA256: String,
        documentSize: Int64, modelPath: String, modelSHA256: String, config: String, mode: String,
        status: RunStatus, createdAt: Date, updatedAt: Date, completedAt: Date?, tokens: Int64,
        bytes: Int64, nllSum: Double, lastCheckpointAt: Date?, errorText: String?
    ) -> RunRecord {
        RunRecord(
            id: id, batchID: batchID, task: task, documentPath: documentPath, documentSHA256: documentSHA256,
            documentSize: documentSize, modelPath: modelPath, modelSHA256: modelSHA256, config: config, mode: mode,
            status: status, createdAt: createdAt, updatedAt: updatedAt, completedAt: completedAt, tokens: tokens,
            bytes: bytes, nllSum: nllSum, lastCheckpointAt: lastCheckpointAt, errorText: errorText)
    }
}

extension CheckpointRecord {
    /// A checkpoint row as a backend other than SQLite reads it back; `liveRanges` in the
    /// stored text form (``CheckpointWrite/liveRangesText``).
    public static func stored(
        runID: String, sequence: Int64, tokenIndex: Int64, byteOffset: Int64, tokenizerState: Data,
        cacheState: Data, taskState: Data, rngState: Data?, liveRangesText: String, createdAt: Date
    ) -> CheckpointRecord {
        CheckpointRecord(
            runID: runID, sequence: sequence, tokenIndex: tokenIndex, byteOffset: byteOffset,
            tokenizerState: tokenizerState, cacheState: cacheState, taskState: taskState, rngState: rngState,
            liveRangesText: liveRangesText, createdAt: createdAt)
    }
}

extension CheckpointWrite {
    /// The live ranges in the stored text form, the same on every backend.
    public var liveRangesText: String { RangeListCoding.encode(liveRanges) }

    /// The bytes of a checkpoint's blobs (K/V rows, losses, states), as progress reports count them.
    public var blobBytes: Int {
        newKVBlocks.reduce(0) { $0 + $1.data.count } + newNLLBlocks.reduce(0) { $0 + $1.nll.count * 12 }
            + tokenizerState.count + cacheState.count + taskState.count
    }
}

extension NLLBlock {
    /// The stored form of the block: float32 losses and delta-varint byte offsets (the same
    /// blobs on every backend).
    public var storedBlobs: (nll: Data, byteOffsets: Data) {
        (BlobCoding.encodeFloat32(nll), BlobCoding.encodeDeltaVarints(byteOffsets))
    }

    /// Decodes a stored block, or nil when a blob is damaged or does not hold `count` values.
    public init?(firstToken: Int64, count: Int64, nll: Data, byteOffsets: Data) {
        guard let losses = BlobCoding.decodeFloat32(nll), losses.count == Int(count),
              let offsets = BlobCoding.decodeDeltaVarints(byteOffsets, count: Int(count))
        else { return nil }
        self.init(firstToken: firstToken, nll: losses, byteOffsets: offsets)
    }
}

extension NLLSlice {
    /// Joins the blocks overlapping `range` (sorted by first token) into one slice, clipped to
    /// the stored tokens.
    /// - Throws: `StoreError.invalidData` when the blocks leave a gap inside the range.
    public static func joining(_ blocks: [NLLBlock], range: Range<Int64>, runID: String, location: String) throws -> NLLSlice {
        var losses = [Float]()
        var offsets = [Int64]()
        var lower: Int64?
        var next: Int64 = 0
        for block in blocks {
            let overlap = block.tokens.clamped(to: range)
            if overlap.isEmpty { continue }
            if lower != nil, overlap.lowerBound != next {
                throw StoreError.invalidData(
                    "The losses of run \(runID) are not contiguous: expected token \(next) but the next stored block covers \(block.tokens).",
                    runID: runID, path: location)
            }
            if lower == nil { lower = overlap.lowerBound }
            let from = Int(overlap.lowerBound - block.firstToken)
            let to = Int(overlap.upperBound - block.firstToken)
            losses.append(contentsOf: block.nll[from ..< to])
            offsets.append(contentsOf: block.byteOffsets[from ..< to])
            next = overlap.upperBound
        }
        let first = lower ?? range.lowerBound
        return NLLSlice(tokens: first ..< first + Int64(losses.count), nll: losses, byteOffsets: offsets)
    }
}
