import ArgumentParser
import Foundation
import Model
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

    var attentionMode: AttentionMode {
        switch mode {
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

struct ScoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "score",
        abstract: "Per-token log-likelihood and perplexity of a document of any length.",
        discussion: """
        Prints the token count, perplexity and throughput. With --nll-out, writes one line per \
        scored token: `t<TAB>nll`, where nll[t] = -ln p(token t+1 | what token t attends to).

        Examples:
          sinkstream score book.txt                         # sink(4,1020), batched eviction
          sinkstream score book.txt --mode dense            # up to the model's context length
          sinkstream score book.txt --evict token --nll-out nll.tsv
        """)

    @Argument(help: "The UTF-8 text file to score.")
    var file: String

    @OptionGroup var attention: AttentionOptions

    @Option(help: ArgumentHelp("Write every token's loss to this file as `t<TAB>nll` lines.", valueName: "path"))
    var nllOut: String?

    @OptionGroup var options: ModelOptions

    func run() throws {
        let logger = options.makeLogger()
        let model = try options.load(logger: logger)
        let text = try DocumentText.read(file)
        let tokens = model.tokenizer.encode(text, parseSpecial: false)
        guard tokens.count >= 2 else {
            throw ValidationError("\(file): the document has \(tokens.count) token(s); at least 2 are needed to score anything.")
        }
        let mode = attention.attentionMode
        let maxVisible = mode.maxVisible(contextLength: model.config.contextLength)
        let engine = InferenceEngine(model: model, threads: options.threadCount, maxChunk: attention.chunk, maxContext: maxVisible)
        var writer: NLLWriter?
        if let nllOut { writer = try NLLWriter(path: nllOut) }
        let start = Date()
        let progress = ProgressLine(total: tokens.count - 1, enabled: standardErrorIsTerminal)
        var written = 0
        let losses = try TokenScorer.score(tokens: tokens, mode: mode, engine: engine) { chunk, p in
            writer?.append(chunk, first: written)
            written += chunk.count
            progress.update(done: p.scored, perplexity: p.perplexity)
        }
        progress.finish()
        try writer?.close()
        let seconds = Date().timeIntervalSince(start)
        let mean = losses.reduce(0.0) { $0 + Double($1) } / Double(losses.count)
        print("file:       \(file)")
        print("mode:       \(mode)  (\(options.precision.rawValue), \(engine.pool.threadCount) threads)")
        print("tokens:     \(tokens.count) (\(losses.count) scored)")
        print(String(format: "mean nll:   %.5f nats/token", mean))
        print(String(format: "perplexity: %.4f", exp(mean)))
        print(String(format: "throughput: %.1f tokens/s (%.2f s)", Double(losses.count) / seconds, seconds))
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

    init(total: Int?, enabled: Bool) {
        self.total = total
        self.enabled = enabled
    }

    func update(done: Int, perplexity: Double, extra: String = "") {
        guard enabled, Date().timeIntervalSince(lastDraw) > 0.2 else { return }
        lastDraw = Date()
        let elapsed = Date().timeIntervalSince(start)
        let rate = Double(done) / max(elapsed, 1e-9)
        var line = "\(done)"
        if let total {
            line += "/\(total) tokens (\(Int(100 * Double(done) / Double(max(total, 1))))%)"
            let eta = rate > 0 ? Double(total - done) / rate : 0
            line += String(format: "  ETA %@", formatDuration(eta))
        } else {
            line += " tokens"
        }
        line += String(format: "  %.0f tok/s  ppl %.3f", rate, perplexity) + extra
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
