import Foundation

extension PerplexityReport {
    /// Splits a run's losses into fixed-size buckets and computes perplexity per bucket.
    ///
    /// Bucket boundaries start at `range.lowerBound` and step by `size`; the last bucket may be
    /// partial. Summation is deterministic and documented so that others can reproduce it
    /// bit for bit:
    /// - each bucket's sum starts at `0.0` and adds `Double(nll[t])` for its tokens in increasing
    ///   token order; `meanNLL = sum / Double(count)`, `ppl = exp(meanNLL)`;
    /// - a separate running sum starts at `0.0` at the range start and adds `Double(nll[t])` for every
    ///   token in increasing order (it is not the sum of bucket sums);
    ///   `cumulativePPL = exp(runningSum / Double(tokensSinceRangeStart))`.
    ///
    /// - Parameters:
    ///   - series: the run's losses.
    ///   - size: tokens per bucket (at least 1).
    ///   - range: absolute token positions to cover; `nil` means all scored tokens.
    /// - Returns: buckets in token order.
    /// - Throws: `ReportError` for an empty run, a bad bucket size, or a range outside the run.
    public static func buckets(_ series: LossSeries, size: Int, range: Range<Int>? = nil) throws(ReportError) -> [Bucket] {
        guard !series.nll.isEmpty else { throw .emptySeries(run: series.label) }
        guard size > 0 else { throw .invalidBucketSize(size) }
        let r = try series.validatedRange(range)
        return accumulate(series, range: r, gridOrigin: r.lowerBound, size: size)
    }

    /// Buckets over `range` (inside the series) with boundaries at `gridOrigin + k * size`.
    static func accumulate(_ series: LossSeries, range: Range<Int>, gridOrigin: Int, size: Int) -> [Bucket] {
        var out: [Bucket] = []
        out.reserveCapacity(range.count / size + 1)
        var runningSum = 0.0
        var runningCount = 0
        var start = range.lowerBound
        while start < range.upperBound {
            // Written without `(k + 1) * size` so huge sizes cannot overflow.
            let intoBucket = (start - gridOrigin) % size
            let length = min(size - intoBucket, range.upperBound - start)
            var sum = 0.0
            for position in start..<(start + length) {
                let value = Double(series.loss(at: position))
                sum += value
                runningSum += value
            }
            runningCount += length
            let mean = sum / Double(length)
            out.append(Bucket(
                startToken: start, endToken: start + length, count: length,
                meanNLL: mean, ppl: exp(mean),
                cumulativePPL: exp(runningSum / Double(runningCount))
            ))
            start += length
        }
        return out
    }

    /// Perplexity over a whole range: `exp` of the sequential Double mean of its losses.
    ///
    /// - Throws: `ReportError` for an empty run or a range outside it.
    public static func perplexity(_ series: LossSeries, range: Range<Int>? = nil) throws(ReportError) -> Double {
        let r = try series.validatedRange(range)
        var sum = 0.0
        for position in r { sum += Double(series.loss(at: position)) }
        return exp(sum / Double(r.count))
    }
}
