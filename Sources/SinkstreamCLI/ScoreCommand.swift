import ArgumentParser
import Foundation
import Kernels
import Model
import Pipeline
import Store
import Streaming

struct ScoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "score",
        abstract: "Per-token log-likelihood and perplexity of a document of any length.",
        discussion: """
        The document is read, tokenized and scored incrementally; memory does not grow with its \
        length. Every run is stored (see `sinkstream runs`) and checkpointed, so Ctrl-C pauses it \
        and `sinkstream resume RUN` continues with identical results.

        Prints the token count, perplexity and throughput. With --nll-out, writes one line per \
        scored token: `t<TAB>nll`, where nll[t] = -ln p(token t+1 | what token t attends to).

        Examples:
          sinkstream score book.txt                # sink(4,1020), batch eviction
          sinkstream score book.txt --mode dense   # up to the model's context
          sinkstream score book.txt --evict token --nll-out nll.tsv
          sinkstream score book.txt --format json --progress json
        """)

    @Argument(help: "The UTF-8 text file to score ('-' for standard input, which is first copied into the data folder so that the run can be resumed).")
    var file: String

    @OptionGroup var settings: ScoreSettings

    @Option(help: ArgumentHelp("Write every token's loss to this file as `t<TAB>nll` lines.", valueName: "path"))
    var nllOut: String?

    @Option(help: ArgumentHelp("Refuse to start if the model, cache and buffers would need more than this (e.g. 512M, 2G; default: physical memory).", valueName: "size"))
    var maxMemory: ByteSize?

    @Option(help: "The final summary as text (one `key: value` per line) or json (one object).")
    var format: SummaryFormat = .text

    @OptionGroup var storeOptions: StoreOptions

    @OptionGroup var options: ModelOptions

    @OptionGroup var output: ProgressOptions

    func run() throws {
        let logger = options.makeLogger()
        let model = try options.load(logger: logger)
        let config = settings.configuration(precision: options.precision)
        try MemoryPlan(model: model, mode: config.mode, chunk: config.chunk, threads: options.threadCount)
            .check(limit: maxMemory?.bytes)
        let store = try storeOptions.open()
        var document = file
        if DocumentSpool.needsSpooling(file) {
            let directory = (storeOptions.dataDirectory as NSString).appendingPathComponent("inputs")
            document = try DocumentSpool.spool(file, into: directory)
            output.notice("standard input saved as \(document)")
        }
        let run = try ScoreRun.start(documentPath: document, model: model, modelSHA256: try FileDigest.sha256(path: model.path),
                                     config: config, store: store, threads: options.threadCount)
        try RunDriver.drive(run, store: store, nllOut: nllOut, threads: options.threadCount, output: output, format: format)
    }
}

/// What a score run is: the attention mode and its options, the token limit, checkpoints,
/// bad UTF-8 — one group, shared by `score` and `submit` (which queues the same runs).
struct ScoreSettings: ParsableArguments {
    @Option(help: "Attention: dense (absolute positions, up to the model's context), window (recent tokens only), sink (attention sinks + rolling window, StreamingLLM), recompute (fresh forward over the window for every token; slow oracle).")
    var mode: ModeName = .sink

    @OptionGroup(title: "Attention") var attention: AttentionOptions

    @Option(help: "Stop after scoring this many tokens.")
    var tokens: Int?

    @OptionGroup var checkpoints: CheckpointOptions

    @Flag(help: "Read ill-formed UTF-8 as U+FFFD instead of refusing the document.")
    var replaceInvalid = false

    func validate() throws {
        if let tokens, tokens < 1 { throw ValidationError("Please give --tokens a positive number; got \(tokens).") }
        for warning in try attention.check(for: [mode]) { printError("warning: \(warning)") }
    }

    /// The stored configuration of a run with these settings.
    func configuration(precision: Precision) -> ScoreConfiguration {
        ScoreConfiguration(
            mode: attention.mode(mode), precision: precision, chunk: attention.chunkTokens,
            checkpointEveryTokens: checkpoints.checkpointEvery, checkpointEverySeconds: checkpoints.checkpointSeconds,
            bucket: checkpoints.bucket, replaceInvalid: replaceInvalid, tokenLimit: tokens, keepCache: checkpoints.keepCache)
    }
}

/// How `score` and `resume` print their final summary.
enum SummaryFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json
}

/// A size such as `512M` or `2G` (powers of 1024; a plain number is bytes).
struct ByteSize: ExpressibleByArgument {
    let bytes: Int
    init?(argument: String) {
        let units: [Character: Int] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40]
        var text = argument.uppercased()
        if text.hasSuffix("B") { text.removeLast() }
        var scale = 1
        if let last = text.last, let unit = units[last] { scale = unit; text.removeLast() }
        guard let value = Double(text), value > 0 else { return nil }
        bytes = Int(value * Double(scale))
    }
}

/// Checkpoint and metric options.
struct CheckpointOptions: ParsableArguments {
    static let defaultEvery = 16_384

    @Option(name: .customLong("checkpoint-every"),
            help: "Checkpoint after this many scored tokens (0: only by time; default: 16384; 4096 for `submit --task` runs, as in `summarize`).")
    var everyTokens: Int?

    /// The token interval of a score run.
    var checkpointEvery: Int { everyTokens ?? Self.defaultEvery }

    @Option(help: "Checkpoint after this many seconds (0: only by tokens).")
    var checkpointSeconds: Double = 30

    @Option(help: "Tokens per stored metric bucket (perplexity over document length).")
    var bucket: Int = 1_024

    @Flag(help: "Keep the K/V blocks of the final checkpoint when the run completes (nothing can resume a completed run; by default they are dropped, which keeps the database small).")
    var keepCache = false

    func validate() throws {
        if (everyTokens ?? 0) < 0 || checkpointSeconds < 0 { throw ValidationError("Please give checkpoint intervals of 0 or more.") }
        if bucket < 1 { throw ValidationError("Please give --bucket a positive number of tokens.") }
    }
}

/// Runs a score run to its end or to a pause, with progress and a summary.
enum RunDriver {
    /// Runs to the end or to a stop request (Ctrl-C), drawing progress.
    static func run(_ run: ScoreRun, output: ProgressOptions, label: String? = nil) throws -> RunOutcome {
        let display = ProgressDisplay(output, label: label, runID: run.runID)
        var last: ProgressSample?
        let outcome = try run.run(shouldStop: { Interruption.isRequested }) { p in
            let sample = ProgressSample(tokens: p.scored, fraction: p.fraction, perplexity: p.perplexity)
            last = sample
            display.update(sample)
        }
        display.finish(last, status: outcome == .paused ? "paused" : "completed")
        return outcome
    }

    static func drive(_ run: ScoreRun, store: any RunStoring, nllOut: String?, threads: Int, output: ProgressOptions,
                      format: SummaryFormat) throws {
        Interruption.install()
        let start = Date()
        let firstScored = run.scored
        let outcome = try Self.run(run, output: output)
        let seconds = Date().timeIntervalSince(start)
        if outcome == .paused {
            printError("run \(run.runID) paused at token \(run.scored) (checkpoint written).")
            printError("resume with: sinkstream resume \(run.runID)")
            throw ExitCode(ExitStatus.paused.rawValue)
        }
        if let nllOut {
            let writer = try NLLWriter(path: nllOut)
            var t: Int64 = 0
            while t < Int64(run.scored) {
                let slice = try store.nll(runID: run.runID, range: t..<min(Int64(run.scored), t + 65_536))
                writer.append(slice.nll, first: Int(slice.tokens.lowerBound))
                t = slice.tokens.upperBound
                if slice.nll.isEmpty { break }
            }
            try writer.close()
        }
        let mean = run.nllSum / Double(max(run.scored, 1))
        let rate = Double(run.scored - firstScored) / max(seconds, 1e-9)
        let peak = ProcessMemory.peakBytes()
        switch format {
        case .json:
            let o: [String: Any] = [
                "run": run.runID, "file": run.documentPath, "mode": run.config.mode.description,
                "precision": run.config.precision.rawValue, "threads": threads, "tokens": run.scored + 1, "scored": run.scored,
                "mean_nll": mean, "perplexity": exp(mean), "tokens_per_second": rate, "seconds": seconds, "peak_rss_bytes": peak,
                "status": "completed",
            ]
            let data = try JSONSerialization.data(withJSONObject: o, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        case .text:
            print("run:        \(run.runID)")
            print("file:       \(run.documentPath)")
            print("mode:       \(run.config.mode)  (\(run.config.precision.rawValue), \(threads) threads)")
            print("tokens:     \(run.scored + 1) (\(run.scored) scored)")
            print(String(format: "mean nll:   %.5f nats/token", mean))
            print(String(format: "perplexity: %.4f", exp(mean)))
            print(String(format: "throughput: %.1f tokens/s (%.2f s)", rate, seconds))
            print(String(format: "peak rss:   %.1f MiB", Double(peak) / 1_048_576))
        }
    }
}

/// Writes `t<TAB>nll` lines.
final class NLLWriter {
    private let handle: FileHandle
    private let path: String
    private var buffer = ""

    init(path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
            throw InputError("\(path): cannot create the --nll-out file: \(String(cString: strerror(errno))).", status: .cannotCreate)
        }
        self.handle = handle
        self.path = path
    }

    func append(_ losses: [Float], first: Int) {
        for (i, v) in losses.enumerated() { buffer += "\(first + i)\t\(v)\n" }
        if buffer.utf8.count > 1 << 16 { flush() }
    }

    private func flush() {
        handle.write(Data(buffer.utf8))
        buffer = ""
    }

    func close() throws {
        flush()
        try handle.close()
    }
}
