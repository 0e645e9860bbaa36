import Foundation
import GRDB

/// Aggregates over one bucket of tokens (1,024 by default), written by the pipeline.
public struct MetricRow: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "metric"

    public var runID: String
    public var bucketStart: Int64
    public var bucketEnd: Int64
    public var meanNLL: Double
    public var ppl: Double
    public var cumulativePPL: Double
    public var tokensPerSecond: Double
    /// Fraction of the cache capacity in use at the end of the bucket.
    public var cacheFill: Double
    public var peakMemoryBytes: Int64

    /// Creates a metric row; `runID` may be left empty when it goes into a `CheckpointWrite`.
    public init(
        runID: String = "", bucketStart: Int64, bucketEnd: Int64, meanNLL: Double, ppl: Double,
        cumulativePPL: Double, tokensPerSecond: Double, cacheFill: Double, peakMemoryBytes: Int64
    ) {
        self.runID = runID
        self.bucketStart = bucketStart
        self.bucketEnd = bucketEnd
        self.meanNLL = meanNLL
        self.ppl = ppl
        self.cumulativePPL = cumulativePPL
        self.tokensPerSecond = tokensPerSecond
        self.cacheFill = cacheFill
        self.peakMemoryBytes = peakMemoryBytes
    }
}
