import Testing
@testable import Report

@Suite("Byte ranges to token ranges")
struct ByteRangeTests {
    // Tokens start at bytes 0, 3, 4, 10, 11, 20 (6 tokens scored); the document is 25 bytes.
    let series = LossSeries(label: "doc", mode: "sink", nll: [1, 2, 3, 4, 5, 6],
                            byteOffsets: [0, 3, 4, 10, 11, 20], documentByteCount: 25)

    @Test("tokens whose first byte lies in the range", arguments: [
        (Int64(0)..<Int64(25), 0..<6), (3..<11, 1..<4), (4..<5, 2..<3), (5..<10, 3..<3),
        (0..<1, 0..<1), (21..<25, 6..<6), (11..<21, 4..<6), (100..<200, 6..<6),
    ])
    func mapping(bytes: Range<Int64>, tokens: Range<Int>) throws {
        #expect(try series.tokenRange(forBytes: bytes) == tokens)
    }

    @Test("positions are absolute when the run starts later, and agree with a linear scan")
    func offsetRun() throws {
        var offsets: [Int64] = []
        var b: Int64 = 1_000
        for i in 0..<500 { offsets.append(b); b += Int64(1 + i % 7) }
        let s = LossSeries(label: "r", mode: "m", firstToken: 2_000, nll: .init(repeating: 1, count: 500), byteOffsets: offsets)
        for (lo, hi) in [(Int64(0), Int64(1_001)), (1_050, 1_400), (1_399, 1_400), (2_000, 9_000)] {
            let expectedLo = offsets.firstIndex { $0 >= lo } ?? 500
            let expectedHi = offsets.firstIndex { $0 >= hi } ?? 500
            #expect(try s.tokenRange(forBytes: lo..<hi) == (2_000 + expectedLo)..<(2_000 + max(expectedLo, expectedHi)))
        }
    }

    @Test("token ranges map back to byte ranges, closing the last token with the document length")
    func backToBytes() {
        #expect(series.byteRange(forTokens: 1..<3) == 3..<10)
        #expect(series.byteRange(forTokens: 4..<6) == 11..<25)
        let noLength = LossSeries(label: "x", mode: "m", nll: [1, 2], byteOffsets: [0, 5])
        #expect(noLength.byteRange(forTokens: 0..<2) == nil)
        #expect(noLength.byteRange(forTokens: 0..<1) == 0..<5)
    }

    @Test("a run without byte offsets throws a sentence naming it")
    func missingOffsets() {
        let s = LossSeries(label: "sink(4,1020)", mode: "sink", nll: [1])
        #expect(throws: ReportError.missingByteOffsets(run: "sink(4,1020)")) { try s.tokenRange(forBytes: 0..<10) }
        #expect(ReportError.missingByteOffsets(run: "A").description.hasPrefix("Run A has no byte offsets"))
    }
}
