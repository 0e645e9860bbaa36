import Foundation
import Report
import Store
import Streaming

/// A stored score run read back for reporting: its record, configuration, losses and status.
public struct StoredRun: Sendable {
    /// The run's row in the store.
    public var record: RunRecord
    /// The run's configuration, if its JSON could be read.
    public var config: ScoreConfiguration?
    /// Every stored loss (NaN at positions a sampled recompute run skipped), with byte offsets.
    public var series: LossSeries
    /// Every K-th position has a loss (1: all of them).
    public var sampleStride: Int
    /// Whether the run has not finished (paused, interrupted, failed or still running).
    public var isPartial: Bool { record.status != .completed }

    /// Reads a run's record and all of its stored losses.
    ///
    /// The series is labelled with the run's mode description (`sink_batch(4,1020,256)`), its mode
    /// is the mode's kind (`sink`, `window`, `dense`, `recompute`), its `cacheCapacity` is S + W for
    /// sink and window runs, and its status says how far an unfinished run got.
    /// - Throws: ``RunError`` `run.unknown` for an unknown id, `run.empty` for a run without any
    ///   stored loss; `StoreError` for a damaged store.
    public static func load(id: String, store: any RunStoring) throws -> StoredRun {
        guard let record = try store.run(id: id) else { throw RunError.unknownRun(id) }
        let config = try? JSONDecoder().decode(ScoreConfiguration.self, from: Data(record.config.utf8))
        let slice = try store.nll(runID: id, range: 0..<Int64(Int32.max))
        guard !slice.nll.isEmpty else { throw RunError.noLosses(id, status: record.status) }
        var capacity: Int?
        var kind = record.mode
        if let mode = config?.mode {
            switch mode {
            case .dense: kind = "dense"
            case .sink, .sinkBatch: kind = "sink"; capacity = mode.maxVisible(contextLength: 0)
            case .window: kind = "window"; capacity = mode.maxVisible(contextLength: 0)
            case .recompute: kind = "recompute"
            }
        }
        let stride = config?.sampleStride ?? 1
        let series = LossSeries(
            label: record.mode, mode: kind,
            firstToken: Int(slice.tokens.lowerBound), nll: slice.nll, byteOffsets: slice.byteOffsets,
            documentByteCount: record.documentSize, cacheCapacity: capacity,
            status: Self.status(record, config: config, store: store))
        return StoredRun(record: record, config: config, series: series, sampleStride: stride)
    }

    /// How much of its work a run has done, in 0...1: 1 when completed; otherwise the larger of
    /// the document bytes read and, for a score run with `--tokens N`, the tokens scored of N.
    /// (`coverage(_:)` says how much of the *document* a run covered, for listings.)
    public static func fractionDone(_ r: RunRecord) -> Double? {
        if r.status == .completed { return 1 }
        var fraction = r.documentSize > 0 ? Double(r.bytes) / Double(r.documentSize) : nil
        if r.task == .score, let limit = tokenLimit(r) {
            fraction = max(fraction ?? 0, Double(r.tokens) / Double(limit))
        }
        return fraction.map { min(1, $0) }
    }

    /// How much of its document a run covered, and whether `--tokens` limits it.
    public struct Coverage: Sendable, Equatable {
        /// Document bytes read of the document's size, in 0...1 (1 for a completed run that was
        /// not limited; nil for an empty document).
        public var fraction: Double?
        /// The `--tokens N` limit of a score run, if it has one.
        public var tokenLimit: Int?
        /// Whether the run has a token limit and, once completed, stopped at it before the
        /// document's end.
        public var limited: Bool
        /// For the DONE column: `100%`, `37%`; a run limited by `--tokens` is marked, e.g.
        /// `10% (--tokens)` when completed, `5% (50% of --tokens)` while under way.
        public var label: String
    }

    /// How much of its document a run covered: honest for runs limited by `--tokens`, which
    /// complete after a part of the document (see `Coverage`).
    public static func coverage(_ r: RunRecord) -> Coverage {
        let bytesFraction = r.documentSize > 0 ? min(1, Double(r.bytes) / Double(r.documentSize)) : nil
        let limit = r.task == .score ? tokenLimit(r) : nil
        func percent(_ f: Double?) -> String {
            guard let f else { return "" }
            // Never round a part up to 100%, nor a start down to 0%.
            let value = f >= 1 ? 100 : f <= 0 ? 0 : min(99, max(1, Int((100 * f).rounded())))
            return "\(value)%"
        }
        if r.status == .completed {
            if let limit, r.tokens >= Int64(limit), r.bytes < r.documentSize {
                return Coverage(fraction: bytesFraction, tokenLimit: limit, limited: true,
                                label: "\(percent(bytesFraction)) (--tokens)")
            }
            return Coverage(fraction: r.documentSize > 0 ? 1 : nil, tokenLimit: limit, limited: false,
                            label: r.documentSize > 0 ? "100%" : "")
        }
        if let limit {
            let budget = min(1, Double(r.tokens) / Double(limit))
            return Coverage(fraction: bytesFraction, tokenLimit: limit, limited: true,
                            label: "\(percent(bytesFraction)) (\(percent(budget)) of --tokens)")
        }
        return Coverage(fraction: bytesFraction, tokenLimit: nil, limited: false, label: percent(bytesFraction))
    }

    /// The `--tokens` limit of a score run's configuration, if any.
    static func tokenLimit(_ r: RunRecord) -> Int? {
        guard r.task == .score,
              let limit = (try? JSONDecoder().decode(ScoreConfiguration.self, from: Data(r.config.utf8)))?.tokenLimit,
              limit > 0 else { return nil }
        return limit
    }

    /// `completed`, or how far an unfinished run got: `paused at token 12,345 of ~45,000; figures so far`.
    ///
    /// The state is the store's derived one (`RunStore.stateAndHolder(of:)`), the same that
    /// `sinkstream runs` shows: a run stored as `running` that nobody holds is `interrupted`.
    static func status(_ r: RunRecord, config: ScoreConfiguration?, store: any RunStoring) -> String {
        let derived = store.stateAndHolder(of: r)
        if derived.state == .completed { return "completed" }
        var total: Int64? = r.bytes > 0 ? Int64((Double(r.documentSize) * Double(r.tokens) / Double(r.bytes)).rounded()) : nil
        if let limit = config?.tokenLimit { total = min(total ?? Int64(limit), Int64(limit)) }
        let at = "at token \(NumberText.grouped(Int(r.tokens)))" + (total.map { " of ~\(NumberText.grouped(Int($0)))" } ?? "")
        switch derived.state {
        case .paused:
            return "paused \(at); figures so far"
        case .failed:
            return "failed \(at) (\(r.errorText ?? "no error recorded")); figures so far"
        case .interrupted:
            return "interrupted \(at) (no process holds it; `sinkstream resume \(r.id)` continues); figures so far"
        case .running:
            return "running (process \(derived.holderPID.map(String.init) ?? "?")) \(at); figures as of its last checkpoint"
        case .completed:
            return "completed"
        }
    }
}

extension RunError {
    /// The run exists but has not stored any loss yet.
    public static func noLosses(_ id: String, status: RunStatus) -> RunError {
        RunError(code: "run.empty", runID: id,
                 message: "run \(id) has no scored tokens yet (status \(status.rawValue)); there is nothing to report.")
    }

    /// Runs over different documents cannot be lined up by token position.
    public static func differentDocuments(_ id: String, _ other: String) -> RunError {
        RunError(code: "run.different-documents", runID: id,
                 message: "runs \(other) and \(id) are over different documents (SHA-256 differs); only runs over the same document can be lined up by token position.")
    }
}
