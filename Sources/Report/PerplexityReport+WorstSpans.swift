extension PerplexityReport {
    /// The `k` non-overlapping spans of `spanTokens` tokens with the highest mean loss.
    ///
    /// Greedy: all windows are ranked by mean loss (prefix sums in Double), then taken from the
    /// worst down, skipping any that overlap one already taken. Windows containing a NaN (or
    /// −inf) loss are ignored; a +inf loss makes its windows the worst. The reported `meanNLL`
    /// is recomputed by sequential Double summation over the span.
    /// A `spanTokens` larger than the run is clamped to the run.
    /// - Returns: at most `k` spans, worst first (ties: earlier span first); empty for an empty
    ///   run or `k`/`spanTokens` ≤ 0.
    public static func worstSpans(_ series: LossSeries, k: Int, spanTokens: Int) -> [Span] {
        let n = series.nll.count
        guard k > 0, spanTokens > 0, n > 0 else { return [] }
        let length = min(spanTokens, n)
        // Prefix sums of the finite losses, plus counts of NaN and +inf, so one bad value does
        // not poison every later window.
        var prefix = [Double](repeating: 0, count: n + 1)
        var nanCount = [Int](repeating: 0, count: n + 1)
        var infCount = [Int](repeating: 0, count: n + 1)
        for i in 0..<n {
            let v = Double(series.nll[i])
            prefix[i + 1] = prefix[i] + (v.isFinite ? v : 0)
            nanCount[i + 1] = nanCount[i] + (v.isNaN || v == -.infinity ? 1 : 0)
            infCount[i + 1] = infCount[i] + (v == .infinity ? 1 : 0)
        }
        var windows: [(start: Int, mean: Double)] = []
        windows.reserveCapacity(n - length + 1)
        for s in 0...(n - length) where nanCount[s + length] == nanCount[s] {
            let mean = infCount[s + length] > infCount[s]
                ? Double.infinity : (prefix[s + length] - prefix[s]) / Double(length)
            windows.append((s, mean))
        }
        windows.sort { $0.mean != $1.mean ? $0.mean > $1.mean : $0.start < $1.start }

        var taken: [Int] = []  // start indices (relative), at most k
        for w in windows {
            if taken.count == k { break }
            if taken.allSatisfy({ abs($0 - w.start) >= length }) { taken.append(w.start) }
        }
        let spans = taken.map { start -> Span in
            var sum = 0.0
            for i in start..<(start + length) { sum += Double(series.nll[i]) }
            let tokens = (series.firstToken + start)..<(series.firstToken + start + length)
            let bytes = series.byteRange(forTokens: tokens)
            let startByte = bytes?.lowerBound ?? series.byteOffsets.flatMap { start < $0.count ? $0[start] : nil }
            return Span(startToken: tokens.lowerBound, endToken: tokens.upperBound,
                        startByte: startByte, endByte: bytes?.upperBound, meanNLL: sum / Double(length))
        }
        // Re-sort by the exact means (prefix-sum rounding could differ in the last bits).
        return spans.sorted { $0.meanNLL != $1.meanNLL ? $0.meanNLL > $1.meanNLL : $0.startToken < $1.startToken }
    }

    /// Reads the text around each span and splits it into before / span / after.
    ///
    /// Boundaries are nudged to UTF-8 character starts so no character is split between the
    /// parts; invalid UTF-8 decodes leniently as U+FFFD. Spans without a known byte range are skipped.
    /// - Parameters:
    ///   - spans: e.g. from `worstSpans`.
    ///   - contextBytes: bytes to show on each side.
    ///   - read: returns the document bytes of a byte range (fewer at the end of the document).
    public static func excerpts(
        for spans: [Span], contextBytes: Int = 120, read: (Range<Int64>) throws -> [UInt8]
    ) rethrows -> [SpanExcerpt] {
        var out: [SpanExcerpt] = []
        for span in spans {
            guard let bytes = span.byteRange else { continue }
            let context = Int64(max(0, contextBytes))
            let from = max(0, bytes.lowerBound - context)
            let requestedEnd = bytes.upperBound + context
            let data = try read(from..<requestedEnd)
            let truncatedAfter = Int64(data.count) >= requestedEnd - from
            func isContinuation(_ i: Int) -> Bool { i < data.count && data[i] & 0xC0 == 0x80 }
            func snapBack(_ i: Int) -> Int {
                var j = min(max(i, 0), data.count)
                var steps = 0
                while j > 0, isContinuation(j), steps < 3 { j -= 1; steps += 1 }
                return j
            }
            // Leading context starts at a character start; trailing context ends before a cut character.
            var head = 0
            while head < data.count, isContinuation(head), head < 3, from > 0 { head += 1 }
            let spanStart = max(head, snapBack(Int(bytes.lowerBound - from)))
            let spanEnd = max(spanStart, snapBack(Int(bytes.upperBound - from)))
            let tail = truncatedAfter ? max(spanEnd, snapBack(data.count)) : data.count
            func text(_ r: Range<Int>) -> String {
                String(decoding: data[min(r.lowerBound, data.count)..<min(r.upperBound, data.count)], as: UTF8.self)
            }
            out.append(SpanExcerpt(
                span: span,
                before: text(head..<spanStart), text: text(spanStart..<spanEnd), after: text(spanEnd..<tail),
                truncatedBefore: from > 0, truncatedAfter: truncatedAfter
            ))
        }
        return out
    }
}
