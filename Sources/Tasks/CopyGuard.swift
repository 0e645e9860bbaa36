/// Keeps a reply from copying the previous reply, which stays in the rolling window: a small
/// model readily repeats its last answer instead of working on the new section. A token is
/// banned when it would extend an `n`-token run that already occurs in the previous reply
/// (the "no repeated n-gram" rule, applied across replies).
public struct CopyGuard: Codable, Sendable, Equatable {
    /// Length of the n-grams that may not be repeated (0: off).
    public var n: Int

    /// Creates a guard; 0 switches it off.
    public init(n: Int = 6) { self.n = max(0, n) }

    /// The tokens that would complete an `n`-gram of `previous` after the last `n − 1` of `generated`.
    ///
    /// `previous` may be `generated` itself (no n-gram twice in one reply): the tail is never
    /// matched against itself.
    public func banned(generated: [Int32], previous: [Int32]) -> Set<Int32> {
        let k = n - 1
        guard n > 0, k >= 0, generated.count >= k, previous.count >= n else { return [] }
        let tail = generated.suffix(k)
        var out: Set<Int32> = []
        var i = 0
        while i + k < previous.count {
            if previous[i..<(i + k)].elementsEqual(tail) { out.insert(previous[i + k]) }
            i += 1
        }
        return out
    }
}
