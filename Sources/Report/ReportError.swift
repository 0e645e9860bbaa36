import Foundation

/// Why a report could not be built; each case reads as a full sentence.
public enum ReportError: Error, Equatable, Sendable, CustomStringConvertible, LocalizedError {
    /// The run has no scored tokens yet.
    case emptySeries(run: String)
    /// A comparison was asked for with no runs at all.
    case noSeries
    /// The requested token range is empty.
    case emptyRange(Range<Int>)
    /// The requested token range is not inside the run's scored tokens.
    case rangeOutsideRun(Range<Int>, run: String, available: Range<Int>)
    /// The requested token range is not inside the span covered by the compared runs.
    case rangeOutsideRuns(Range<Int>, available: Range<Int>)
    /// The bucket size is zero or negative.
    case invalidBucketSize(Int)
    /// A byte range was given but the run stores no byte offsets.
    case missingByteOffsets(run: String)
    /// The chosen baseline matches no run's label or mode.
    case unknownBaseline(String, available: [String])

    /// A short stable identifier for scripts and logs.
    public var code: String {
        switch self {
        case .emptySeries: "empty-series"
        case .noSeries: "no-series"
        case .emptyRange: "empty-range"
        case .rangeOutsideRun, .rangeOutsideRuns: "range-outside"
        case .invalidBucketSize: "invalid-bucket-size"
        case .missingByteOffsets: "missing-byte-offsets"
        case .unknownBaseline: "unknown-baseline"
        }
    }

    public var description: String {
        switch self {
        case .emptySeries(let run):
            return "Run \(run) has no scored tokens yet."
        case .noSeries:
            return "No runs were given to compare."
        case .emptyRange(let r):
            return "The token range \(r.lowerBound):\(r.upperBound) is empty."
        case .rangeOutsideRun(let r, let run, let available):
            return "The range \(r.lowerBound):\(r.upperBound) is outside run \(run)'s "
                + "\(NumberText.grouped(available.count)) scored tokens "
                + "(\(available.lowerBound):\(available.upperBound))."
        case .rangeOutsideRuns(let r, let available):
            return "The range \(r.lowerBound):\(r.upperBound) is outside the tokens "
                + "\(available.lowerBound):\(available.upperBound) covered by the compared runs."
        case .invalidBucketSize(let size):
            return "The bucket size must be at least 1 token, but \(size) was given."
        case .missingByteOffsets(let run):
            return "Run \(run) has no byte offsets stored, so byte ranges cannot be mapped to tokens."
        case .unknownBaseline(let name, let available):
            return "No run has the label or mode \"\(name)\" to serve as the baseline "
                + "(runs: \(available.joined(separator: ", ")))."
        }
    }

    public var errorDescription: String? { description }
}
