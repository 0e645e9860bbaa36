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
}
