import ArgumentParser
import Foundation
import Model
import Pipeline
import Report
import Store
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

    @Option(help: ArgumentHelp("Instead of the other figures: score the document as `score` does (default sink mode, a store, checkpoints) and write resident memory every --memory-every tokens to this CSV file, and the curve beside it as SVG (same name, .svg).", valueName: "path.csv"))
    var memoryCurve: String?

    @Option(help: "Tokens the --memory-curve run scores (the document must have that many).")
    var memoryTokens: Int = 1_000_000

    @Option(help: "Tokens between two --memory-curve samples.")
    var memoryEvery: Int = 10_000

    @Option(help: ArgumentHelp("The run store of the --memory-curve run (default: a temporary one, removed at the end).", valueName: "path"))
    var memoryStore: String?

    @Option(help: ArgumentHelp("Continue the --memory-curve run with this id from its last checkpoint in --memory-store, in this new process, keeping the CSV's samples up to that checkpoint.", valueName: "run"))
    var memoryResume: String?

    @OptionGroup var options: ModelOptions

    func validate() throws {
        if memoryTokens < 1 || memoryEvery < 1 { throw ValidationError("Please give --memory-tokens and --memory-every positive numbers.") }
        if memoryResume != nil && memoryStore == nil { throw ValidationError("--memory-resume needs the --memory-store that holds the run.") }
    }

    func run() throws {
        let model = try options.load(logger: options.makeLogger())
        if let memoryCurve { return try runMemoryCurve(model: model, csv: memoryCurve) }
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

    /// `--memory-curve`: a real score run sampled over its length, the CSV flushed as it goes
    /// (a run stopped early still leaves its samples) and the SVG redrawn every 10 samples.
    private func runMemoryCurve(model: LanguageModel, csv: String) throws {
        let fm = FileManager.default
        var temporary: URL?
        let storePath: String
        if let memoryStore {
            storePath = memoryStore
        } else {
            let dir = fm.temporaryDirectory.appendingPathComponent("sinkstream-memory-\(getpid())")
            try fm.createDirectory(at: dir, withIntermediateDirectories: true)
            temporary = dir
            storePath = dir.appendingPathComponent("runs.sqlite").path
        }
        defer { if let temporary { try? fm.removeItem(at: temporary) } }
        let store = try RunStore(path: storePath)
        let config = ScoreConfiguration(
            mode: .sinkBatch(sinks: AttentionOptions.defaultSinks, window: AttentionOptions.defaultWindow, evict: AttentionOptions.defaultEvictionBatch),
            precision: options.precision, chunk: AttentionOptions.defaultChunk, tokenLimit: memoryTokens)
        let modelSHA256 = try FileDigest.sha256(path: model.path)
        let run: ScoreRun
        var samples: [MemoryCurve.Sample] = []
        if let memoryResume {
            run = try ScoreRun.resume(runID: memoryResume, store: store, model: model, modelSHA256: modelSHA256, threads: options.threadCount)
            // The samples the first process took before the checkpoint this one continues from.
            samples = MemoryCurve.parseCSV((try? String(contentsOfFile: csv, encoding: .utf8)) ?? "").filter { $0.tokens <= run.scored }
        } else {
            run = try ScoreRun.start(documentPath: document, model: model, modelSHA256: modelSHA256,
                                     config: config, store: store, threads: options.threadCount)
        }
        let earlier = samples.map(MemoryCurve.csvLine).map { $0 + "\n" }.joined()
        guard fm.createFile(atPath: csv, contents: Data((MemoryCurve.csvHeader + "\n" + earlier).utf8)),
              let handle = FileHandle(forWritingAtPath: csv) else {
            throw InputError("\(csv): cannot create the --memory-curve file: \(String(cString: strerror(errno))).", status: .cannotCreate)
        }
        defer { try? handle.close() }
        handle.seekToEndOfFile()
        let svgPath = (csv as NSString).deletingPathExtension + ".svg"
        let resumedAt = memoryResume.map { _ in ", resumed in a new process at \(NumberText.grouped(run.scored)) tokens" } ?? ""
        let subtitle = "\((model.path as NSString).lastPathComponent), \(config.mode), \(options.precision.rawValue), \(options.threadCount) threads, a sample every \(NumberText.grouped(memoryEvery)) tokens\(resumedAt)"
        func draw() {
            try? Data(MemoryCurve.svg(samples, title: "Resident memory while scoring", subtitle: subtitle).utf8)
                .write(to: URL(fileURLWithPath: svgPath))
        }
        try MemoryCurve.run(run, every: memoryEvery, secondsBefore: samples.last?.seconds ?? 0) { sample in
            samples.append(sample)
            handle.write(Data((MemoryCurve.csvLine(sample) + "\n").utf8))
            if samples.count % 10 == 0 { draw() }
            if !json {
                print(String(format: "%@ tokens: resident %.1f MiB, peak %.1f MiB, %.0f tokens/s", NumberText.grouped(sample.tokens),
                             Double(sample.residentBytes) / 1_048_576, Double(sample.peakBytes) / 1_048_576,
                             Double(sample.tokens) / max(sample.seconds, 1e-9)))
                fflush(nil)
            }
        }
        draw()
        let flat = MemoryCurve.flatness(samples, after: 50_000)
        if json {
            struct Output: Encodable { var samples: Int; var tokens: Int; var flatnessAfter50k: MemoryCurve.Flatness? }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(Output(samples: samples.count, tokens: run.scored, flatnessAfter50k: flat)), as: UTF8.self))
        } else if let flat {
            print(String(format: "after 50,000 tokens: resident %.1f…%.1f MiB (spread %.2f %%), peak %.1f → %.1f MiB (%+.2f %%)",
                         Double(flat.minResident) / 1_048_576, Double(flat.maxResident) / 1_048_576, 100 * flat.spread,
                         Double(flat.peakAtWarmup) / 1_048_576, Double(flat.peakAtEnd) / 1_048_576, 100 * flat.peakGrowth))
        }
        print("wrote \(csv) and \(svgPath)")
    }
}
