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

/// Live figures of a running score, for progress displays.
public struct RunProgressReport: Sendable {
    public var scored: Int
    public var nllSum: Double
    public var bytesRead: Int64
    public var documentSize: Int64
    public var perplexity: Double { scored == 0 ? .nan : exp(nllSum / Double(scored)) }
}

/// Scores a document from disk under one attention mode, persisting progress in a ``RunStore``.
///
/// Checkpoints are written at the configured interval, on request and at the end; each holds
/// the reader's position and tokenizer state, the cache's bookkeeping and the K/V rows of tokens
/// that became live since the previous one, the losses scored since then, and the completed
/// metric buckets — in one transaction. ``resume(runID:store:model:)`` continues from the latest
/// checkpoint with bit-identical results.
public final class ScoreRun {
    public let runID: String
    public let store: RunStore
    public let model: LanguageModel
    public let config: ScoreConfiguration
    public let documentPath: String
    public let documentSize: Int64
    private let reader: DocumentReader
    private let engine: InferenceEngine
    private let session: StreamSession?
    private let recompute: RecomputeScorer?
    private let lock: RunLock
    private var state: ScoreState
    private var unsaved = UnsavedWork()
    private var lastCheckpointTime = Date()
    private var bucketStart = Date()

    /// Bytes read from the document at a time. Tokens read but not yet scored are part of every
    /// checkpoint's state, so the block is kept small: 16 KiB is about 4,000 tokens of English,
    /// where the reader's former 1 MiB blocks put a quarter of a million token ids (as JSON) into
    /// each checkpoint.
    static let readBlock = 16 << 10

    /// Starts a new run.
    /// - Throws: ``DocumentError``, `StoreError` or `ModelError` before anything is scored.
    public static func start(
        documentPath: String, model: LanguageModel, modelSHA256: String, config: ScoreConfiguration,
        store: RunStore, threads: Int, batchID: String? = nil
    ) throws -> ScoreRun {
        let path = URL(fileURLWithPath: documentPath).standardizedFileURL.path
        let reader = try DocumentReader(path: path, tokenizer: model.tokenizer, replaceInvalid: config.replaceInvalid,
                                        blockSize: readBlock)
        let size = try Self.fileSize(path)
        let digest = try FileDigest.sha256(path: path)
        let configJSON = String(decoding: try JSONEncoder().encode(config), as: UTF8.self)
        let record = try store.createRun(NewRun(
            batchID: batchID, task: .score, documentPath: path, documentSHA256: digest, documentSize: size,
            modelPath: model.path, modelSHA256: modelSHA256, config: configJSON, mode: config.mode.description))
        let lock = try store.lock(runID: record.id)
        return try ScoreRun(runID: record.id, store: store, model: model, config: config, documentPath: path,
                            documentSize: size, reader: reader, lock: lock, threads: threads, state: ScoreState())
    }

    /// Continues a paused, interrupted or failed run from its latest checkpoint.
    /// - Throws: ``RunError`` if the run is completed, its document or model changed, or its
    ///   checkpoint is damaged; `StoreError.runLocked` if another process holds it.
    public static func resume(runID: String, store: RunStore, model: LanguageModel, modelSHA256: String, threads: Int) throws -> ScoreRun {
        guard let record = try store.run(id: runID) else { throw RunError.unknownRun(runID) }
        guard record.status != .completed else { throw RunError.completed(runID) }
        guard record.task == .score else { throw RunError.wrongTask(runID, record.task.rawValue) }
        let lock = try store.lock(runID: runID)
        let config: ScoreConfiguration
        do {
            config = try JSONDecoder().decode(ScoreConfiguration.self, from: Data(record.config.utf8))
        } catch {
            throw RunError.damaged(runID, "its configuration cannot be read (\(error))")
        }
        guard config.precision == model.precision else {
            throw RunError.damaged(runID, "it was run with --precision \(config.precision.rawValue)")
        }
        guard modelSHA256 == record.modelSHA256 else {
            throw RunError.changed(runID, what: "model", path: model.path)
        }
        guard FileManager.default.fileExists(atPath: record.documentPath) else {
            throw RunError.changed(runID, what: "document", path: record.documentPath)
        }
        guard try FileDigest.sha256(path: record.documentPath) == record.documentSHA256 else {
            throw RunError.changed(runID, what: "document", path: record.documentPath)
        }
        let checkpoint = try store.latestCheckpoint(runID: runID)
        let state: ScoreState
        let reader: DocumentReader
        if let checkpoint {
            do {
                state = try JSONDecoder().decode(ScoreState.self, from: checkpoint.taskState)
            } catch {
                throw RunError.damaged(runID, "its checkpoint's task state cannot be read (\(error))")
            }
            reader = try DocumentReader(path: record.documentPath, tokenizer: model.tokenizer,
                                        replaceInvalid: config.replaceInvalid, restoring: checkpoint.tokenizerState,
                                        blockSize: readBlock)
        } else {
            state = ScoreState()
            reader = try DocumentReader(path: record.documentPath, tokenizer: model.tokenizer, replaceInvalid: config.replaceInvalid,
                                        blockSize: readBlock)
        }
        let run = try ScoreRun(runID: runID, store: store, model: model, config: config, documentPath: record.documentPath,
                               documentSize: record.documentSize, reader: reader, lock: lock, threads: threads, state: state)
        if let checkpoint { try run.restoreCache(checkpoint) }
        try store.setStatus(runID: runID, .running)
        return run
    }

    private init(runID: String, store: RunStore, model: LanguageModel, config: ScoreConfiguration, documentPath: String,
                 documentSize: Int64, reader: DocumentReader, lock: RunLock, threads: Int, state: ScoreState) throws {
        self.runID = runID
        self.store = store
        self.model = model
        self.config = config
        self.documentPath = documentPath
        self.documentSize = documentSize
        self.reader = reader
        self.lock = lock
        self.state = state
        let maxVisible = config.mode.maxVisible(contextLength: model.config.contextLength)
        engine = InferenceEngine(model: model, threads: threads, maxChunk: config.chunk, maxContext: maxVisible)
        if case .recompute(let window) = config.mode {
            recompute = RecomputeScorer(engine: engine, window: window)
            session = nil
        } else {
            session = try StreamSession(engine: engine, mode: config.mode)
            recompute = nil
        }
        unsaved.firstToken = state.scored
    }

    /// Token positions scored so far (for a sampled recompute run, also the skipped ones).
    public var scored: Int { state.scored }
    /// Blob bytes (K/V rows, losses, offsets, states) of each checkpoint this object wrote.
    public private(set) var checkpointSizes: [Int] = []
    /// Checkpoints written by this object.
    public var checkpointsWritten: Int { checkpointSizes.count }
    /// Positions with a computed loss (`scored` unless the run samples every K-th position).
    public var sampledTokens: Int { state.sampled ?? state.scored }
    /// Sum of the losses scored so far; for a sampled run the sum over the sampled positions
    /// scaled to all of them (`scored × their mean`), so `exp(nllSum / scored)` is the estimate.
    public var nllSum: Double {
        sampledTokens == scored ? state.nllSum : state.nllSum / Double(max(sampledTokens, 1)) * Double(scored)
    }

    /// Scores until the document ends (or the token limit), or until `shouldStop` returns true
    /// (then a final checkpoint is written and the run is marked paused).
    /// The run's lock is released when this returns: the object has done its work.
    public func run(shouldStop: () -> Bool = { false }, progress: (RunProgressReport) -> Void = { _ in }) throws -> RunOutcome {
        defer { lock.release() }
        do {
            let outcome = try loop(shouldStop: shouldStop, progress: progress)
            return outcome
        } catch let error as StoreError where error.code == .diskFull || (error.sqliteCode ?? 0) & 0xFF == 10 {
            // The store could not take the checkpoint (disk full, write error): the previous one
            // is intact, so the run is paused there rather than failed.
            try? store.setStatus(runID: runID, .paused, error: error.message)
            throw RunError.storage(runID, error.message)
        } catch {
            try? store.setStatus(runID: runID, .failed, error: "\(error)")
            throw error
        }
    }

    private func loop(shouldStop: () -> Bool, progress: (RunProgressReport) -> Void) throws -> RunOutcome {
        let chunk = config.chunk
        while true {
            if shouldStop() {
                try checkpoint(status: .paused)
                return .paused
            }
            // Keep one token of look-ahead: the last token's target is the next token.
            while state.pendingIDs.count <= chunk && !reader.reachedEnd {
                for token in try reader.next() {
                    state.pendingIDs.append(token.id)
                    state.pendingOffsets.append(token.byteOffset)
                }
            }
            var n = min(chunk, state.pendingIDs.count - 1)
            if let limit = config.tokenLimit { n = min(n, limit - state.scored) }
            if n <= 0 { break }
            let ids = Array(state.pendingIDs[0..<n])
            let targets = Array(state.pendingIDs[1...n])
            let losses = try score(ids, targets: targets)
            record(losses: losses, offsets: Array(state.pendingOffsets[0..<n]))
            state.pendingIDs.removeFirst(n)
            state.pendingOffsets.removeFirst(n)
            progress(RunProgressReport(scored: state.scored, nllSum: nllSum, bytesRead: reader.bytesRead, documentSize: documentSize))
            let sinceTokens = state.scored - unsaved.firstToken
            let sinceSeconds = Date().timeIntervalSince(lastCheckpointTime)
            if (config.checkpointEveryTokens > 0 && sinceTokens >= config.checkpointEveryTokens)
                || (config.checkpointEverySeconds > 0 && sinceSeconds >= config.checkpointEverySeconds) {
                try checkpoint(status: .running)
            }
        }
        if state.scored == 0 {
            throw DocumentError(code: "document.too-short", path: documentPath, byteOffset: nil,
                                message: "the document has fewer than 2 tokens; there is nothing to score.")
        }
        if reader.reachedEnd, reader.bytesRead != documentSize {
            throw DocumentError(code: "document.changed", path: documentPath, byteOffset: reader.bytesRead,
                                message: "the document changed while it was being read (it had \(documentSize) bytes when the run started); its scores would not describe one text")
        }
        flushBucket(final: true)
        try checkpoint(status: .completed)
        return .completed
    }

    private func score(_ ids: [Int32], targets: [Int32]) throws -> [Float] {
        if let session {
            precondition(session.position == state.scored)
            return try session.process(ids, targets: targets).losses
        }
        guard let recompute else { return [] }
        // Recompute needs the window's history before the chunk.
        let history = state.history
        let all = history + ids + [targets.last ?? -1]
        let stride = config.sampleStride
        let losses: [Float]
        if stride == 1 {
            losses = recompute.losses(tokens: all, range: history.count..<(history.count + ids.count))
        } else {
            // Only positions t with t % stride == 0 are scored; the others are stored as NaN.
            losses = ids.indices.map { i in
                (state.scored + i) % stride == 0
                    ? recompute.losses(tokens: all, range: (history.count + i)..<(history.count + i + 1))[0] : .nan
            }
        }
        state.history = Array((history + ids).suffix(max(0, recompute.window - 1)))
        return losses
    }

    private func record(losses: [Float], offsets: [Int64]) {
        unsaved.nll += losses
        unsaved.offsets += offsets
        for loss in losses {
            // NaN marks a position a sampled recompute run skipped: counted, not summed.
            if loss.isNaN {
                state.sampled = state.sampled ?? state.scored
                state.bucketSampled = state.bucketSampled ?? state.bucketCount
            } else {
                state.nllSum += Double(loss)
                state.bucketSum += Double(loss)
                state.sampled = state.sampled.map { $0 + 1 }
                state.bucketSampled = state.bucketSampled.map { $0 + 1 }
            }
            state.bucketCount += 1
            state.scored += 1
            if state.bucketCount == config.bucket { flushBucket(final: false) }
        }
    }

    /// Closes the current metric bucket (a partial one only at the end of the run).
    private func flushBucket(final: Bool) {
        guard state.bucketCount > 0, final || state.bucketCount == config.bucket else { return }
        // Means over the positions with a loss (all of them unless the run is sampled).
        let mean = state.bucketSum / Double(state.bucketSampled ?? state.bucketCount)
        let seconds = max(Date().timeIntervalSince(bucketStart), 1e-9)
        let capacity = Double(config.mode.maxVisible(contextLength: model.config.contextLength))
        // Recompute has no cache; its window holds min(t, W) tokens.
        let live = session.map { Double($0.liveRanges.reduce(0) { $0 + $1.count }) } ?? Double(min(state.scored, Int(capacity)))
        unsaved.metrics.append(MetricRow(
            runID: runID, bucketStart: Int64(state.scored - state.bucketCount), bucketEnd: Int64(state.scored),
            meanNLL: mean, ppl: exp(mean), cumulativePPL: exp(state.nllSum / Double(state.sampled ?? state.scored)),
            tokensPerSecond: Double(state.bucketCount) / seconds, cacheFill: min(1, live / capacity),
            peakMemoryBytes: Self.peakMemoryBytes()))
        state.bucketSum = 0
        state.bucketCount = 0
        state.bucketSampled = state.bucketSampled.map { _ in 0 }
        bucketStart = Date()
    }

    /// Writes a checkpoint (one transaction) and sets the run's status.
    public func checkpoint(status: RunStatus) throws {
        var blocks: [KVBlock] = []
        var liveRanges: [Range<Int64>] = []
        var cacheState = Data()
        if let session {
            let live = session.liveRanges
            liveRanges = live.map { Int64($0.lowerBound)..<Int64($0.upperBound) }
            blocks = CacheRows.export(session, live: live, from: state.kvWrittenUpTo, runID: runID)
            cacheState = try JSONEncoder().encode(CacheSnapshot(position: session.position, policy: session.cache.state))
            state.kvWrittenUpTo = session.position
        }
        let nllBlocks = unsaved.nll.isEmpty ? [] : [NLLBlock(firstToken: Int64(unsaved.firstToken), nll: unsaved.nll, byteOffsets: unsaved.offsets)]
        let write = CheckpointWrite(
            runID: runID, tokenIndex: Int64(state.scored), byteOffset: reader.bytesRead,
            tokenizerState: reader.encoderState, cacheState: cacheState, taskState: try JSONEncoder().encode(state),
            rngState: nil, newKVBlocks: blocks, newNLLBlocks: nllBlocks, newMetrics: unsaved.metrics, newOutputs: [],
            liveRanges: liveRanges,
            progress: RunProgress(tokens: Int64(state.scored), bytes: state.pendingOffsets.first ?? reader.bytesRead, nllSum: nllSum))
        try store.writeCheckpoint(write)
        checkpointSizes.append(blocks.reduce(0) { $0 + $1.data.count } + unsaved.nll.count * 12
            + write.tokenizerState.count + write.cacheState.count + write.taskState.count)
        if status != .running { try store.setStatus(runID: runID, status) }
        unsaved = UnsavedWork()
        unsaved.firstToken = state.scored
        lastCheckpointTime = Date()
    }

    private func restoreCache(_ checkpoint: CheckpointRecord) throws {
        guard let session else { return }
        let snapshot: CacheSnapshot
        do {
            snapshot = try JSONDecoder().decode(CacheSnapshot.self, from: checkpoint.cacheState)
        } catch {
            throw RunError.damaged(runID, "its checkpoint's cache state cannot be read (\(error))")
        }
        guard snapshot.position == state.scored else {
            throw RunError.damaged(runID, "its checkpoint is inconsistent (cache at token \(snapshot.position), losses at \(state.scored))")
        }
        try session.restore(position: snapshot.position, cacheState: snapshot.policy)
        try CacheRows.restore(session, runID: runID, store: store)
    }

    static func fileSize(_ path: String) throws -> Int64 {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw DocumentError(code: "document.missing", path: path, byteOffset: nil, message: "cannot open the document: \(String(cString: strerror(errno))).")
        }
        return Int64(info.st_size)
    }

    /// Peak resident memory of this process so far.
    public static func peakMemoryBytes() -> Int64 {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        return Int64(usage.ru_maxrss) * 1024
    }
}

/// What a scoring run carries from one checkpoint to the next (stored as the task state).
struct ScoreState: Codable {
    /// Tokens read but not yet scored (at least the look-ahead token), and their byte offsets.
    var pendingIDs: [Int32] = []
    var pendingOffsets: [Int64] = []
    /// Losses computed so far, and their sum.
    var scored = 0
    var nllSum = 0.0
    /// The open metric bucket.
    var bucketSum = 0.0
    var bucketCount = 0
    /// Tokens whose K/V rows are already in the store.
    var kvWrittenUpTo = 0
    /// Recompute mode: the last W−1 scored tokens.
    var history: [Int32] = []
    /// Positions with a loss so far and in the open bucket, once a sampled run skipped one
    /// (nil: equal to `scored` / `bucketCount`; optional so older checkpoints still decode).
    var sampled: Int?
    var bucketSampled: Int?
}

/// The cache's part of a checkpoint.
struct CacheSnapshot: Codable {
    var position: Int
    var policy: [Int]
}

/// Results computed since the last checkpoint.
struct UnsavedWork {
    var firstToken = 0
    var nll: [Float] = []
    var offsets: [Int64] = []
    var metrics: [MetricRow] = []
}
