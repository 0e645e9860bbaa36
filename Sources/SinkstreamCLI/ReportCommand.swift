import ArgumentParser
import Foundation
import Pipeline
import Report
import Store

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Perplexity over document length for stored runs; several runs are lined up and compared.",
        discussion: """
        Figures are computed from the stored per-token losses: each bucket's mean loss, its \
        perplexity and the cumulative perplexity from the start of the range. A run that is still \
        going, paused or interrupted is reported as far as it got (the first line says so).

        With several runs (the same document, e.g. different modes) the buckets are lined up by \
        token position and the ratio of each run's perplexity to the baseline's is shown. A \
        recompute run scored with --recompute-stride K has losses only at every Kth position; its \
        figures, and a comparison that includes it, use only those positions.

        Examples:
          sinkstream report r3kq7va
          sinkstream report r3kq7va --bucket 256 --range 0:4096 --format csv
          sinkstream report r3kq7va --bytes 10000:20000 --worst 5
          sinkstream report r3kq7va r8m2xz0 --svg ppl.svg
        """)

    @Argument(help: ArgumentHelp("One or more run ids (see `sinkstream runs`).", valueName: "run-id"))
    var runIDs: [String] = []

    @Option(help: "Output: table (aligned columns), csv (header first) or json.")
    var format: OutputFormat = .table

    @Option(help: "Tokens per bucket, re-aggregated from the stored per-token losses.")
    var bucket: Int = 1_024

    @Option(name: .customLong("range"), help: ArgumentHelp("Only token positions FROM..<TO (`FROM:` to the end).", valueName: "FROM:TO"))
    var tokenRange: PositionSpan?

    @Option(help: ArgumentHelp("Only tokens that start in document bytes FROM..<TO.", valueName: "FROM:TO"))
    var bytes: PositionSpan?

    @Option(help: "With several runs: ratios are to this run (label or mode, e.g. recompute); default the first.")
    var baseline: String?

    @Option(help: ArgumentHelp("Also draw perplexity against token position as SVG to this file.", valueName: "path"))
    var svg: String?

    @Option(help: ArgumentHelp("List the K spans with the highest mean loss, with the text around them.", valueName: "K"))
    var worst: Int?

    @Option(help: "Tokens per span for --worst.")
    var spanTokens: Int = 32

    @OptionGroup var storeOptions: StoreOptions

    func validate() throws {
        if runIDs.isEmpty { throw ValidationError("Please give at least one run id (`sinkstream runs` lists them).") }
        if bucket < 1 { throw ValidationError("Please give --bucket a positive number of tokens.") }
        if tokenRange != nil && bytes != nil { throw ValidationError("Please give either --range or --bytes, not both.") }
        if let worst, worst < 1 { throw ValidationError("Please give --worst a positive number of spans.") }
        if spanTokens < 1 { throw ValidationError("Please give --span-tokens a positive number of tokens.") }
    }

    func run() throws {
        let store = try storeOptions.open(readOnly: true)
        let runs = try runIDs.map { try StoredRun.load(id: $0, store: store) }
        print(try Self.render(runs, format: format, bucket: bucket, tokens: tokenRange, bytes: bytes, baseline: baseline,
                              worst: worst, spanTokens: spanTokens, terminal: isatty(1) != 0), terminator: "")
        if let svg {
            let range = try RunReport.tokenRange(runs, tokens: tokenRange, bytes: bytes)
            let size = RunReport.bucketSize(bucket, stride: RunReport.stride(runs))
            try writeText(RunReport.svg(runs, size: size, range: range), to: svg)
            printError("wrote \(svg)")
        }
    }

    /// The whole report as text (status lines and notes go to standard error for csv and json).
    static func render(_ runs: [StoredRun], format: OutputFormat, bucket: Int, tokens: PositionSpan?, bytes: PositionSpan?,
                       baseline: String?, worst: Int?, spanTokens: Int, terminal: Bool) throws -> String {
        for (a, b) in zip(runs, runs.dropFirst()) where a.record.documentSHA256 != b.record.documentSHA256 {
            throw RunError.differentDocuments(b.record.id, a.record.id)
        }
        let range = try RunReport.tokenRange(runs, tokens: tokens, bytes: bytes)
        let k = RunReport.stride(runs)
        let size = RunReport.bucketSize(bucket, stride: k)
        var notes: [String] = []
        for run in runs where run.isPartial { notes.append("run \(run.record.id): \(run.series.status)") }
        if size != bucket { notes.append("buckets of \(size) tokens (--bucket \(bucket) rounded up to a multiple of the sampling stride \(k))") }
        var body: String
        if runs.count == 1 {
            let buckets = try RunReport.buckets(runs[0], size: size, range: range)
            switch format {
            case .table: body = PerplexityReport.table(buckets, series: runs[0].series)
            case .csv: body = PerplexityReport.csv(buckets)
            case .json: body = PerplexityReport.json(buckets)
            }
        } else {
            let comparison = try RunReport.comparison(runs, size: size, range: range, baseline: baseline)
            switch format {
            case .table: body = comparison.table(sampleStride: k)
            case .csv: body = comparison.csv()
            case .json: body = comparison.json()
            }
        }
        if k > 1 { notes.append(RunReport.samplingNote(stride: k, runs: runs.count)) }
        var extra = ""
        if format == .table && terminal { extra += "\n" + RunReport.sparklines(runs, size: size, range: range) }
        if let worst { extra += RunReport.worstSpans(runs, k: worst, spanTokens: spanTokens, range: range) }
        guard format == .table else {
            for note in notes { printError(note) }
            if !extra.isEmpty { printError(extra) }
            return body
        }
        let head = notes.filter { $0.hasPrefix("run ") }.map { $0 + "\n" }.joined()
        let tail = notes.filter { !$0.hasPrefix("run ") }.map { "note: " + $0 + "\n" }.joined()
        return head + body + tail + extra
    }
}

extension PositionSpan: ExpressibleByArgument {}
