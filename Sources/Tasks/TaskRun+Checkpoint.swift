import Foundation
import Pipeline
import Store
import Streaming

extension TaskRun {
    /// Writes a checkpoint (one transaction) and sets the run's status.
    public func checkpoint(status: RunStatus) throws {
        let live = session.cache.liveRanges
        let blocks = exportNewRows(live: live)
        let cacheState = try JSONEncoder().encode(TaskCacheSnapshot(position: session.position, policy: session.cache.state))
        state.kvWrittenUpTo = session.position
        let write = CheckpointWrite(
            runID: runID, tokenIndex: Int64(session.position), byteOffset: reader.bytesRead,
            tokenizerState: reader.encoderState, cacheState: cacheState, taskState: try JSONEncoder().encode(state),
            rngState: sampler.generator.data, newKVBlocks: blocks, newOutputs: unsavedOutputs,
            liveRanges: live.map { Int64($0.lowerBound)..<Int64($0.upperBound) },
            progress: RunProgress(tokens: Int64(session.position), bytes: state.job?.byteStart ?? reader.bytesRead, nllSum: 0))
        try store.writeCheckpoint(write)
        if status != .running { try store.setStatus(runID: runID, status) }
        unsavedOutputs = []
        lastCheckpointTime = Date()
        positionAtCheckpoint = session.position
    }

    /// The K/V rows of live tokens not yet in the store, in blocks of at most 64 aligned tokens.
    private func exportNewRows(live: [Range<Int>]) -> [KVBlock] {
        let perToken = session.storage.floatsPerToken
        var blocks: [KVBlock] = []
        for range in live {
            var t = max(range.lowerBound, state.kvWrittenUpTo)
            while t < range.upperBound {
                let end = min(range.upperBound, (t / 64 + 1) * 64)
                var rows = [Float](repeating: 0, count: (end - t) * perToken)
                rows.withUnsafeMutableBufferPointer { buffer in
                    guard let base = buffer.baseAddress else { return }
                    for token in t..<end { session.storage.exportToken(token, into: base + (token - t) * perToken) }
                }
                blocks.append(KVBlock(runID: runID, firstToken: Int64(t), count: Int64(end - t),
                                      data: rows.withUnsafeBufferPointer { Data(buffer: $0) }))
                t = end
            }
        }
        return blocks
    }

    /// Restores the session's bookkeeping and the K/V rows of its live tokens from a checkpoint.
    func restoreCache(_ checkpoint: CheckpointRecord) throws {
        let snapshot: TaskCacheSnapshot
        do {
            snapshot = try JSONDecoder().decode(TaskCacheSnapshot.self, from: checkpoint.cacheState)
        } catch {
            throw RunError.damaged(runID, "its checkpoint's cache state cannot be read (\(error))")
        }
        guard snapshot.position == state.kvWrittenUpTo else {
            throw RunError.damaged(runID, "its checkpoint is inconsistent (cache at token \(snapshot.position), K/V rows up to \(state.kvWrittenUpTo))")
        }
        try session.restore(position: snapshot.position, cacheState: snapshot.policy)
        let live = session.cache.liveRanges
        let perToken = session.storage.floatsPerToken
        var restored = 0
        for block in try store.kvBlocks(runID: runID) {
            guard block.data.count == Int(block.count) * perToken * MemoryLayout<Float>.size else {
                throw RunError.damaged(runID, "a stored K/V block (tokens \(block.firstToken)…) has the wrong size")
            }
            block.data.withUnsafeBytes { raw in
                let rows = raw.bindMemory(to: Float.self)
                guard let base = rows.baseAddress else { return }
                for token in Int(block.firstToken)..<Int(block.firstToken + block.count) where live.contains(where: { $0.contains(token) }) {
                    session.storage.importToken(token, from: base + (token - Int(block.firstToken)) * perToken)
                    restored += 1
                }
            }
        }
        let needed = live.reduce(0) { $0 + $1.count }
        guard restored == needed else {
            throw RunError.damaged(runID, "its checkpoint holds K/V rows for \(restored) of the \(needed) cached tokens")
        }
    }
}
