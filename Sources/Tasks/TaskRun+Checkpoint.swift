import Foundation
import Pipeline
import Store
import Streaming

extension TaskRun {
    /// Writes a checkpoint (one transaction) and sets the run's status.
    public func checkpoint(status: RunStatus) throws {
        let live = session.liveRanges
        let blocks = CacheRows.export(session, live: live, from: state.kvWrittenUpTo, runID: runID)
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
        try CacheRows.restore(session, runID: runID, store: store)
    }
}
