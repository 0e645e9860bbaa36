import Foundation
import Store
import Streaming

/// Moves the K/V rows of a session's live tokens into checkpoint blocks and back; score runs
/// and task runs checkpoint their caches the same way.
public enum CacheRows {
    /// Tokens per stored block (blocks are aligned to multiples of it).
    static let blockTokens = 64

    /// The rows of the live tokens at or after `writtenUpTo` (earlier ones are already stored),
    /// in blocks of at most ``blockTokens`` aligned tokens, in the cache's element type.
    public static func export(_ session: StreamSession, live: [Range<Int>], from writtenUpTo: Int, runID: String) -> [KVBlock] {
        let perToken = session.checkpointBytesPerToken
        var blocks: [KVBlock] = []
        for range in live {
            var t = max(range.lowerBound, writtenUpTo)
            while t < range.upperBound {
                let end = min(range.upperBound, (t / blockTokens + 1) * blockTokens)
                var data = Data(count: (end - t) * perToken)
                data.withUnsafeMutableBytes { raw in
                    if let base = raw.baseAddress { session.exportRows(t..<end, into: base) }
                }
                blocks.append(KVBlock(runID: runID, firstToken: Int64(t), count: Int64(end - t), data: data))
                t = end
            }
        }
        return blocks
    }

    /// Restores the rows of every token live in `session` (whose bookkeeping is already
    /// restored) from the run's stored blocks.
    /// - Throws: ``RunError`` `run.damaged` if a block has a size no cache row has, or if a live
    ///   token has no stored rows.
    public static func restore(_ session: StreamSession, runID: String, store: any RunStoring) throws {
        let live = session.liveRanges
        var restored = 0
        for block in try store.kvBlocks(runID: runID) {
            let count = Int(block.count)
            guard count > 0, block.data.count % count == 0,
                  [session.floatsPerToken * 2, session.floatsPerToken * 4].contains(block.data.count / count) else {
                throw RunError.damaged(runID, "a stored K/V block (tokens \(block.firstToken)…) has the wrong size")
            }
            let perToken = block.data.count / count
            block.data.withUnsafeBytes { raw in
                guard let base = raw.baseAddress else { return }
                let first = Int(block.firstToken)
                for token in first..<(first + count) where live.contains(where: { $0.contains(token) }) {
                    if session.importRow(token, from: base + (token - first) * perToken, bytesPerToken: perToken) { restored += 1 }
                }
            }
        }
        let needed = live.reduce(0) { $0 + $1.count }
        guard restored == needed else {
            throw RunError.damaged(runID, "its checkpoint holds K/V rows for \(restored) of the \(needed) cached tokens")
        }
    }
}
