extension LossSeries {
    /// Maps a byte range of the document to the token positions whose first byte lies in it.
    ///
    /// Uses binary search on `byteOffsets` (which must be non-decreasing). A byte range that
    /// falls inside a single token maps to an empty token range at that point.
    /// - Returns: absolute token positions, clamped to the scored tokens.
    /// - Throws: `ReportError.missingByteOffsets` when the run stores no offsets.
    public func tokenRange(forBytes bytes: Range<Int64>) throws(ReportError) -> Range<Int> {
        guard let offsets = byteOffsets, !offsets.isEmpty else { throw .missingByteOffsets(run: label) }
        let usable = min(offsets.count, nll.count)
        let lower = Self.firstIndex(in: offsets, count: usable, atLeast: bytes.lowerBound)
        let upper = Self.firstIndex(in: offsets, count: usable, atLeast: bytes.upperBound)
        return (firstToken + lower)..<(firstToken + max(lower, upper))
    }

    /// The byte range covered by the tokens at absolute positions `tokens`, if the offsets reach.
    ///
    /// The end is the next token's offset, else `documentByteCount` right after the last offset.
    public func byteRange(forTokens tokens: Range<Int>) -> Range<Int64>? {
        guard let offsets = byteOffsets else { return nil }
        let lo = tokens.lowerBound - firstToken
        let hi = tokens.upperBound - firstToken
        guard lo >= 0, lo < offsets.count, hi >= lo else { return nil }
        let end: Int64
        if hi < offsets.count {
            end = offsets[hi]
        } else if hi == offsets.count, let total = documentByteCount {
            end = total
        } else {
            return nil
        }
        return offsets[lo]..<max(offsets[lo], end)
    }

    /// Index of the first of `offsets[0..<count]` that is ≥ `value` (`count` if none).
    private static func firstIndex(in offsets: [Int64], count: Int, atLeast value: Int64) -> Int {
        var lo = 0
        var hi = count
        while lo < hi {
            let mid = lo + (hi - lo) / 2
            if offsets[mid] < value { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }
}
