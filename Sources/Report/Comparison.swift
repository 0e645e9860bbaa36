/// Several runs over the same document, lined up on the same bucket boundaries.
public struct Comparison: Sendable, Codable, Equatable {
    /// One compared run and its buckets on the shared grid.
    public struct Run: Sendable, Codable, Equatable {
        /// The run's display name.
        public var label: String
        /// The attention mode.
        public var mode: String
        /// The run's status text.
        public var status: String
        /// Absolute position of the run's first scored token.
        public var firstToken: Int
        /// All scored tokens of the run (also those outside the compared range).
        public var scoredTokens: Int
        /// Perplexity over the run's part of the compared range; `nil` if it has no tokens there.
        public var ppl: Double?
        /// The run's buckets on the shared grid (may stop early for a shorter run).
        public var buckets: [Bucket]
    }

    /// One run's values in one row.
    public struct Cell: Sendable, Codable, Equatable {
        /// Tokens of this run inside the row (less than the row's width for a partial bucket).
        public var count: Int
        /// Mean NLL of the run's tokens in the row.
        public var meanNLL: Double
        /// `exp(meanNLL)`.
        public var ppl: Double
        /// `ppl / baseline ppl` in the same row, `nil` when the baseline has no tokens there.
        public var ratio: Double?
    }

    /// One bucket position with every run's values (`nil` where a run has no tokens).
    public struct Row: Sendable, Codable, Equatable {
        /// First token position of the row.
        public var startToken: Int
        /// One past the row's last token position.
        public var endToken: Int
        /// Parallel to `runs`.
        public var cells: [Cell?]
    }

    /// Tokens per bucket.
    public var bucketSize: Int
    /// The compared token range.
    public var range: Range<Int>
    /// Index into `runs` of the run that ratios are taken against.
    public var baselineIndex: Int
    /// The compared runs, in the order given.
    public var runs: [Run]
    /// One row per bucket position, in token order.
    public var rows: [Row]
}

extension PerplexityReport {
    /// Lines up several runs on shared bucket boundaries and computes ratios to a baseline.
    ///
    /// Boundaries start at `range.lowerBound` (default: the smallest `firstToken`) and step by
    /// `bucketSize`. Each run is bucketed over its own part of the range with the same sums as
    /// `buckets(_:size:range:)`; a shorter run has partial or missing cells at the end.
    /// - Parameters:
    ///   - series: the runs, first one is the default baseline.
    ///   - bucketSize: tokens per bucket.
    ///   - range: token positions to compare; default covers every run.
    ///   - baseline: label (preferred) or mode of the baseline run; `nil` means the first run.
    /// - Throws: `ReportError` for no runs, an empty run, a bad size, range or baseline.
    public static func compare(
        _ series: [LossSeries], bucketSize: Int, range: Range<Int>? = nil, baseline: String? = nil
    ) throws(ReportError) -> Comparison {
        guard !series.isEmpty else { throw .noSeries }
        if let empty = series.first(where: { $0.nll.isEmpty }) { throw .emptySeries(run: empty.label) }
        guard bucketSize > 0 else { throw .invalidBucketSize(bucketSize) }
        var baselineIndex = 0
        if let name = baseline {
            guard let i = series.firstIndex(where: { $0.label == name }) ?? series.firstIndex(where: { $0.mode == name })
            else { throw .unknownBaseline(name, available: series.map(\.label)) }
            baselineIndex = i
        }
        let covered = (series.map(\.firstToken).min() ?? 0)..<(series.map(\.endToken).max() ?? 0)
        let r = range ?? covered
        guard !r.isEmpty else { throw .emptyRange(r) }
        guard r.lowerBound >= covered.lowerBound, r.upperBound <= covered.upperBound else {
            throw .rangeOutsideRuns(r, available: covered)
        }

        let rowCount = (r.count - 1) / bucketSize + 1
        var runs: [Comparison.Run] = []
        var grid: [[Bucket?]] = []
        for s in series {
            let part = max(r.lowerBound, s.firstToken)..<max(max(r.lowerBound, s.firstToken), min(r.upperBound, s.endToken))
            let buckets = part.isEmpty ? [] : accumulate(s, range: part, gridOrigin: r.lowerBound, size: bucketSize)
            var column = [Bucket?](repeating: nil, count: rowCount)
            for b in buckets { column[(b.startToken - r.lowerBound) / bucketSize] = b }
            grid.append(column)
            runs.append(Comparison.Run(
                label: s.label, mode: s.mode, status: s.status, firstToken: s.firstToken,
                scoredTokens: s.scoredTokens, ppl: buckets.last?.cumulativePPL, buckets: buckets
            ))
        }
        var rows: [Comparison.Row] = []
        rows.reserveCapacity(rowCount)
        for k in 0..<rowCount {
            let start = r.lowerBound + k * bucketSize
            let end = start + min(bucketSize, r.upperBound - start)
            let base = grid[baselineIndex][k]
            let cells: [Comparison.Cell?] = grid.map { column in
                column[k].map { b in
                    Comparison.Cell(count: b.count, meanNLL: b.meanNLL, ppl: b.ppl, ratio: base.map { b.ppl / $0.ppl })
                }
            }
            rows.append(Comparison.Row(startToken: start, endToken: end, cells: cells))
        }
        return Comparison(bucketSize: bucketSize, range: r, baselineIndex: baselineIndex, runs: runs, rows: rows)
    }
}
