import Foundation
import Streaming

/// Chooses tokens greedily or by temperature / top-k / top-p sampling with a ``Xoshiro256``
/// generator. Deterministic: candidates are ordered by logit then id and probabilities are
/// summed in that order in double precision, so the same logits and state give the same token.
public struct TaskSampler: TokenSampler {
    public let configuration: SamplingConfiguration
    /// The generator; save its ``Xoshiro256/data`` in a checkpoint.
    public var generator: Xoshiro256

    /// - Parameter generator: a restored generator, or `nil` to seed one from the configuration.
    public init(_ configuration: SamplingConfiguration, generator: Xoshiro256? = nil) {
        self.configuration = configuration
        self.generator = generator ?? Xoshiro256(seed: configuration.seed)
    }

    public mutating func next(logits: [Float], banned: Set<Int32>) -> Int32 {
        if configuration.isGreedy {
            var greedy = GreedySampler()
            return greedy.next(logits: logits, banned: banned)
        }
        var candidates: [Int32] = []
        candidates.reserveCapacity(logits.count)
        for i in logits.indices where !banned.contains(Int32(i)) && logits[i].isFinite { candidates.append(Int32(i)) }
        guard !candidates.isEmpty else { return 0 }
        let k = configuration.topK > 0 ? min(configuration.topK, candidates.count) : candidates.count
        let ordered = { (a: Int32, b: Int32) -> Bool in
            let x = logits[Int(a)], y = logits[Int(b)]
            return x != y ? x > y : a < b
        }
        if k < candidates.count {
            // Partial selection: keep the k best in order.
            var best: [Int32] = []
            best.reserveCapacity(k + 1)
            for c in candidates {
                if best.count == k, let last = best.last, !ordered(c, last) { continue }
                var lo = 0, hi = best.count
                while lo < hi { let mid = (lo + hi) / 2; if ordered(best[mid], c) { lo = mid + 1 } else { hi = mid } }
                best.insert(c, at: lo)
                if best.count > k { best.removeLast() }
            }
            candidates = best
        } else {
            candidates.sort(by: ordered)
        }
        let top = Double(logits[Int(candidates[0])])
        let t = configuration.temperature
        var weights = candidates.map { exp((Double(logits[Int($0)]) - top) / t) }
        let total = weights.reduce(0, +)
        if configuration.topP < 1 {
            var cumulative = 0.0
            var keep = weights.count
            for (i, w) in weights.enumerated() {
                cumulative += w
                if cumulative >= configuration.topP * total { keep = i + 1; break }
            }
            weights.removeSubrange(keep...)
        }
        let mass = weights.reduce(0, +)
        var u = generator.nextUnit() * mass
        for (i, w) in weights.enumerated() {
            u -= w
            if u < 0 { return candidates[i] }
        }
        return candidates[weights.count - 1]
    }
}
