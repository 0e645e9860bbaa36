import Foundation
import Kernels
import Streaming

/// The score runs of one comparison (`sinkstream compare`): one configuration per attention
/// mode, over the same document, chunk and checkpoint settings.
///
/// Dense attention cannot go past the model's context, so a dense run stops there (and the
/// comparison reports it up to there); recompute costs a forward over the window per scored
/// position, so it scores every `recomputeStride`-th position only.
public struct ComparisonPlan: Sendable {
    /// One run's configuration and why it differs from the others, if it does.
    public struct Entry: Sendable {
        public var config: ScoreConfiguration
        public var note: String?
    }

    public var entries: [Entry]
    /// The batch id the runs share.
    public var batchID: String
    /// What ratios are taken to: the given baseline, else recompute when it is compared.
    public var baseline: String?

    /// - Parameters:
    ///   - modes: the attention modes, in order.
    ///   - base: the settings every run shares (its `mode`, `tokenLimit` and `recomputeStride` are replaced).
    public init(modes: [AttentionMode], base: ScoreConfiguration, tokens: Int?, recomputeStride: Int,
                contextLength: Int, baseline: String?) {
        batchID = "c" + String(UUID().uuidString.lowercased().prefix(8))
        entries = modes.map { mode in
            var config = base
            config.mode = mode
            config.tokenLimit = tokens
            config.recomputeStride = nil
            var note: String?
            switch mode {
            case .dense where (tokens ?? Int.max) > contextLength:
                config.tokenLimit = contextLength
                note = "dense stops at the model's context length, \(contextLength) tokens; it is compared up to there."
            case .recompute:
                config.recomputeStride = recomputeStride
            default:
                break
            }
            return Entry(config: config, note: note)
        }
        let hasRecompute = modes.contains { if case .recompute = $0 { true } else { false } }
        self.baseline = baseline ?? (hasRecompute ? "recompute" : nil)
    }
}
