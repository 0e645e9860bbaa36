#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Model
import Streaming

/// Issue-4 figures: scoring throughput per attention mode at one cache size, per-token latency
/// of sink decoding against recomputation, and resident memory at two document lengths.
public enum StreamingBenchmark {
    public struct ModeFigure: Sendable, Codable {
        public var mode: String
        public var tokens: Int
        public var tokensPerSecond: Double
    }

    public struct Figures: Sendable, Codable {
        public var cacheSize: Int
        public var modes: [ModeFigure]
        /// Milliseconds per generated token through a full sink cache.
        public var sinkDecodeMilliseconds: Double
        /// Milliseconds per token for `recompute(cacheSize)`.
        public var recomputeMilliseconds: Double
        /// Resident memory after scoring each length (tokens → bytes).
        public var residentAfter: [Int: Int]
    }

    /// - Parameters:
    ///   - tokens: document tokens (at least `max(lengths) + 1`).
    public static func run(model: LanguageModel, tokens: [Int32], cacheSize: Int, scoreTokens: Int, lengths: [Int],
                           threads: Int, chunk: Int = 256) throws -> Figures {
        let sinks = 4, window = cacheSize - sinks
        let modes: [(AttentionMode, Int)] = [
            (.dense, cacheSize), (.window(cacheSize), scoreTokens), (.sink(sinks: sinks, window: window), scoreTokens),
            (.sinkBatch(sinks: sinks, window: window, evict: 256), scoreTokens),
        ]
        var figures: [ModeFigure] = []
        for (mode, count) in modes {
            let engine = InferenceEngine(model: model, threads: threads, maxChunk: chunk,
                                         maxContext: mode.maxVisible(contextLength: model.config.contextLength))
            let slice = Array(tokens.prefix(count + 1))
            let t0 = Date()
            let losses = try TokenScorer.score(tokens: slice, mode: mode, engine: engine)
            figures.append(ModeFigure(mode: mode.description, tokens: losses.count,
                                      tokensPerSecond: Double(losses.count) / Date().timeIntervalSince(t0)))
        }
        // recompute(W): a handful of positions deep in the document.
        let engine = InferenceEngine(model: model, threads: threads, maxChunk: chunk, maxContext: cacheSize)
        let scorer = RecomputeScorer(engine: engine, window: cacheSize)
        let probes = 4
        let t0 = Date()
        _ = scorer.losses(tokens: tokens, range: cacheSize..<(cacheSize + probes))
        let recomputeMs = Date().timeIntervalSince(t0) * 1000 / Double(probes)
        figures.append(ModeFigure(mode: "recompute(\(cacheSize))", tokens: probes, tokensPerSecond: 1000 / recomputeMs))

        // Sink decoding through a full cache: one token at a time with logits, as generation does.
        let decodeEngine = InferenceEngine(model: model, threads: threads, maxChunk: chunk, maxContext: cacheSize)
        let session = try StreamSession(engine: decodeEngine, mode: .sink(sinks: sinks, window: window))
        _ = try session.process(Array(tokens.prefix(cacheSize + 16)))
        let decodeCount = 64
        let t1 = Date()
        for i in 0..<decodeCount { _ = try session.process([tokens[cacheSize + 16 + i]], logits: true) }
        let decodeMs = Date().timeIntervalSince(t1) * 1000 / Double(decodeCount)

        var resident: [Int: Int] = [:]
        for length in lengths {
            let e = InferenceEngine(model: model, threads: threads, maxChunk: chunk, maxContext: cacheSize)
            _ = try TokenScorer.score(tokens: Array(tokens.prefix(length + 1)),
                                      mode: .sinkBatch(sinks: sinks, window: window, evict: 256), engine: e)
            resident[length] = ProcessMemory.residentBytes()
        }
        return Figures(cacheSize: cacheSize, modes: figures, sinkDecodeMilliseconds: decodeMs,
                       recomputeMilliseconds: recomputeMs, residentAfter: resident)
    }
}
