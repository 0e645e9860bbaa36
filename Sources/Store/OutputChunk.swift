import Foundation
import GRDB

/// A completed output of a task (a note, a translated section, a summary).
public struct OutputChunk: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "output_chunk"

    public var runID: String
    /// Order of the output within its run.
    public var sequence: Int64
    /// Free-form kind, e.g. `note`, `section`, `summary`.
    public var kind: String
    /// The document bytes the output is about.
    public var byteStart: Int64
    public var byteEnd: Int64
    public var text: String

    /// Creates an output; `runID` may be left empty when it goes into a `CheckpointWrite`.
    public init(runID: String = "", sequence: Int64, kind: String, byteStart: Int64, byteEnd: Int64, text: String) {
        self.runID = runID
        self.sequence = sequence
        self.kind = kind
        self.byteStart = byteStart
        self.byteEnd = byteEnd
        self.text = text
    }
}
