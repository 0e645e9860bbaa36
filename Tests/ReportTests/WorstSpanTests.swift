import Testing
@testable import Report

@Suite("Worst spans and their text")
struct WorstSpanTests {
    @Test("spans are non-overlapping, sorted worst first, and the first is the global worst window")
    func nonOverlappingSorted() throws {
        let nll = TestData.nll(count: 5_000, seed: 77)
        let series = LossSeries(label: "r", mode: "m", firstToken: 100, nll: nll)
        let spans = PerplexityReport.worstSpans(series, k: 8, spanTokens: 64)
        #expect(spans.count == 8)
        #expect(zip(spans, spans.dropFirst()).allSatisfy { $0.meanNLL >= $1.meanNLL })
        for (i, a) in spans.enumerated() {
            #expect(a.endToken - a.startToken == 64)
            for b in spans[(i + 1)...] { #expect(!a.tokenRange.overlaps(b.tokenRange)) }
            var sum = 0.0
            for t in a.tokenRange { sum += Double(nll[t - 100]) }
            #expect(a.meanNLL == sum / 64)
        }
        // Brute force: no 64-token window has a higher mean than the first span.
        var best = -Double.infinity
        for s in 0...(5_000 - 64) {
            var sum = 0.0
            for i in s..<(s + 64) { sum += Double(nll[i]) }
            best = max(best, sum / 64)
        }
        #expect(abs(spans[0].meanNLL - best) < 1e-12)
    }

    @Test("a planted hard passage is found with its byte range")
    func planted() throws {
        var nll = [Float](repeating: 1, count: 1_000)
        for i in 400..<420 { nll[i] = 9 }
        for i in 700..<710 { nll[i] = 5 }
        let offsets = (0..<1_000).map { Int64($0 * 2) }
        let series = LossSeries(label: "r", mode: "m", nll: nll, byteOffsets: offsets, documentByteCount: 2_000)
        let spans = PerplexityReport.worstSpans(series, k: 2, spanTokens: 20)
        #expect(spans.map(\.startToken) == [400, 690])
        #expect(spans[0].byteRange == 800..<840)
        #expect(spans[0].meanNLL == 9)
        #expect(try series.tokenRange(forBytes: try #require(spans[0].byteRange)) == spans[0].tokenRange)
    }

    @Test("edge cases: k or span ≤ 0, empty run, span longer than the run, NaN windows")
    func edges() {
        let s = LossSeries(label: "r", mode: "m", nll: [1, 2, 3])
        #expect(PerplexityReport.worstSpans(s, k: 0, spanTokens: 2).isEmpty)
        #expect(PerplexityReport.worstSpans(s, k: 2, spanTokens: 0).isEmpty)
        #expect(PerplexityReport.worstSpans(LossSeries(label: "e", mode: "m", nll: []), k: 2, spanTokens: 2).isEmpty)
        let whole = PerplexityReport.worstSpans(s, k: 3, spanTokens: 10)
        #expect(whole.count == 1 && whole[0].tokenRange == 0..<3 && whole[0].meanNLL == 2)
        let withNaN = LossSeries(label: "n", mode: "m", nll: [1, .nan, 1, 7, 7, 1])
        #expect(PerplexityReport.worstSpans(withNaN, k: 1, spanTokens: 2).first?.tokenRange == 3..<5)
    }

    @Test("excerpts mark the span, add context, and decode invalid or cut UTF-8 leniently")
    func excerpts() throws {
        let document = Array("Der Bär läuft über die Brücke.\nEnde.".utf8) + [0xFF, 0x41]
        // Byte offsets of ASCII-ish "tokens": one per 3 bytes (some cut through 2-byte letters).
        let offsets = stride(from: 0, to: document.count, by: 3).map(Int64.init)
        let series = LossSeries(label: "r", mode: "m", nll: .init(repeating: 1, count: offsets.count),
                                byteOffsets: offsets, documentByteCount: Int64(document.count))
        let span = Span(startToken: 4, endToken: 6, startByte: 12, endByte: 18, meanNLL: 1)
        let read: (Range<Int64>) -> [UInt8] = { r in
            Array(document[Int(min(r.lowerBound, Int64(document.count)))..<Int(min(r.upperBound, Int64(document.count)))])
        }
        let e = try #require(PerplexityReport.excerpts(for: [span], contextBytes: 5, read: read).first)
        #expect(!e.text.contains("\u{FFFD}") && !e.before.contains("\u{FFFD}") && !e.after.contains("\u{FFFD}"))
        #expect(e.truncatedBefore && e.truncatedAfter)
        #expect(e.marked().hasPrefix("…") && e.marked().contains("»") && e.marked().contains("«"))
        #expect((e.before + e.text + e.after).utf8.count <= 6 + 5 + 5 + 2)

        // The whole document: invalid byte becomes U+FFFD, newline shown as ⏎ on one line.
        let all = Span(startToken: 0, endToken: series.scoredTokens, startByte: 0, endByte: Int64(document.count), meanNLL: 1)
        let full = try #require(PerplexityReport.excerpts(for: [all], contextBytes: 10, read: read).first)
        #expect(full.text == "Der Bär läuft über die Brücke.\nEnde.\u{FFFD}A")
        #expect(!full.truncatedBefore && !full.truncatedAfter)
        #expect(full.marked() == "»Der Bär läuft über die Brücke.⏎Ende.\u{FFFD}A«")
        #expect(full.marked(singleLine: false).contains("\n"))

        // Spans without bytes are skipped.
        let noBytes = Span(startToken: 0, endToken: 1, startByte: nil, endByte: nil, meanNLL: 1)
        #expect(PerplexityReport.excerpts(for: [noBytes], read: read).isEmpty)
    }
}
