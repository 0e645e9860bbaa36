import ArgumentParser
import Foundation
import Model
import Pipeline
import Report
import Store
import Streaming

/// A comma-separated list of attention modes.
struct ModeList: ExpressibleByArgument {
    var modes: [ModeName]

    init?(argument: String) {
        let names = argument.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        let modes = names.compactMap { ModeName(rawValue: $0) }
        guard !modes.isEmpty, modes.count == names.count, Set(modes).count == modes.count else { return nil }
        self.modes = modes
    }

    var defaultValueDescription: String { modes.map(\.rawValue).joined(separator: ",") }
}

struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Score one document under several attention modes and compare perplexity over its length.",
        discussion: """
        Each mode becomes a stored run (one batch; see `sinkstream runs`), scored one after the \
        other with the same model, sinks, window and chunk. Then the runs are lined up by token \
        position: a table of perplexity per bucket with ratios to the baseline (recompute when it \
        is among the modes), a summary before and after the cache fills, and an SVG chart with \
        one line per mode and the cache size marked (StreamingLLM, Figure 3).

        dense attends to everything and stops at the model's context length (8,192 tokens for \
        SmolLM2); it is reported up to there. recompute runs a fresh forward over the last W \
        tokens for every scored token, so it scores only every Kth position (--recompute-stride \
        K, positions t with t % K == 0); the comparison then uses those positions for every mode.

        Example:
          sinkstream compare hamlet.txt --modes dense,window,sink,recompute --tokens 20000
        """)

    @Argument(help: "The UTF-8 text file to score.")
    var file: String

    @Option(help: ArgumentHelp("Comma-separated attention modes: dense, window, sink, recompute.", valueName: "m1,m2,…"))
    var modes: ModeList = ModeList(argument: "dense,window,sink,recompute")!

    @Option(help: "Score this many tokens in each mode (default: the whole document).")
    var tokens: Int?

    @OptionGroup(title: "Attention") var attention: AttentionOptions

    @Option(help: ArgumentHelp("recompute scores only positions t with t % K == 0 (one forward over W tokens each); 1 scores all.", valueName: "K"))
    var recomputeStride: Int = 16

    @Option(help: "Ratios are to this mode (default: recompute if compared, else the first mode).")
    var baseline: String?

    @Option(help: ArgumentHelp("Write the chart here.", valueName: "path"))
    var svg: String = "compare.svg"

    @Option(help: "Output: table, csv or json (the comparison only).")
    var format: OutputFormat = .table

    @OptionGroup var checkpoints: CheckpointOptions

    @OptionGroup var storeOptions: StoreOptions

    @OptionGroup var options: ModelOptions

    @OptionGroup var output: ProgressOptions

    func validate() throws {
        if let tokens, tokens < 2 { throw ValidationError("Please give --tokens a number of at least 2; got \(tokens).") }
        if recomputeStride < 1 { throw ValidationError("Please give --recompute-stride a positive number; got \(recomputeStride).") }
        if let baseline, !modes.modes.map(\.rawValue).contains(baseline) {
            throw ValidationError("Please give --baseline one of the compared modes (\(modes.defaultValueDescription)); got \(baseline).")
        }
        for warning in try attention.check(for: modes.modes) { printError("warning: \(warning)") }
    }

    func run() throws {
        let logger = options.makeLogger()
        let model = try options.load(logger: logger)
        let sha = try FileDigest.sha256(path: model.path)
        let store = try storeOptions.open()
        let context = model.config.contextLength
        let shared = ScoreConfiguration(
            mode: .dense, precision: options.precision, chunk: attention.chunkTokens,
            checkpointEveryTokens: checkpoints.checkpointEvery, checkpointEverySeconds: checkpoints.checkpointSeconds,
            bucket: checkpoints.bucket, keepCache: checkpoints.keepCache)
        let plan = ComparisonPlan(modes: modes.modes.map { attention.mode($0) }, base: shared, tokens: tokens,
                                  recomputeStride: recomputeStride, contextLength: context, baseline: baseline)
        Interruption.install()
        var ids: [String] = []
        for (i, entry) in plan.entries.enumerated() {
            if let note = entry.note { output.notice(note) }
            let run = try ScoreRun.start(documentPath: file, model: model, modelSHA256: sha, config: entry.config, store: store,
                                         threads: options.threadCount, batchID: plan.batchID)
            ids.append(run.runID)
            let started = Date()
            let outcome = try RunDriver.run(run, output: output, label: "[\(i + 1)/\(plan.entries.count) \(entry.config.mode)]")
            let seconds = Date().timeIntervalSince(started)
            output.notice("run \(run.runID): \(entry.config.mode), \(run.scored) tokens in "
                          + String(format: "%.1f s (%.1f tokens/s)", seconds, Double(run.scored) / max(seconds, 1e-9)))
            if outcome == .paused {
                printError("paused; resume each unfinished run with `sinkstream resume RUN`, then `sinkstream report \(ids.joined(separator: " "))`.")
                throw ExitCode(ExitStatus.paused.rawValue)
            }
        }
        let runs = try ids.map { try StoredRun.load(id: $0, store: store) }
        let base = plan.baseline
        print(try ReportCommand.render(runs, format: format, bucket: checkpoints.bucket, tokens: nil, bytes: nil,
                                       baseline: base, worst: nil, spanTokens: 1, terminal: isatty(1) != 0), terminator: "")
        let summary = try RunReport.summary(runs, context: context, baseline: base)
        if format == .table { print(summary, terminator: "") } else { printError(summary) }
        let k = RunReport.stride(runs)
        let range = try RunReport.tokenRange(runs, tokens: nil, bytes: nil)
        try writeText(RunReport.svg(runs, size: RunReport.bucketSize(checkpoints.bucket, stride: k), range: range), to: svg)
        output.notice("wrote \(svg)")
        output.notice("runs: \(ids.joined(separator: " ")) (batch \(plan.batchID)); `sinkstream report \(ids.joined(separator: " "))` shows them again.")
    }
}
