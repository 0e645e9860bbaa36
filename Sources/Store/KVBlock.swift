import Foundation
import GRDB

/// The K/V rows of tokens `firstToken ..< firstToken + count` for all layers, as one opaque blob.
///
/// Written once, then shared by every later checkpoint whose live ranges intersect it.
public struct KVBlock: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "kv_block"

    public var runID: String
    public var firstToken: Int64
    public var count: Int64
    public var data: Data

    /// Creates a block; `runID` may be left empty when the block goes into a `CheckpointWrite`.
    public init(runID: String = "", firstToken: Int64, count: Int64, data: Data) {
        self.runID = runID
        self.firstToken = firstToken
        self.count = count
        self.data = data
    }

    /// The token range the block covers.
    public var tokens: Range<Int64> { firstToken ..< firstToken + count }

    /// The parts of the block outside every range of `written` (a later checkpoint's new blocks),
    /// each a whole number of rows: every token's rows in a block have the same size. A block
    /// whose size is not a multiple of its token count has no rows to keep.
    ///
    /// The store trims a stored block this way when newer rows overwrite some of its tokens (a
    /// task rewinds its branch and streams other tokens at those positions), so stored blocks
    /// never overlap and every stored row is the latest written for its token.
    public func remainder(outside written: [Range<Int64>]) -> [KVBlock] {
        guard count > 0, data.count % Int(count) == 0 else { return [] }
        let perToken = data.count / Int(count)
        var parts: [Range<Int64>] = [tokens]
        for cut in written where !cut.isEmpty {
            parts = parts.flatMap { part -> [Range<Int64>] in
                guard part.overlaps(cut) else { return [part] }
                return [part.lowerBound ..< max(part.lowerBound, cut.lowerBound), min(part.upperBound, cut.upperBound) ..< part.upperBound]
                    .filter { !$0.isEmpty }
            }
        }
        return parts.map { part in
            let from = data.startIndex + Int(part.lowerBound - firstToken) * perToken
            return KVBlock(runID: runID, firstToken: part.lowerBound, count: Int64(part.count),
                           data: data.subdata(in: from ..< from + part.count * perToken))
        }
    }
}
