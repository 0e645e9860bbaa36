import Foundation
import Model

/// Progress of a scoring run, reported after every chunk.
public struct ScoreProgress: Sendable {
    /// Losses computed so far.
    public var scored: Int
    /// Sum of those losses (nats).
    public var nllSum: Double
    /// Running perplexity, `exp(nllSum / scored)`.
    public var perplexity: Double { scored == 0 ? .nan : exp(nllSum / Double(scored)) }
}

/// Scores an in-memory token sequence under one attention mode.
///
/// `nll[t] = −ln p(tokens[t+1] | what token t attends to)` for `t = 0 … count−2`.
public enum TokenScorer {
    /// - Parameters:
    ///   - onChunk: called with the new losses after each chunk (for progress and `--nll-out`).
    public static func score(
        tokens: [Int32], mode: AttentionMode, engine: InferenceEngine,
        onChunk: ([Float], ScoreProgress) -> Void = { _, _ in }
    ) throws -> [Float] {
        guard tokens.count >= 2 else { return [] }
        var progress = ScoreProgress(scored: 0, nllSum: 0)
        var all: [Float] = []
        all.reserveCapacity(tokens.count - 1)
        let last = tokens.count - 1  // scored positions: 0..<last
        if case .recompute(let window) = mode {
            let scorer = RecomputeScorer(engine: engine, window: window)
            var start = 0
            while start < last {
                let end = min(last, start + 64)
                let losses = scorer.losses(tokens: tokens, range: start..<end)
                all += losses
                progress.scored += losses.count
                progress.nllSum += losses.reduce(0.0) { $0 + Double($1) }
                onChunk(losses, progress)
                start = end
            }
            return all
        }
        let session = try StreamSession(engine: engine, mode: mode)
        var start = 0
        while start < last {
            let end = min(last, start + engine.maxChunk)
            let chunk = Array(tokens[start..<end])
            let targets = Array(tokens[(start + 1)...end])
            let losses = try session.process(chunk, targets: targets).losses
            all += losses
            progress.scored += losses.count
            progress.nllSum += losses.reduce(0.0) { $0 + Double($1) }
            onChunk(losses, progress)
            start = end
        }
        return all
    }
}
