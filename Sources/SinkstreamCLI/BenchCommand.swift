import ArgumentParser
import Foundation
import Kernels
import Model
import Streaming

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure prefill and decode speed (the figures of llama-bench -p 512 -n 128).",
        discussion: "Lines start with the benchmark name and end with 'N tokens/s'. Use a release build.")

    @Option(help: "Prompt tokens for the prefill benchmark.")
    var prefill: Int = 512

    @Option(help: "Tokens for the decode benchmark.")
    var decode: Int = 128

    @Option(help: "Repetitions (the best is reported).")
    var repeats: Int = 3

    @OptionGroup var options: ModelOptions

    func run() throws {
        let model = try options.load(logger: options.makeLogger())
        let threads = options.threadCount
        let vocab = Int32(model.config.vocabularySize)
        var rng = SystemRandomNumberGenerator()
        let tokens = (0..<prefill).map { _ in Int32.random(in: 100..<vocab, using: &rng) }
        print("model: \(model.path)")
        print("threads: \(threads), precision: \(options.precision.rawValue), kernels: \(KernelInfo.isaName)")

        let engine = InferenceEngine(model: model, threads: threads, maxChunk: prefill, maxContext: prefill + decode + 1)
        var best = 0.0
        for _ in 0..<repeats {
            let session = try StreamSession(engine: engine, mode: .dense)
            let t0 = Date()
            _ = try session.process(tokens, logits: true)
            best = max(best, Double(prefill) / Date().timeIntervalSince(t0))
        }
        print(String(format: "prefill: pp%d %.1f tokens/s", prefill, best))

        best = 0
        for _ in 0..<repeats {
            let session = try StreamSession(engine: engine, mode: .dense)
            _ = try session.process([tokens[0]], logits: true)
            let t0 = Date()
            for i in 0..<decode { _ = try session.process([tokens[(i + 1) % tokens.count]], logits: true) }
            best = max(best, Double(decode) / Date().timeIntervalSince(t0))
        }
        print(String(format: "decode: tg%d %.1f tokens/s", decode, best))
    }
}
