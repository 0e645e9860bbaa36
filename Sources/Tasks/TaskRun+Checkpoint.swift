import Foundation
import Pipeline
import Store
import Streaming

extension TaskRun {
    /// Writes a checkpoint (one transaction) and sets the run's status.
    public func checkpoint(status: RunStatus) throws {
        let cache = try lifecycle.cacheRows(session, from: state.kvWrittenUpTo, fork: state.fork)
        state.kvWrittenUpTo = session.position
        let write = CheckpointWrite(
            runID: runID, tokenIndex: Int64(session.position), byteOffset: reader.bytesRead,
            tokenizerState: reader.encoderState, cacheState: cache.state, taskState: try JSONEncoder().encode(state),
            rngState: sampler.generator.data, newKVBlocks: cache.blocks, newOutputs: unsavedOutputs,
            liveRanges: cache.liveRanges,
            progress: RunProgress(tokens: Int64(session.position), bytes: state.job?.byteStart ?? reader.bytesRead, nllSum: 0))
        try lifecycle.commit(write, status: status, position: session.position)
        unsavedOutputs = []
    }
}
