import ArgumentParser
import Foundation
import Model
import Pipeline
import Store
import Streaming

/// How eviction works in `sink` mode.
enum EvictionOption: ExpressibleByArgument, Equatable {
    case token
    case batch(Int)

    init?(argument: String) {
        if argument == "token" { self = .token; return }
        if argument.hasPrefix("batch:"), let e = Int(argument.dropFirst(6)), e >= 1 { self = .batch(e); return }
        return nil
    }

    var defaultValueDescription: String {
        switch self {
        case .token: "token"
        case .batch(let e): "batch:\(e)"
        }
    }
}

enum ModeName: String, ExpressibleByArgument, CaseIterable {
    case dense, window, sink, recompute
}

/// Attention options shared by scoring commands.
struct AttentionOptions: ParsableArguments {
    @Option(help: "Attention: dense (absolute positions, up to the model's context), window (recent tokens only), sink (attention sinks + rolling window, StreamingLLM), recompute (fresh forward over the window for every token; slow oracle).")
    var mode: ModeName = .sink

    @Option(help: "Attention-sink tokens kept forever (sink mode).")
    var sinks: Int = 4

    @Option(help: "Recent tokens each token attends to, itself included (window, sink and recompute modes).")
    var window: Int = 1020

    @Option(help: ArgumentHelp("Eviction in sink mode: 'token' (one by one, exact StreamingLLM) or 'batch:E' (E oldest recent entries at once; faster).", valueName: "token|batch:E"))
    var evict: EvictionOption = .batch(256)

    @Option(help: "Tokens processed per forward pass (larger is faster up to a point).")
    var chunk: Int = 256

    func validate() throws {
        if sinks < 0 || sinks > 1_000_000 { throw ValidationError("Please give --sinks a value of 0 or more.") }
        if window < 1 || window > 16_777_216 { throw ValidationError("Please give --window a positive number of tokens.") }
        if chunk < 1 || chunk > 4096 { throw ValidationError("Please give --chunk a value between 1 and 4096.") }
        if case .batch(let e) = evict, e > window {
            throw ValidationError("Please give batch eviction at most --window (\(window)) entries; got batch:\(e).")
        }
    }

    var attentionMode: AttentionMode { mode.attentionMode(sinks: sinks, window: window, evict: evict) }
}

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
          sinkstream score book.txt                         # sink(4,1020), batched eviction
          sinkstream score book.txt --mode dense            # up to the model's context length
          sinkstream score book.txt --evict token --nll-out nll.tsv
        """)

    @Argument(help: "The UTF-8 text file to score ('-' for standard input, which is first copied into the data folder so that the run can be resumed).")
    var file: String

    @OptionGroup var attention: AttentionOptions

    @Option(help: ArgumentHelp("Write every token's loss to this file as `t<TAB>nll` lines.", valueName: "path"))
    var nllOut: String?

    @Option(help: "Stop after scoring this many tokens.")
    var tokens: Int?

    @OptionGroup var checkpoints: CheckpointOptions

    @Flag(help: "Read ill-formed UTF-8 as U+FFFD instead of refusing the document.")
    var replaceInvalid = false

    @Option(help: ArgumentHelp("Refuse to start if the model, cache and buffers would need more than this (e.g. 512M, 2G; default: physical memory).", valueName: "size"))
    var maxMemory: ByteSize?

    @OptionGroup var storeOptions: StoreOptions

    @OptionGroup var options: ModelOptions

    func validate() throws {
        if let tokens, tokens < 1 { throw ValidationError("Please give --tokens a positive number.") }
    }

    func run() throws {
        let logger = options.makeLogger()
        let model = try options.load(logger: logger)
        try MemoryPlan(model: model, mode: attention.attentionMode, chunk: attention.chunk, threads: options.threadCount)
            .check(limit: maxMemory?.bytes)
        let store = try storeOptions.open()
        let config = ScoreConfiguration(
            mode: attention.attentionMode, precision: options.precision, chunk: attention.chunk,
            checkpointEveryTokens: checkpoints.checkpointEvery, checkpointEverySeconds: checkpoints.checkpointSeconds,
            bucket: checkpoints.bucket, replaceInvalid: replaceInvalid, tokenLimit: tokens)
        var document = file
        if DocumentSpool.needsSpooling(file) {
            let directory = ((storeOptions.path as NSString).deletingLastPathComponent as NSString).appendingPathComponent("inputs")
            document = try DocumentSpool.spool(file, into: directory)
            printError("standard input saved as \(document)")
        }
        let run = try ScoreRun.start(documentPath: document, model: model, modelSHA256: try FileDigest.sha256(path: model.path),
                                     config: config, store: store, threads: options.threadCount)
        try RunDriver.drive(run, store: store, nllOut: nllOut, threads: options.threadCount)
    }
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
    @Option(help: "Checkpoint after this many scored tokens (0: only by time).")
    var checkpointEvery: Int = 16_384

    @Option(help: "Checkpoint after this many seconds (0: only by tokens).")
    var checkpointSeconds: Double = 30

    @Option(help: "Tokens per stored metric bucket (perplexity over document length).")
    var bucket: Int = 1_024

    func validate() throws {
        if checkpointEvery < 0 || checkpointSeconds < 0 { throw ValidationError("Please give checkpoint intervals of 0 or more.") }
        if bucket < 1 { throw ValidationError("Please give --bucket a positive number of tokens.") }
    }
}

/// Runs a score run to its end or to a pause, with progress and a summary.
enum RunDriver {
    static func drive(_ run: ScoreRun, store: RunStore, nllOut: String?, threads: Int) throws {
        Interruption.install()
        let start = Date()
        let firstScored = run.scored
        let progress = ProgressLine(total: nil, enabled: standardErrorIsTerminal)
        let outcome: RunOutcome
        do {
            outcome = try run.run(shouldStop: { Interruption.isRequested }) { p in
                let percent = p.documentSize > 0 ? Double(p.bytesRead) / Double(p.documentSize) : 1
                progress.update(done: p.scored, perplexity: p.perplexity, fraction: percent, since: firstScored)
            }
        } catch let error as RunError where error.code == "run.storage" {
            progress.finish()
            printError("Error: \(error)")
            throw ExitCode(Interruption.storageExitCode)
        }
        progress.finish()
        let seconds = Date().timeIntervalSince(start)
        if outcome == .paused {
            printError("run \(run.runID) paused at token \(run.scored) (checkpoint written).")
            printError("resume with: sinkstream resume \(run.runID)")
            throw ExitCode(Interruption.pausedExitCode)
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
        print("run:        \(run.runID)")
        print("file:       \(run.documentPath)")
        print("mode:       \(run.config.mode)  (\(run.config.precision.rawValue), \(threads) threads)")
        print("tokens:     \(run.scored + 1) (\(run.scored) scored)")
        print(String(format: "mean nll:   %.5f nats/token", mean))
        print(String(format: "perplexity: %.4f", exp(mean)))
        print(String(format: "throughput: %.1f tokens/s (%.2f s)", Double(run.scored - firstScored) / seconds, seconds))
        print(String(format: "peak rss:   %.1f MiB", Double(ScoreRun.peakMemoryBytes()) / 1_048_576))
    }
}

/// Writes `t<TAB>nll` lines.
final class NLLWriter {
    private let handle: FileHandle
    private let path: String
    private var buffer = ""

    init(path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
            throw ValidationError("\(path): cannot create the --nll-out file.")
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

/// A one-line progress display on standard error (only on a terminal).
final class ProgressLine {
    private let total: Int?
    private let enabled: Bool
    private let start = Date()
    private var lastDraw = Date.distantPast
    private var firstFraction: Double?

    init(total: Int?, enabled: Bool) {
        self.total = total
        self.enabled = enabled
    }

    /// - Parameters:
    ///   - fraction: how far through the input (0…1), when the total is not known in tokens.
    ///   - since: work already done before this process started (not counted in the rate).
    func update(done: Int, perplexity: Double, fraction: Double? = nil, since: Int = 0, extra: String = "") {
        if firstFraction == nil { firstFraction = fraction }
        guard enabled, Date().timeIntervalSince(lastDraw) > 0.2 else { return }
        lastDraw = Date()
        let elapsed = Date().timeIntervalSince(start)
        let rate = Double(done - since) / max(elapsed, 1e-9)
        var line = "\(done) tokens"
        var remaining: Double?
        if let total {
            line = "\(done)/\(total) tokens (\(Int(100 * Double(done) / Double(max(total, 1))))%)"
            remaining = rate > 0 ? Double(total - done) / rate : nil
        } else if let fraction, fraction > 0 {
            line += String(format: " (%.1f%%)", 100 * fraction)
            let progressed = fraction - (firstFraction ?? 0)
            remaining = progressed > 0 ? elapsed * (1 - fraction) / progressed : nil
        }
        line += String(format: "  %.0f tok/s  ppl %.3f", rate, perplexity)
        if let remaining { line += "  ETA " + formatDuration(remaining) }
        line += extra
        FileHandle.standardError.write(Data(("\r\u{1B}[K" + line).utf8))
    }

    func finish() {
        if enabled { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }
}

func formatDuration(_ seconds: Double) -> String {
    guard seconds.isFinite else { return "?" }
    let s = Int(seconds.rounded())
    return s >= 3600 ? String(format: "%dh%02dm", s / 3600, (s % 3600) / 60) : String(format: "%d:%02d", s / 60, s % 60)
}
