/// Detects a generation stuck in a loop: the last n tokens repeated back to back.
public struct RepetitionGuard: Codable, Sendable, Equatable {
    /// Longest repeated n-gram looked for.
    public var maxN: Int
    /// Repeats (the original included) that count as a loop…
    public var repeats: Int
    /// …provided the repeated stretch is at least this many tokens (so "a a a a" of short
    /// tokens does not trigger as easily as whole repeated phrases).
    public var minimumSpan: Int

    /// Creates a guard; the defaults stop at 4 repeats of a 4-to-64-token phrase, 8 of a pair,
    /// 16 of one token. (A whole repeated sentence is easily over 32 tokens: the default model
    /// once wrote a 33-token sentence eight times into a summary.)
    public init(maxN: Int = 64, repeats: Int = 4, minimumSpan: Int = 16) {
        self.maxN = maxN
        self.repeats = max(2, repeats)
        self.minimumSpan = minimumSpan
    }

    /// How many trailing tokens to drop (all copies but the first) when `ids` ends in a loop; `nil` otherwise.
    public func loopLength(_ ids: [Int32]) -> Int? {
        for n in 1...max(1, maxN) {
            let copies = max(repeats, (minimumSpan + n - 1) / n)
            let span = n * copies
            guard span <= ids.count else { continue }
            let start = ids.count - span
            var periodic = true
            for i in (start + n)..<ids.count where ids[i] != ids[i - n] {
                periodic = false
                break
            }
            if periodic { return span - n }
        }
        return nil
    }
}
