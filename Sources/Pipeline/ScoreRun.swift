#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Kernels
import Model
import Store
import Streaming
import Tokenization

/// Live figures of a running score, for progress displays.
public struct RunProgressReport: Sendable {
    public var scored: Int
    public var nllSum: Double
    /// Document bytes before the first token not scored yet (not the reader's read-ahead).
    public var bytesScored: Int64
    public var documentSize: Int64
    /// `--tokens`, when the run stops after that many.
    public var tokenLimit: Int?
    public var perplexity: Double { scored == 0 ? .nan : exp(nllSum / Double(scored)) }
    /// How far through its work the run is (0…1): the bytes scored of the document, or the
    /// tokens scored of `tokenLimit` when that is further.
    public var fraction: Double {
        let bytes = documentSize > 0 ? Double(bytesScored) / Double(documentSize) : 1
        let tokens = tokenLimit.map { Double(scored) / Double(max($0, 1)) } ?? 0
        return min(1, max(bytes, tokens))
    }
}

/// Scores a document from disk under one attention mode, persisting progress in a ``RunStore``.
///
/// Checkpoints are written at the configured interval, on request and at the end; each holds
/// the reader's position and tokenizer state, the cache's bookkeeping and the K/V rows of tokens
/// that became live since the previous one, the losses scored since then, and the completed
/// metric buckets — in one transaction. ``resume(runID:store:model:)`` continues from the latest
/// checkpoint with bit-identical results.
public final class ScoreRun {
    public let model: LanguageModel
    public let config: ScoreConfiguration
    public var runID: String { lifecycle.runID }
    public var store: any RunStoring { lifecycle.store }
    /// The document (absolute path) and its size when the run was registered.
    public var documentPath: String { lifecycle.documentPath }
    public var documentSize: Int64 { lifecycle.record.documentSize }
    private let reader: DocumentReader
    private let engine: InferenceEngine
    private let session: StreamSession?
    private let recompute: RecomputeScorer?
    private let lifecycle: RunLifecycle
    private var state: ScoreState
    private var unsaved = UnsavedWork()
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
        store: any RunStoring, threads: Int, batchID: String? = nil
    ) throws -> ScoreRun {
        let record = try RunLifecycle.register(
            task: .score, documentPath: documentPath, tokenizer: model.tokenizer, model: model, modelSHA256: modelSHA256,
            config: config, replaceInvalid: config.replaceInvalid, mode: config.mode.description, store: store, batchID: batchID)
        return try open(runID: record.id, store: store, model: model, modelSHA256: modelSHA256, threads: threads, justRegistered: true)
    }

    /// Continues a paused, interrupted or failed run from its latest checkpoint.
    /// - Throws: ``RunError`` if the run is completed, its document or model changed, or its
    ///   checkpoint is damaged; `StoreError.runLocked` if another process holds it.
    /// `localDocument`: a copy of the run's document to read instead of its stored path (a
    /// worker's copy of a submitted document); it must have the run's SHA-256.
    public static func resume(runID: String, store: any RunStoring, model: LanguageModel, modelSHA256: String, threads: Int,
                              localDocument: String? = nil) throws -> ScoreRun {
        try open(runID: runID, store: store, model: model, modelSHA256: modelSHA256, threads: threads, justRegistered: false,
                 localDocument: localDocument)
    }

    private static func open(runID: String, store: any RunStoring, model: LanguageModel, modelSHA256: String, threads: Int,
                             justRegistered: Bool, localDocument: String? = nil) throws -> ScoreRun {
        let (lifecycle, config, checkpoint) = try RunLifecycle.open(
            runID: runID, tasks: [.score], as: ScoreConfiguration.self, store: store, model: model,
            modelSHA256: modelSHA256, justRegistered: justRegistered, localDocument: localDocument)
        let path = lifecycle.documentPath
        let state = try checkpoint.map { try lifecycle.decode(ScoreState.self, from: $0.taskState, what: "task state") } ?? ScoreState()
        let reader = try DocumentReader(path: path, tokenizer: model.tokenizer, replaceInvalid: config.replaceInvalid,
                                        restoring: checkpoint?.tokenizerState, blockSize: readBlock)
        let run = try ScoreRun(lifecycle: lifecycle, model: model, config: config, reader: reader, threads: threads, state: state)
        if let checkpoint, let session = run.session {
            try lifecycle.restore(session, from: checkpoint, position: state.scored)
        }
        return run
    }

    private init(lifecycle: RunLifecycle, model: LanguageModel, config: ScoreConfiguration, reader: DocumentReader,
                 threads: Int, state: ScoreState) throws {
        self.lifecycle = lifecycle
        self.model = model
        self.config = config
        self.reader = reader
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
        try lifecycle.perform(shouldStop: shouldStop) { stop in try loop(shouldStop: stop, progress: progress) }
    }

    private func loop(shouldStop: () -> Bool, progress: (RunProgressReport) -> Void) throws -> RunOutcome {
        let chunk = config.chunk
        lifecycle.startInterval(at: state.scored)
        while true {
            if shouldStop() {
                // A hold taken away: stop here, writing nothing (another worker has the run).
                if lifecycle.holdLost { throw StoreError.holdLost(runID: runID, path: store.location) }
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
            // At the end only the last token is left, as the last target: the document is done.
            let bytesScored = reader.reachedEnd && state.pendingIDs.count <= 1 ? documentSize : state.pendingOffsets.first ?? reader.bytesRead
            progress(RunProgressReport(scored: state.scored, nllSum: nllSum, bytesScored: bytesScored,
                                       documentSize: documentSize, tokenLimit: config.tokenLimit))
            if lifecycle.checkpointDue(at: state.scored) { try checkpoint(status: .running) }
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
        try checkpoint(status: .running)
        try lifecycle.complete()
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
            peakMemoryBytes: ProcessMemory.peakBytes()))
        state.bucketSum = 0
        state.bucketCount = 0
        state.bucketSampled = state.bucketSampled.map { _ in 0 }
        bucketStart = Date()
    }

    /// Writes a checkpoint (one transaction) and sets the run's status.
    public func checkpoint(status: RunStatus) throws {
        let cache = try lifecycle.cacheRows(session, from: state.kvWrittenUpTo)
        if let position = cache.position { state.kvWrittenUpTo = position }
        let nllBlocks = unsaved.nll.isEmpty ? [] : [NLLBlock(firstToken: Int64(unsaved.firstToken), nll: unsaved.nll, byteOffsets: unsaved.offsets)]
        let write = CheckpointWrite(
            runID: runID, tokenIndex: Int64(state.scored), byteOffset: reader.bytesRead,
            tokenizerState: reader.encoderState, cacheState: cache.state, taskState: try JSONEncoder().encode(state),
            rngState: nil, newKVBlocks: cache.blocks, newNLLBlocks: nllBlocks, newMetrics: unsaved.metrics, newOutputs: [],
            liveRanges: cache.liveRanges,
            progress: RunProgress(tokens: Int64(state.scored), bytes: state.pendingOffsets.first ?? reader.bytesRead, nllSum: nllSum))
        checkpointSizes.append(try lifecycle.commit(write, status: status, position: state.scored))
        unsaved = UnsavedWork()
        unsaved.firstToken = state.scored
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

/// Results computed since the last checkpoint.
struct UnsavedWork {
    var firstToken = 0
    var nll: [Float] = []
    var offsets: [Int64] = []
    var metrics: [MetricRow] = []
}
