/// Runs that scored only every K-th token position (a sampled `recompute` run stores NaN at the
/// positions it skipped) are reported and compared on the sampled positions only.
///
/// The trick is a change of coordinates: `sampled(every:)` keeps positions `t` with `t % K == 0`
/// and re-indexes them as `t / K`, so the ordinary bucket and comparison code runs unchanged on a
/// contiguous series (a bucket of `B` tokens becomes `B / K` samples); `expanded` maps the
/// results back to token positions. Every figure is then a mean over the sampled positions.
extension LossSeries {
    /// The losses at positions `t ≡ 0 (mod stride)`, re-indexed so that position `t` becomes `t / stride`.
    ///
    /// Byte offsets follow the same positions; the document length is kept.
    /// `stride` ≤ 1 returns the series unchanged.
    public func sampled(every stride: Int) -> LossSeries {
        guard stride > 1 else { return self }
        let first = (firstToken + stride - 1) / stride
        let end = endToken > 0 ? (endToken - 1) / stride + 1 : 0
        let indices = (first..<max(first, end)).map { $0 * stride - firstToken }
        var out = self
        out.firstToken = first
        out.nll = indices.map { nll[$0] }
        out.byteOffsets = byteOffsets.map { offsets in indices.compactMap { $0 < offsets.count ? offsets[$0] : nil } }
        out.cacheCapacity = nil
        return out
    }

    /// The series with each skipped (NaN) position holding the last sampled loss before it.
    ///
    /// For plotting only: a bucket whose size is a multiple of the stride then has exactly the
    /// mean of its sampled positions. Positions before the first sample stay NaN.
    public func heldOver() -> LossSeries {
        var out = self
        var last = Float.nan
        for i in out.nll.indices {
            if out.nll[i].isNaN { out.nll[i] = last } else { last = out.nll[i] }
        }
        return out
    }

    /// Whether some positions have no loss (NaN), as in a sampled recompute run.
    public var hasSkippedPositions: Bool { nll.contains { $0.isNaN } }
}

extension Bucket {
    /// Maps a bucket over sampled coordinates (see `LossSeries.sampled(every:)`) back to token
    /// positions, clipped to `range`; `count` stays the number of sampled positions.
    public func expanded(stride: Int, range: Range<Int>) -> Bucket {
        guard stride > 1 else { return self }
        var b = self
        // The bucket holding the first sample starts at the range's start.
        b.startToken = (startToken - 1) * stride < range.lowerBound ? range.lowerBound : min(startToken * stride, range.upperBound)
        b.endToken = min(max(endToken * stride, range.lowerBound), range.upperBound)
        return b
    }
}

extension Comparison {
    /// Maps a comparison computed over sampled series back to token positions in `range`.
    ///
    /// Row boundaries become token positions (the first row starts at `range.lowerBound`, the last
    /// ends at `range.upperBound`); cell counts stay numbers of sampled positions.
    public func expanded(stride: Int, range: Range<Int>) -> Comparison {
        guard stride > 1 else { return self }
        var out = self
        out.bucketSize = bucketSize * stride
        out.range = range
        out.runs = runs.map { run in
            var r = run
            r.firstToken = max(run.firstToken * stride, range.lowerBound)
            r.buckets = run.buckets.map { $0.expanded(stride: stride, range: range) }
            return r
        }
        out.rows = rows.map { row in
            var r = row
            r.startToken = row.startToken == self.range.lowerBound ? range.lowerBound : min(row.startToken * stride, range.upperBound)
            r.endToken = row.endToken == self.range.upperBound ? range.upperBound : min(row.endToken * stride, range.upperBound)
            return r
        }
        return out
    }
}
