import Testing
@testable import Report

@Suite("Sparklines")
struct SparklineTests {
    let glyphs = PerplexityReport.sparkGlyphs

    @Test("output has exactly `width` characters for short, equal and long inputs",
          arguments: [(5, 40), (40, 40), (1_000, 37), (1, 8), (3, 1)])
    func width(count: Int, width: Int) {
        let values = (0..<count).map { Double($0 % 13) }
        #expect(PerplexityReport.sparkline(values, width: width).count == width)
        #expect(PerplexityReport.sparkline(values, width: width, logScale: true).count == width)
    }

    @Test("monotone input gives non-decreasing glyphs spanning ▁ to █", arguments: [false, true])
    func monotone(logScale: Bool) throws {
        var rng = SplitMix64(seed: 5)
        var v = 1.0
        let values = (0..<777).map { _ in v += Double.random(in: 0..<3, using: &rng); return v }
        for width in [10, 60, 777, 1_500] {
            let line = Array(PerplexityReport.sparkline(values, width: width, logScale: logScale))
            let levels = try line.map { try #require(glyphs.firstIndex(of: $0)) }
            #expect(zip(levels, levels.dropFirst()).allSatisfy { $0 <= $1 })
            #expect(levels.first == 0 && levels.last == 7)
        }
    }

    @Test("edge cases: empty input, zero width, constant values, non-finite values")
    func edges() {
        #expect(PerplexityReport.sparkline([], width: 4) == "    ")
        #expect(PerplexityReport.sparkline([1, 2], width: 0) == "")
        #expect(PerplexityReport.sparkline([3, 3, 3], width: 3) == "▁▁▁")
        #expect(PerplexityReport.sparkline([1, .nan, 8], width: 3) == "▁ █")
        #expect(PerplexityReport.sparkline([-1, 10, 100], width: 3, logScale: true) == " ▁█")
    }
}
