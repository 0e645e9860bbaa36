import Model

/// Chooses the next token from logits.
public protocol TokenSampler {
    mutating func next(logits: [Float], banned: Set<Int32>) -> Int32
}

/// Always the most likely token (ties: the lowest id).
public struct GreedySampler: TokenSampler {
    public init() {}
    public mutating func next(logits: [Float], banned: Set<Int32>) -> Int32 {
        var best = -1
        var bestValue = -Float.infinity
        for (i, v) in logits.enumerated() where v > bestValue && !banned.contains(Int32(i)) {
            best = i
            bestValue = v
        }
        return Int32(max(0, best))
    }
}

/// Generates tokens after a prompt through a ``StreamSession`` (the same forward step scoring uses).
public enum Generator {
    /// - Parameters:
    ///   - stop: generation ends after producing one of these (it is included in the result).
    ///   - banned: never produced.
    ///   - onToken: called with each new token as it is chosen.
    /// - Returns: the generated ids.
    public static func generate<S: TokenSampler>(
        session: StreamSession, prompt: [Int32], maxTokens: Int, sampler: inout S,
        stop: Set<Int32>, banned: Set<Int32> = [], onToken: (Int32) -> Void = { _ in }
    ) throws -> [Int32] {
        var logits = try session.process(prompt, logits: true).logits
        var out: [Int32] = []
        while out.count < maxTokens {
            let id = sampler.next(logits: logits, banned: banned)
            out.append(id)
            onToken(id)
            if stop.contains(id) || out.count == maxTokens { break }
            logits = try session.process([id], logits: true).logits
        }
        return out
    }
}
