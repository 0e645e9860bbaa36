import Foundation
import GRDB

/// What a run does with its document.
public enum RunTask: String, Codable, Sendable, CaseIterable {
    /// Per-token perplexity of the document.
    case score
    /// A running summary of the document.
    case summarize
    /// A section-by-section translation.
    case translate
    /// Several attention modes side by side.
    case compare
}

/// The life-cycle state of a run.
public enum RunStatus: String, Codable, Sendable, CaseIterable {
    /// A process is (or was, until it was killed) working on it.
    case running
    /// Stopped cleanly (Ctrl-C); resumable.
    case paused
    /// Stopped by an error recorded in `errorText`; resumable once the cause is fixed.
    case failed
    /// Finished; `completedAt` is set.
    case completed
}

/// One row of the `run` table: what is being processed, how, and how far it got.
public struct RunRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "run"

    /// Short human-typable id, e.g. `r7k2m9x`.
    public var id: String
    /// Groups runs started together (`sinkstream batch`), if any.
    public var batchID: String?
    public var task: RunTask
    public var documentPath: String
    public var documentSHA256: String
    public var documentSize: Int64
    public var modelPath: String
    public var modelSHA256: String
    /// JSON of the full configuration; opaque to the store.
    public var config: String
    /// Short description of the attention mode for listings, e.g. `sink(4,1020) batch:256`.
    public var mode: String
    public var status: RunStatus
    public var createdAt: Date
    public var updatedAt: Date
    public var completedAt: Date?
    /// Tokens scored so far.
    public var tokens: Int64
    /// Document bytes consumed so far.
    public var bytes: Int64
    /// Sum of every stored loss (nats); `exp(nllSum / tokens)` is the perplexity so far.
    public var nllSum: Double
    public var lastCheckpointAt: Date?
    public var errorText: String?

    /// Perplexity over the tokens scored so far, or nil before the first token and for tasks
    /// that score nothing (summaries and translations only count their tokens).
    public var perplexitySoFar: Double? {
        task == .score && tokens > 0 ? Foundation.exp(nllSum / Double(tokens)) : nil
    }

    /// Column names, for GRDB query-interface requests.
    public enum Columns {
        public static let id = Column(CodingKeys.id)
        public static let batchID = Column(CodingKeys.batchID)
        public static let task = Column(CodingKeys.task)
        public static let status = Column(CodingKeys.status)
        public static let createdAt = Column(CodingKeys.createdAt)
    }
}

/// The description of a run to create; the store assigns the id, status and timestamps.
public struct NewRun: Sendable, Equatable {
    public var batchID: String?
    public var task: RunTask
    public var documentPath: String
    public var documentSHA256: String
    public var documentSize: Int64
    public var modelPath: String
    public var modelSHA256: String
    /// JSON of the full configuration; stored verbatim.
    public var config: String
    /// Short description of the attention mode for listings.
    public var mode: String

    /// Creates the description of a new run.
    public init(
        batchID: String? = nil, task: RunTask,
        documentPath: String, documentSHA256: String, documentSize: Int64,
        modelPath: String, modelSHA256: String, config: String, mode: String
    ) {
        self.batchID = batchID
        self.task = task
        self.documentPath = documentPath
        self.documentSHA256 = documentSHA256
        self.documentSize = documentSize
        self.modelPath = modelPath
        self.modelSHA256 = modelSHA256
        self.config = config
        self.mode = mode
    }
}
