import Foundation
import Model
import Store
import Streaming

/// Measures what persistence costs: checkpoint overhead, bytes per checkpoint, resume time.
public enum CheckpointBenchmark {
    public struct Figures: Sendable, Codable {
        /// Seconds to score `tokens` without intermediate checkpoints.
        public var baselineSeconds: Double
        /// Seconds for the same with a checkpoint every `interval` tokens.
        public var checkpointedSeconds: Double
        public var tokens: Int
        public var interval: Int
        public var checkpoints: Int
        /// Seconds one checkpoint costs (difference divided by the count).
        public var secondsPerCheckpoint: Double
        /// Overhead extrapolated to the default interval (`defaultInterval` tokens).
        public var overheadAtDefault: Double
        public var defaultInterval: Int
        /// Bytes written by one checkpoint for each small interval (tokens → bytes).
        public var bytesPerCheckpoint: [Int: Int]
        /// Seconds to restore a run whose cache is full.
        public var resumeSeconds: Double
        public var cacheTokens: Int
    }

    /// - Parameters:
    ///   - document: a text of at least `tokens` + 1 tokens.
    public static func run(document: String, model: LanguageModel, mode: AttentionMode, tokens: Int, interval: Int,
                           defaultInterval: Int, threads: Int, directory: URL) throws -> Figures {
        let sha = try FileDigest.sha256(path: model.path)
        let store = try RunStore(path: directory.appendingPathComponent("bench-\(UUID().uuidString).sqlite").path)
        func score(every: Int, limit: Int) throws -> (seconds: Double, run: ScoreRun) {
            let config = ScoreConfiguration(mode: mode, precision: model.precision, checkpointEveryTokens: every,
                                            checkpointEverySeconds: 0, tokenLimit: limit)
            let run = try ScoreRun.start(documentPath: document, model: model, modelSHA256: sha, config: config, store: store, threads: threads)
            let t0 = Date()
            _ = try run.run()
            return (Date().timeIntervalSince(t0), run)
        }
        let base = try score(every: 0, limit: tokens)
        let checked = try score(every: interval, limit: tokens)
        let count = max(1, checked.run.checkpointsWritten - 1)
        let perCheckpoint = max(0, checked.seconds - base.seconds) / Double(count)
        let perToken = base.seconds / Double(tokens)
        var bytes: [Int: Int] = [:]
        for small in [64, 128, 256] {
            // Measure a checkpoint in steady state: the cache has filled, then `small` more tokens.
            let config = ScoreConfiguration(mode: mode, precision: model.precision, checkpointEveryTokens: small,
                                            checkpointEverySeconds: 0, tokenLimit: 2_048 + small)
            let run = try ScoreRun.start(documentPath: document, model: model, modelSHA256: sha, config: config, store: store, threads: threads)
            _ = try run.run()
            // The last regular checkpoint (the final one at completion writes nothing new).
            bytes[small] = run.checkpointSizes.dropLast().last ?? 0
        }
        // Resume: pause a run after its cache has filled, then time the restore.
        let config = ScoreConfiguration(mode: mode, precision: model.precision, checkpointEveryTokens: 0, checkpointEverySeconds: 0)
        let paused = try ScoreRun.start(documentPath: document, model: model, modelSHA256: sha, config: config, store: store, threads: threads)
        let cacheTokens = mode.maxVisible(contextLength: model.config.contextLength)
        _ = try paused.run(shouldStop: { paused.scored >= cacheTokens + 512 })
        let t0 = Date()
        _ = try ScoreRun.resume(runID: paused.runID, store: store, model: model, modelSHA256: sha, threads: threads)
        let resumeSeconds = Date().timeIntervalSince(t0)
        return Figures(
            baselineSeconds: base.seconds, checkpointedSeconds: checked.seconds, tokens: tokens, interval: interval,
            checkpoints: count, secondsPerCheckpoint: perCheckpoint,
            overheadAtDefault: perCheckpoint / (perToken * Double(defaultInterval)), defaultInterval: defaultInterval,
            bytesPerCheckpoint: bytes, resumeSeconds: resumeSeconds, cacheTokens: cacheTokens)
    }
}
