import Foundation
import Model
import Report
import Store

/// Turns stored runs into bucket tables, comparisons, sparklines, SVG charts and worst spans.
///
/// Runs that scored only every K-th position (sampled recompute) are bucketed on their sampled
/// positions; when such a run is compared, every run is compared on those same positions.
public enum RunReport {
    /// The positions every compared run has in common: the least common multiple of their strides.
    public static func stride(_ runs: [StoredRun]) -> Int {
        runs.map(\.sampleStride).reduce(1) { a, b in a / gcd(a, b) * b }
    }

    static func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? a : gcd(b, a % b) }

    /// `size` rounded up to a multiple of `stride`.
    public static func bucketSize(_ size: Int, stride: Int) -> Int { (size + stride - 1) / stride * stride }

    /// The token range asked for (`--range` or `--bytes`), checked against the runs and the document.
    public static func tokenRange(_ runs: [StoredRun], tokens: PositionSpan?, bytes: PositionSpan?) throws -> Range<Int> {
        let first = runs.map(\.series.firstToken).min() ?? 0
        let end = runs.map(\.series.endToken).max() ?? 0
        let covered = first..<end
        let label = runs.count == 1 ? runs[0].record.id : "the compared runs"
        if let bytes {
            let size = runs[0].record.documentSize
            let to = bytes.to ?? size
            guard bytes.from >= 0, to <= size, bytes.from < to else {
                throw RunReportError.bytesOutsideDocument(from: bytes.from, to: to, size: size)
            }
            // Token positions whose first byte lies in the range (the longest run maps them).
            let longest = runs.max { $0.series.endToken < $1.series.endToken } ?? runs[0]
            let r = try longest.series.tokenRange(forBytes: bytes.from..<to)
            guard !r.isEmpty else { throw RunReportError.noTokensInBytes(from: bytes.from, to: to, run: label, scored: covered) }
            return r
        }
        guard let tokens else { return covered }
        let r = Int(tokens.from)..<Int(tokens.to ?? Int64(end))
        guard !r.isEmpty else { throw ReportError.emptyRange(r) }
        guard r.lowerBound >= first, r.upperBound <= end else {
            if runs.count == 1 { throw ReportError.rangeOutsideRun(r, run: label, available: covered) }
            throw ReportError.rangeOutsideRuns(r, available: covered)
        }
        return r
    }

    /// One run's buckets over `range` (on its sampled positions if it is sampled).
    public static func buckets(_ run: StoredRun, size: Int, range: Range<Int>) throws -> [Bucket] {
        let k = run.sampleStride
        guard k > 1 else { return try PerplexityReport.buckets(run.series, size: size, range: range) }
        let compressed = run.series.sampled(every: k)
        let lower = (range.lowerBound + k - 1) / k
        let upper = min((range.upperBound + k - 1) / k, compressed.endToken)
        guard lower < upper else { throw RunReportError.noSampleInRange(range, stride: k, run: run.record.id) }
        return try PerplexityReport.buckets(compressed, size: size / k, range: lower..<upper)
            .map { $0.expanded(stride: k, range: range) }
    }

    /// Several runs lined up on shared buckets over `range`, on the positions all of them scored.
    public static func comparison(_ runs: [StoredRun], size: Int, range: Range<Int>, baseline: String?) throws -> Comparison {
        let k = stride(runs)
        guard k > 1 else {
            return try PerplexityReport.compare(runs.map(\.series), bucketSize: size, range: range, baseline: baseline)
        }
        let compressed = runs.map { $0.series.sampled(every: k) }
        let lower = (range.lowerBound + k - 1) / k
        let upper = min((range.upperBound + k - 1) / k, compressed.map(\.endToken).max() ?? 0)
        guard lower < upper else { throw RunReportError.noSampleInRange(range, stride: k, run: "the compared runs") }
        return try PerplexityReport.compare(compressed, bucketSize: size / k, range: lower..<upper, baseline: baseline)
            .expanded(stride: k, range: range)
    }

    /// The note printed under tables of sampled runs.
    public static func samplingNote(stride k: Int, runs: Int) -> String {
        let subject = runs == 1 ? "This run scored" : "A recompute run scored"
        let scope = runs == 1 ? "" : "every run is compared on those positions: "
        return "\(subject) only every \(k)th token position (t % \(k) == 0, --recompute-stride \(k)); \(scope)"
            + "all figures are means over them and the token counts count them."
    }

    /// A run's series limited to `range` (clamped to what it covers), or nil if it has none there.
    public static func slice(_ s: LossSeries, _ range: Range<Int>) -> LossSeries? {
        let lo = max(range.lowerBound, s.firstToken), hi = min(range.upperBound, s.endToken)
        guard lo < hi else { return nil }
        var out = s
        out.firstToken = lo
        out.nll = Array(s.nll[(lo - s.firstToken)..<(hi - s.firstToken)])
        out.byteOffsets = s.byteOffsets.map { o in Array(o[min(lo - s.firstToken, o.count)..<min(hi - s.firstToken, o.count)]) }
        return out
    }

    /// The SVG chart of the runs over `range`.
    ///
    /// When a run is sampled, every run is drawn from the same positions (`t % K == 0`), each
    /// sample held over the positions after it, so the lines are comparable as in the table.
    public static func svg(_ runs: [StoredRun], size: Int, range: Range<Int>) -> String {
        let k = stride(runs)
        let series = runs.compactMap { run -> LossSeries? in
            guard var s = slice(run.series, range) else { return nil }
            if k > 1 {
                for i in s.nll.indices where (s.firstToken + i) % k != 0 { s.nll[i] = .nan }
                s = s.heldOver()
                s.label += ", every \(k)th token"
            }
            return s
        }
        let name = runs.first.map { URL(fileURLWithPath: $0.record.documentPath).lastPathComponent } ?? "document"
        return PerplexityReport.svg(series, bucketSize: size, title: "Perplexity over document length — \(name)")
    }

    /// One sparkline per run (bucket perplexity on a log scale), for terminals.
    public static func sparklines(_ runs: [StoredRun], size: Int, range: Range<Int>) -> String {
        let width = 48
        let labelWidth = runs.map(\.series.label.count).max() ?? 0
        var out = ""
        for run in runs {
            guard let b = try? buckets(run, size: size, range: range), !b.isEmpty else { continue }
            let ppl = b.map(\.ppl).filter(\.isFinite)
            let line = PerplexityReport.sparkline(b.map(\.ppl), width: min(width, max(b.count, 1)), logScale: true)
            let lo = ppl.min().map { String(format: "%.1f", $0) } ?? "?", hi = ppl.max().map { String(format: "%.1f", $0) } ?? "?"
            out += run.series.label.padding(toLength: labelWidth, withPad: " ", startingAt: 0) + "  \(line)  ppl \(lo)…\(hi)\n"
        }
        return out
    }

    /// The `k` worst spans of each run inside `range`, with the document text around them.
    public static func worstSpans(_ runs: [StoredRun], k: Int, spanTokens: Int, range: Range<Int>) -> String {
        var out = ""
        for run in runs {
            out += "\nworst \(k) spans of \(spanTokens) tokens in run \(run.record.id) (\(run.series.label)):\n"
            guard run.sampleStride == 1 else {
                out += "  not available: this run scored only every \(run.sampleStride)th token.\n"
                continue
            }
            guard let s = slice(run.series, range) else { continue }
            let spans = PerplexityReport.worstSpans(s, k: k, spanTokens: spanTokens)
            let path = run.record.documentPath
            var problem: String?
            if !FileManager.default.fileExists(atPath: path) {
                problem = "the document \(path) is gone, so only token and byte ranges are shown"
            } else if (try? FileDigest.sha256(path: path)) != run.record.documentSHA256 {
                problem = "the document \(path) has changed since the run (SHA-256 differs), so only token and byte ranges are shown"
            }
            var excerpts: [SpanExcerpt] = []
            if problem == nil {
                do {
                    let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
                    defer { try? handle.close() }
                    excerpts = try PerplexityReport.excerpts(for: spans, contextBytes: 80) { bytes in
                        try handle.seek(toOffset: UInt64(bytes.lowerBound))
                        return [UInt8](try handle.read(upToCount: bytes.count) ?? Data())
                    }
                } catch {
                    problem = "the document \(path) could not be read (\(error.localizedDescription))"
                }
            }
            if let problem { out += "  (\(problem))\n" }
            for (i, span) in spans.enumerated() {
                let bytes = span.byteRange.map { " bytes \($0.lowerBound)–\($0.upperBound)" } ?? ""
                out += "\(i + 1)".leftPadded(3) + ". tokens \(span.startToken)–\(span.endToken)\(bytes)  "
                    + String(format: "mean nll %.3f  ppl %.1f\n", span.meanNLL, span.ppl)
                if let e = excerpts.first(where: { $0.span == span }) { out += "     " + e.marked() + "\n" }
            }
        }
        return out
    }
}

/// A `FROM:TO` range of token positions or bytes (`FROM:` runs to the end).
public struct PositionSpan: Sendable, Equatable {
    public var from: Int64
    public var to: Int64?

    public init(from: Int64, to: Int64?) {
        self.from = from
        self.to = to
    }

    /// Parses `FROM:TO`, `FROM:` or `:TO` (underscores allowed as digit separators).
    public init?(argument: String) {
        let parts = argument.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2 else { return nil }
        let from = parts[0].isEmpty ? 0 : Int64(parts[0].replacingOccurrences(of: "_", with: ""))
        let to = parts[1].isEmpty ? nil : Int64(parts[1].replacingOccurrences(of: "_", with: ""))
        guard let from, from >= 0, parts[1].isEmpty || to != nil else { return nil }
        self.from = from
        self.to = to
    }
}

/// Why a report or comparison cannot show what was asked; each reads as a sentence.
public enum RunReportError: Error, CustomStringConvertible, LocalizedError, Sendable, Equatable {
    case bytesOutsideDocument(from: Int64, to: Int64, size: Int64)
    case noTokensInBytes(from: Int64, to: Int64, run: String, scored: Range<Int>)
    case noSampleInRange(Range<Int>, stride: Int, run: String)
    case cannotWrite(path: String, reason: String)

    public var description: String {
        switch self {
        case .bytesOutsideDocument(let from, let to, let size):
            return "The byte range \(from):\(to) is not inside the document, which has \(size) bytes."
        case .noTokensInBytes(let from, let to, let run, let scored):
            return "No token scored by \(run) starts in bytes \(from):\(to) (it scored tokens \(scored.lowerBound):\(scored.upperBound))."
        case .noSampleInRange(let r, let k, let run):
            return "The range \(r.lowerBound):\(r.upperBound) holds no position scored by \(run), which scored every \(k)th token."
        case .cannotWrite(let path, let reason):
            return "Could not write \(path): \(reason)."
        }
    }

    public var errorDescription: String? { description }
}

extension String {
    /// The string right-aligned to `width` characters.
    public func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}

/// Writes text to a file, with an error that names the file.
public func writeText(_ text: String, to path: String) throws {
    do {
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    } catch {
        throw RunReportError.cannotWrite(path: path, reason: error.localizedDescription)
    }
}

extension RunReport {
    /// Perplexity of each run before and after the cache fills (and past dense's context), with ratios.
    public static func summary(_ runs: [StoredRun], context: Int, baseline: String?) throws -> String {
        let k = stride(runs)
        let end = runs.map(\.series.endToken).max() ?? 0
        let capacity = runs.compactMap(\.series.cacheCapacity).max()
        var cuts = [0, end]
        if let capacity, capacity < end { cuts.append(capacity) }
        if runs.contains(where: { $0.series.mode == "dense" }), context < end { cuts.append(context) }
        cuts = Array(Set(cuts)).sorted()
        var out = "\nsummary (perplexity over each stretch; ratio to \(baseline ?? runs[0].series.label))"
        out += k > 1 ? ", on every \(k)th position:\n" : ":\n"
        for (lo, hi) in zip(cuts, cuts.dropFirst()) where lo < hi {
            let size = bucketSize(hi - lo, stride: k)
            guard let c = try? comparison(runs, size: size, range: lo..<hi, baseline: baseline),
                  let row = c.rows.first else { continue }
            var cells: [String] = []
            for (run, cell) in zip(c.runs, row.cells) {
                guard let cell else { continue }
                let ratio = cell.ratio.map { String(format: " (×%.3f)", $0) } ?? ""
                cells.append("\(run.mode) \(String(format: "%.2f", cell.ppl))\(ratio)")
            }
            out += "  tokens \(lo)–\(hi): " + cells.joined(separator: " · ") + "\n"
        }
        return out
    }
}
