import Foundation
import GRDB

/// The latest resumable state of a run: positions plus the engine's opaque blobs.
///
/// The K/V rows themselves live in `kv_block` rows; `liveRanges` says which token ranges
/// of them the cache still holds at this checkpoint.
public struct CheckpointRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "checkpoint"

    public var runID: String
    /// 1 for the first checkpoint of a run, then increasing.
    public var sequence: Int64
    /// Tokens processed when the checkpoint was taken.
    public var tokenIndex: Int64
    /// Document bytes consumed when the checkpoint was taken.
    public var byteOffset: Int64
    public var tokenizerState: Data
    /// The cache's bookkeeping (positions, fill), not the K/V rows.
    public var cacheState: Data
    public var taskState: Data
    public var rngState: Data?
    /// The live K/V token ranges as stored: `lo-hi` pairs separated by commas, e.g. `0-4,980-2000`.
    var liveRangesText: String
    public var createdAt: Date

    /// The K/V token ranges the cache holds at this checkpoint.
    ///
    /// - Throws: `StoreError` `.invalidData` if the stored text is malformed.
    public var liveRanges: [Range<Int64>] {
        get throws { try RangeListCoding.decode(liveRangesText, runID: runID) }
    }

    enum CodingKeys: String, CodingKey {
        case runID, sequence, tokenIndex, byteOffset, tokenizerState, cacheState, taskState, rngState
        case liveRangesText = "liveRanges"
        case createdAt
    }

    /// Column names, for GRDB query-interface requests.
    public enum Columns {
        public static let runID = Column(CodingKeys.runID)
        public static let sequence = Column(CodingKeys.sequence)
    }
}

/// Progress counters of a run, as of a checkpoint.
public struct RunProgress: Sendable, Equatable {
    /// Tokens scored so far.
    public var tokens: Int64
    /// Document bytes consumed so far.
    public var bytes: Int64
    /// Sum of all stored losses.
    public var nllSum: Double

    /// Creates progress counters.
    public init(tokens: Int64, bytes: Int64, nllSum: Double) {
        self.tokens = tokens
        self.bytes = bytes
        self.nllSum = nllSum
    }
}

/// Everything one checkpoint adds or changes, written in a single transaction.
public struct CheckpointWrite: Sendable {
    public var runID: String
    public var tokenIndex: Int64
    public var byteOffset: Int64
    public var tokenizerState: Data
    public var cacheState: Data
    public var taskState: Data
    public var rngState: Data?
    /// K/V blocks produced since the previous checkpoint; their `runID` is set to `runID`.
    public var newKVBlocks: [KVBlock]
    /// Losses scored since the previous checkpoint.
    public var newNLLBlocks: [NLLBlock]
    /// Metric buckets completed since the previous checkpoint; their `runID` is set to `runID`.
    public var newMetrics: [MetricRow]
    /// Outputs completed since the previous checkpoint; their `runID` is set to `runID`.
    public var newOutputs: [OutputChunk]
    /// Token ranges the cache holds after this checkpoint, e.g. `[0..<4, t-1020..<t]`.
    /// K/V blocks intersecting none of them are deleted.
    public var liveRanges: [Range<Int64>]
    /// The run's counters after this checkpoint.
    public var progress: RunProgress

    /// Creates a checkpoint write.
    public init(
        runID: String, tokenIndex: Int64, byteOffset: Int64,
        tokenizerState: Data, cacheState: Data, taskState: Data, rngState: Data? = nil,
        newKVBlocks: [KVBlock] = [], newNLLBlocks: [NLLBlock] = [],
        newMetrics: [MetricRow] = [], newOutputs: [OutputChunk] = [],
        liveRanges: [Range<Int64>], progress: RunProgress
    ) {
        self.runID = runID
        self.tokenIndex = tokenIndex
        self.byteOffset = byteOffset
        self.tokenizerState = tokenizerState
        self.cacheState = cacheState
        self.taskState = taskState
        self.rngState = rngState
        self.newKVBlocks = newKVBlocks
        self.newNLLBlocks = newNLLBlocks
        self.newMetrics = newMetrics
        self.newOutputs = newOutputs
        self.liveRanges = liveRanges
        self.progress = progress
    }
}
