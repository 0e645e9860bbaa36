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

extension ModeName {
    /// The attention mode of this kind with the given sinks, window and eviction.
    func attentionMode(sinks: Int, window: Int, evict: EvictionOption) -> AttentionMode {
        switch self {
        case .dense: .dense
        case .window: .window(window)
        case .recompute: .recompute(window)
        case .sink:
            switch evict {
            case .token: .sink(sinks: sinks, window: window)
            case .batch(let e): e == 1 ? .sink(sinks: sinks, window: window) : .sinkBatch(sinks: sinks, window: window, evict: e)
            }
        }
    }
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

    @Option(help: "Attention-sink tokens kept forever (sink mode).")
    var sinks: Int = 4

    @Option(help: "Recent tokens each token attends to, itself included (window, sink and recompute).")
    var window: Int = 1020

    @Option(help: ArgumentHelp("Eviction in sink mode: 'token' (one by one) or 'batch:E' (E oldest recent entries at once).", valueName: "token|batch:E"))
    var evict: EvictionOption = .batch(256)

    @Option(help: "Tokens processed per forward pass.")
    var chunk: Int = 256

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

    func validate() throws {
        if let tokens, tokens < 2 { throw ValidationError("Please give --tokens a number of at least 2.") }
        if sinks < 0 { throw ValidationError("Please give --sinks a value of 0 or more.") }
        if window < 1 { throw ValidationError("Please give --window a positive number of tokens.") }
        if chunk < 1 || chunk > 4096 { throw ValidationError("Please give --chunk a value between 1 and 4096.") }
        if recomputeStride < 1 { throw ValidationError("Please give --recompute-stride a positive number.") }
        if case .batch(let e) = evict, e > window {
            throw ValidationError("Please give batch eviction at most --window (\(window)) entries; got batch:\(e).")
        }
    }

    func run() throws {
        let logger = options.makeLogger()
        let model = try options.load(logger: logger)
        let sha = try FileDigest.sha256(path: model.path)
        let store = try storeOptions.open()
        let context = model.config.contextLength
        let batch = "c" + String(UUID().uuidString.lowercased().prefix(8))
        Interruption.install()
        var ids: [String] = []
        for (i, name) in modes.modes.enumerated() {
            var limit = tokens
            if name == .dense, (tokens ?? Int.max) > context {
                limit = context
                printError("dense stops at the model's context length, \(context) tokens; it is compared up to there.")
            }
            let config = ScoreConfiguration(
                mode: name.attentionMode(sinks: sinks, window: window, evict: evict), precision: options.precision,
                chunk: chunk, checkpointEveryTokens: checkpoints.checkpointEvery,
                checkpointEverySeconds: checkpoints.checkpointSeconds, bucket: checkpoints.bucket,
                tokenLimit: limit, recomputeStride: name == .recompute ? recomputeStride : nil)
            let run = try ScoreRun.start(documentPath: file, model: model, modelSHA256: sha, config: config, store: store,
                                         threads: options.threadCount, batchID: batch)
            ids.append(run.runID)
            let progress = ProgressLine(total: limit, enabled: standardErrorIsTerminal)
            let started = Date()
            let outcome = try run.run(shouldStop: { Interruption.isRequested }) { p in
                progress.update(done: p.scored, perplexity: p.perplexity,
                                fraction: p.documentSize > 0 ? Double(p.bytesRead) / Double(p.documentSize) : nil,
                                extra: "  [\(i + 1)/\(modes.modes.count) \(config.mode)]")
            }
            progress.finish()
            let seconds = Date().timeIntervalSince(started)
            printError("run \(run.runID): \(config.mode), \(run.scored) tokens in "
                       + String(format: "%.1f s (%.1f tokens/s)", seconds, Double(run.scored) / max(seconds, 1e-9)))
            if outcome == .paused {
                printError("paused; resume each unfinished run with `sinkstream resume RUN`, then `sinkstream report \(ids.joined(separator: " "))`.")
                throw ExitCode(Interruption.pausedExitCode)
            }
        }
        let runs = try ids.map { try StoredRun.load(id: $0, store: store) }
        let base = baseline ?? (modes.modes.contains(.recompute) ? "recompute" : nil)
        print(try ReportCommand.render(runs, format: format, bucket: checkpoints.bucket, tokens: nil, bytes: nil,
                                       baseline: base, worst: nil, spanTokens: 1, terminal: isatty(1) != 0), terminator: "")
        let summary = try Self.summary(runs, context: context, baseline: base)
        if format == .table { print(summary, terminator: "") } else { printError(summary) }
        let k = ReportRendering.stride(runs)
        let range = try ReportRendering.tokenRange(runs, tokens: nil, bytes: nil)
        try writeText(ReportRendering.svg(runs, size: ReportRendering.bucketSize(checkpoints.bucket, stride: k), range: range), to: svg)
        printError("wrote \(svg)")
        printError("runs: \(ids.joined(separator: " ")) (batch \(batch)); `sinkstream report \(ids.joined(separator: " "))` shows them again.")
    }

    /// Perplexity of each run before and after the cache fills (and past dense's context), with ratios.
    static func summary(_ runs: [StoredRun], context: Int, baseline: String?) throws -> String {
        let k = ReportRendering.stride(runs)
        let end = runs.map(\.series.endToken).max() ?? 0
        let capacity = runs.compactMap(\.series.cacheCapacity).max()
        var cuts = [0, end]
        if let capacity, capacity < end { cuts.append(capacity) }
        if runs.contains(where: { $0.series.mode == "dense" }), context < end { cuts.append(context) }
        cuts = Array(Set(cuts)).sorted()
        var out = "\nsummary (perplexity over each stretch; ratio to \(baseline ?? runs[0].series.label))"
        out += k > 1 ? ", on every \(k)th position:\n" : ":\n"
        for (lo, hi) in zip(cuts, cuts.dropFirst()) where lo < hi {
            let size = ReportRendering.bucketSize(hi - lo, stride: k)
            guard let c = try? ReportRendering.comparison(runs, size: size, range: lo..<hi, baseline: baseline),
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
