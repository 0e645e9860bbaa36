import Model

/// A point of a ``StreamSession`` to rewind to (see ``StreamSession/fork()``); `Codable`, so a
/// run checkpointed in the middle of a branch resumes there.
public struct StreamFork: Codable, Sendable, Equatable {
    public var position: Int
    public var cacheState: [Int]
    /// The tokens live at the fork (their rows must stay stored while the branch runs).
    public var liveRanges: [Range<Int>]

    public init(position: Int, cacheState: [Int], liveRanges: [Range<Int>]) {
        self.position = position
        self.cacheState = cacheState
        self.liveRanges = liveRanges
    }
}

/// One token stream through the model under one attention mode: the cache policy, its storage
/// and the engine. Scoring and generation both go through ``process(_:targets:logits:)``.
public final class StreamSession {
    public let engine: InferenceEngine
    public private(set) var cache: any KVCache
    public let storage: LayeredKVStorage
    /// Tokens processed so far (the next token's index).
    public private(set) var position = 0

    /// Tokens a branch may add before it is rewound (see ``fork()``).
    public let branchCapacity: Int

    /// - Parameter branchCapacity: the most tokens a branch of the stream may hold (its rows
    ///   take extra ring slots, so that rewinding finds the rows the branch's window evicted).
    /// - Throws: ``StreamingError`` if the mode is `recompute` (it has no cache; use
    ///   ``RecomputeScorer``).
    public init(engine: InferenceEngine, mode: AttentionMode, branchCapacity: Int = 0) throws {
        guard let cache = mode.makeCache(contextLength: engine.model.config.contextLength) else {
            throw StreamingError(code: "streaming.no-cache", message: "recompute mode has no cache; it is scored by RecomputeScorer.")
        }
        self.engine = engine
        self.cache = cache
        let shape = cache.storageShape(maxChunk: engine.maxChunk)
        self.branchCapacity = max(0, branchCapacity)
        storage = engine.makeStorage(sinkCapacity: shape.sinks, ringCapacity: shape.ring, reserve: self.branchCapacity)
    }

    /// The point to come back to after a branch: the position, the cache policy's bookkeeping
    /// and the tokens whose rows must survive the branch (as a checkpoint needs them).
    public func fork() -> StreamFork {
        StreamFork(position: position, cacheState: cache.state, liveRanges: liveRanges)
    }

    /// Drops everything processed since `fork` (at most ``branchCapacity`` tokens, which never
    /// overwrote a row the fork point holds): the stream continues as if the branch had not
    /// been. No K/V row is copied.
    /// - Throws: ``StreamingError`` when the branch grew past the capacity (its rows may have
    ///   overwritten the fork point's) or the fork is from a later point.
    public func rewind(to fork: StreamFork) throws {
        guard fork.position <= position, position - fork.position <= branchCapacity + engine.maxChunk else {
            throw StreamingError(code: "streaming.branch", message: "a branch of \(position - fork.position) tokens cannot be rewound to token \(fork.position) (room for \(branchCapacity)).")
        }
        try restore(position: fork.position, cacheState: fork.cacheState)
    }

    /// The tokens whose K/V rows some layer still holds: the cache policy's, and those a
    /// sliding-window layer needs (for checkpoints).
    public var liveRanges: [Range<Int>] {
        guard let sliding = storage.slidingLive(processed: position), !sliding.isEmpty else { return cache.liveRanges }
        var all = (cache.liveRanges + [sliding]).filter { !$0.isEmpty }.sorted { $0.lowerBound < $1.lowerBound }
        var merged: [Range<Int>] = []
        while !all.isEmpty {
            let next = all.removeFirst()
            if let last = merged.last, next.lowerBound <= last.upperBound {
                merged[merged.count - 1] = last.lowerBound..<max(last.upperBound, next.upperBound)
            } else {
                merged.append(next)
            }
        }
        return merged
    }

    /// Whether layer group `group` of the storage holds token `token` at the current position
    /// (group 0: the mode's cache; the others: the sliding-window layers' ring), for exports and
    /// imports of checkpoint rows.
    private func holdings() -> (_ group: Int, _ token: Int) -> Bool {
        let live = cache.liveRanges, sliding = storage.slidingLive(processed: position)
        return { group, token in group == 0 ? live.contains { $0.contains(token) } : sliding?.contains(token) ?? false }
    }

    /// Bytes of one token's checkpoint row.
    public var checkpointBytesPerToken: Int { storage.checkpointBytesPerToken }

    /// Floats of K and V for one token across all layers.
    public var floatsPerToken: Int { storage.floatsPerToken }

    /// Writes the checkpoint rows of `tokens` (live tokens) to `out`.
    public func exportRows(_ tokens: Range<Int>, into out: UnsafeMutableRawPointer) {
        storage.exportRows(tokens, into: out, holds: holdings())
    }

    /// Restores a live token's rows from a checkpoint row (after ``restore(position:cacheState:)``).
    public func importRow(_ token: Int, from row: UnsafeRawPointer, bytesPerToken: Int) -> Bool {
        let holds = holdings()
        return storage.importRow(token, from: row, bytesPerToken: bytesPerToken) { holds($0, token) }
    }

    /// Puts the session back at a saved point: `position` tokens processed and the cache
    /// policy's bookkeeping from a checkpoint. The caller then restores the K/V rows of the live
    /// tokens with ``importRow(_:from:bytesPerToken:)``.
    public func restore(position: Int, cacheState: [Int]) throws {
        try cache.restore(cacheState)
        self.position = position
    }

    /// Feeds tokens (any number; split into engine-sized chunks).
    ///
    /// - Parameters:
    ///   - targets: when given (same count), the loss of predicting `targets[i]` after token i
    ///     is returned; a negative target is skipped (`nan`).
    ///   - logits: return the logits after the last token.
    public func process(_ tokens: [Int32], targets: [Int32]? = nil, logits: Bool = false) throws -> ForwardResult {
        var result = ForwardResult()
        var start = 0
        while start < tokens.count {
            let end = min(tokens.count, start + engine.maxChunk)
            var views: [QueryView] = []
            views.reserveCapacity(end - start)
            for i in start..<end { views.append(try cache.append(position + i - start)) }
            let chunk = Array(tokens[start..<end])
            let output: ForwardOutput
            if let targets { output = .losses(targets: Array(targets[start..<end])) }
            else if logits && end == tokens.count { output = .lastLogits }
            else { output = .none }
            let r = engine.forward(tokens: chunk, first: position, views: views, storage: storage, output: output)
            position += chunk.count
            result.losses += r.losses
            if !r.logits.isEmpty { result.logits = r.logits }
            start = end
        }
        return result
    }
}
