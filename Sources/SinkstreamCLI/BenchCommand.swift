import ArgumentParser
import Foundation
import Kernels
import Model
import Streaming

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure prefill and decode speed, peak memory and kernel throughput.",
        discussion: """
            Prefill and decode lines start with the benchmark name and end with 'N tokens/s'; \
            'prefill: pp512' and 'decode: tg128' are the figures of llama-bench -p 512 -n 128. \
            Attention is dense, over a cache sized to the benchmark's tokens (as llama-bench sizes \
            its context). Peak memory is the process's maximum resident size so far (getrusage), so it only grows \
            from one benchmark to the next. Use a release build on a quiet machine.
            """)

    @Option(parsing: .upToNextOption, help: "Prompt sizes for the prefill benchmarks.")
    var prefill: [Int] = [128, 512, 1024]

    @Option(help: "Tokens generated in each decode benchmark.")
    var decode: Int = 128

    @Option(parsing: .upToNextOption, help: "Tokens already in the cache before each decode benchmark.")
    var depth: [Int] = [0, 256, 1024]

    @Option(help: "Repetitions (the best is reported).")
    var repeats: Int = 3

    @Flag(help: "Skip the kernel micro-benchmark.")
    var noKernels = false

    @Flag(help: "Run only the kernel micro-benchmark (GOP/s per weight format and instruction set; no model needed).")
    var kernels = false

    @Flag(help: "Print one JSON document instead of text lines.")
    var json = false

    @OptionGroup var options: ModelOptions

    func validate() throws {
        if prefill.isEmpty || prefill.contains(where: { $0 < 1 || $0 > 8192 }) {
            throw ValidationError("Please give --prefill sizes between 1 and 8192.")
        }
        if decode < 1 || decode > 8192 { throw ValidationError("Please give --decode a value between 1 and 8192.") }
        if depth.contains(where: { $0 < 0 || $0 > 8000 }) { throw ValidationError("Please give --depth values between 0 and 8000.") }
        if repeats < 1 { throw ValidationError("Please give --repeats a value of 1 or more.") }
    }

    /// One model benchmark's result.
    struct Figure: Codable {
        var name: String
        var kind: String
        var tokens: Int
        var depth: Int
        var tokensPerSecond: Double
        var peakMemoryMiB: Double
    }

    struct Report: Codable {
        var model: String
        var threads: Int
        var precision: String
        var kernels: String
        var benchmarks: [Figure]
        var kernelBenchmarks: [KernelBenchmark.Figure]
        /// Decode work items the calling thread re-ran because the thread holding them was
        /// descheduled (0 on a quiet machine; see ThreadPool.parallelSpeculative).
        var reclaimedItems: Int
        /// The CPU each thread is pinned to (the calling thread first), or nil if not pinned.
        var pinnedCPUs: [Int]?
    }

    func run() throws {
        if kernels {
            let figures = KernelBenchmark.measure()
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                print(String(decoding: try encoder.encode(figures), as: UTF8.self))
            } else {
                print("kernels: \(KernelInfo.isaName) selected; single thread")
                Self.printKernelFigures(figures)
            }
            return
        }
        let model = try options.load(logger: options.makeLogger())
        let threads = options.threadCount
        let contextLimit = model.config.contextLength
        guard (depth.max() ?? 0) + decode + 1 <= contextLimit, (prefill.max() ?? 0) <= contextLimit else {
            throw InputError("Please keep the prefill sizes and depth + decode within the model's context of \(contextLimit) tokens.", status: .usage)
        }
        let vocab = Int32(model.config.vocabularySize)
        var rng = SystemRandomNumberGenerator()
        let longest = max(prefill.max() ?? 1, (depth.max() ?? 0) + decode + 1)
        let tokens = (0..<longest).map { _ in Int32.random(in: 100..<vocab, using: &rng) }
        if !json {
            print("model: \(model.path)")
            print("threads: \(threads), precision: \(options.precision.rawValue), kernels: \(KernelInfo.isaName)")
        }
        let maxChunk = min(1024, prefill.max() ?? 512)
        let engine = InferenceEngine(model: model, threads: threads, maxChunk: maxChunk, maxContext: longest + 1)
        if !json {
            let pinned = engine.pool.pinnedCPUs.map { "pinned to CPUs " + $0.map(String.init).joined(separator: ", ") }
            print("threads: \(pinned ?? "not pinned (SINKSTREAM_PIN=0, or not one thread per allowed CPU)")")
        }
        var figures: [Figure] = []

        for size in prefill {
            var best = 0.0
            for _ in 0..<repeats {
                // A window as long as the benchmark never evicts, so this is dense attention with
                // a cache sized to the tokens, as llama-bench sizes its context.
                let session = try StreamSession(engine: engine, mode: .window(size))
                let t0 = Date()
                _ = try session.process(Array(tokens[0..<size]), logits: true)
                best = max(best, Double(size) / Date().timeIntervalSince(t0))
            }
            let figure = Figure(name: "pp\(size)", kind: "prefill", tokens: size, depth: 0, tokensPerSecond: best,
                                peakMemoryMiB: Self.peakMemoryMiB())
            figures.append(figure)
            if !json {
                print(String(format: "prefill: pp%d %.1f tokens/s", size, best))
                print(String(format: "memory: pp%d peak %.1f MiB", size, figure.peakMemoryMiB))
            }
        }

        for cached in depth {
            var best = 0.0
            for _ in 0..<repeats {
                let session = try StreamSession(engine: engine, mode: .window(cached + 1 + decode))
                _ = try session.process(Array(tokens[0...cached]), logits: true)
                let t0 = Date()
                for i in 0..<decode { _ = try session.process([tokens[cached + 1 + i]], logits: true) }
                best = max(best, Double(decode) / Date().timeIntervalSince(t0))
            }
            let name = cached == 0 ? "tg\(decode)" : "tg\(decode)@d\(cached)"
            let figure = Figure(name: name, kind: "decode", tokens: decode, depth: cached, tokensPerSecond: best,
                                peakMemoryMiB: Self.peakMemoryMiB())
            figures.append(figure)
            if !json {
                print(String(format: "decode: %@ %.1f tokens/s", name, best))
                print(String(format: "memory: %@ peak %.1f MiB", name, figure.peakMemoryMiB))
            }
        }

        if !json, !depth.isEmpty {
            print("threads: \(engine.pool.reclaimedItems) decode items re-run in place of a descheduled thread")
        }

        var kernelFigures: [KernelBenchmark.Figure] = []
        if !noKernels {
            kernelFigures = KernelBenchmark.measure()
            if !json { Self.printKernelFigures(kernelFigures) }
        }
        if json {
            let report = Report(model: model.path, threads: threads, precision: options.precision.rawValue,
                                kernels: KernelInfo.isaName, benchmarks: figures, kernelBenchmarks: kernelFigures,
                                reclaimedItems: engine.pool.reclaimedItems, pinnedCPUs: engine.pool.pinnedCPUs)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        }
    }

    /// One line per kernel figure: `kernel: <isa> <format> <rows>x<cols> ntok <n>: <g> GOP/s`.
    static func printKernelFigures(_ figures: [KernelBenchmark.Figure]) {
        for k in figures {
            print(String(format: "kernel: %@ %@ %dx%d ntok %d: %.1f GOP/s", k.isa, k.type, k.rows, k.cols, k.tokens, k.gops))
        }
    }

    /// The process's peak resident size so far, in MiB (Linux reports ru_maxrss in KiB).
    static func peakMemoryMiB() -> Double {
        var usage = rusage()
        #if os(Linux)
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        return Double(usage.ru_maxrss) / 1024
        #else
        getrusage(RUSAGE_SELF, &usage)
        return Double(usage.ru_maxrss) / (1024 * 1024)
        #endif
    }
}
