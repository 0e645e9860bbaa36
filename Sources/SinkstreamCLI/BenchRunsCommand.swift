import ArgumentParser
import Foundation
import Model
import Pipeline
import Streaming

/// Streaming and persistence benchmarks (issue figures): throughput per attention mode at one
/// cache size, sink decoding against recomputation, resident memory at two document lengths,
/// and what checkpoints cost.
struct BenchRunsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-runs",
        abstract: "Benchmark attention modes, streaming memory and checkpoint cost on a real document.",
        discussion: """
        Needs a long document (scripts/fetch-document.sh --all downloads the public-domain plays \
        and prints the file's path) and uses the default model unless --model names another. Lines end with the figure and its unit; --json prints one JSON object instead.

        Example:
          sinkstream bench-runs "$(scripts/fetch-document.sh --all)"
        """)

    @Argument(help: "A long UTF-8 text (at least --lengths' largest value in tokens).")
    var document: String

    @Option(help: "Cache size (sinks + window) for every mode.")
    var cache: Int = 1_024

    @Option(help: "Tokens scored per cached mode.")
    var tokens: Int = 4_096

    @Option(parsing: .upToNextOption, help: "Document lengths (tokens) at which resident memory is read.")
    var lengths: [Int] = [8_192, 32_768]

    @Flag(help: "Also measure checkpoint overhead, bytes per checkpoint and resume time.")
    var checkpoints = false

    @Flag(help: "Print one JSON object.")
    var json = false

    @OptionGroup var options: ModelOptions

    func run() throws {
        let model = try options.load(logger: options.makeLogger())
        let text: String
        do {
            text = try String(contentsOfFile: document, encoding: .utf8)
        } catch {
            throw InputError("\(document): cannot read the document as UTF-8 text: \(error.localizedDescription)",
                             status: FileManager.default.fileExists(atPath: document) ? .dataError : .noInput)
        }
        let needed = max(tokens, lengths.max() ?? 0, cache * 2) + 64
        // Tokenize only as much of the document as the benchmark needs.
        let prefix = String(text.prefix(needed * 8))
        let ids = model.tokenizer.encode(prefix, parseSpecial: false)
        guard ids.count > needed else {
            throw InputError("\(document) has only \(ids.count) tokens in its first \(prefix.count) characters; \(needed) are needed.")
        }
        let streaming = try StreamingBenchmark.run(model: model, tokens: ids, cacheSize: cache, scoreTokens: tokens,
                                                   lengths: lengths, threads: options.threadCount)
        var checkpointFigures: CheckpointBenchmark.Figures?
        if checkpoints {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sinkstream-bench-\(getpid())")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            let doc = dir.appendingPathComponent("doc.txt")
            try Data(String(text.prefix(needed * 8)).utf8).write(to: doc)
            checkpointFigures = try CheckpointBenchmark.run(
                document: doc.path, model: model, mode: .sinkBatch(sinks: 4, window: cache - 4, evict: 256),
                tokens: 8_192, interval: 2_048, defaultInterval: 16_384, threads: options.threadCount, directory: dir)
        }
        if json {
            struct Output: Encodable { var streaming: StreamingBenchmark.Figures; var checkpoints: CheckpointBenchmark.Figures? }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(Output(streaming: streaming, checkpoints: checkpointFigures)), as: UTF8.self))
            return
        }
        print("threads: \(options.threadCount), precision: \(options.precision.rawValue), cache: \(cache)")
        for m in streaming.modes {
            print(String(format: "score %@: %d tokens, %.1f tokens/s", m.mode, m.tokens, m.tokensPerSecond))
        }
        print(String(format: "decode sink(4,%d) full cache: %.2f ms/token", cache - 4, streaming.sinkDecodeMilliseconds))
        print(String(format: "recompute(%d): %.2f ms/token (%.1fx the sink decode)", cache, streaming.recomputeMilliseconds,
                     streaming.recomputeMilliseconds / streaming.sinkDecodeMilliseconds))
        for length in lengths.sorted() {
            print(String(format: "resident after %d tokens: %.1f MiB", length, Double(streaming.residentAfter[length] ?? 0) / 1_048_576))
        }
        if let c = checkpointFigures {
            print(String(format: "checkpoint: %.3f s each (%d tokens, every %d: %.2f s vs %.2f s without)",
                         c.secondsPerCheckpoint, c.tokens, c.interval, c.checkpointedSeconds, c.baselineSeconds))
            print(String(format: "checkpoint overhead at the default interval (%d tokens): %.2f %%", c.defaultInterval, 100 * c.overheadAtDefault))
            for (interval, bytes) in c.bytesPerCheckpoint.sorted(by: { $0.key < $1.key }) {
                print(String(format: "checkpoint bytes after %d tokens: %.2f MiB", interval, Double(bytes) / 1_048_576))
            }
            print(String(format: "resume from a full %d-slot cache: %.3f s", c.cacheTokens, c.resumeSeconds))
        }
    }
}
