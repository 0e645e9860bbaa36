import Foundation
import Testing
@testable import Report

@Suite("Buckets: exact sums, ranges and errors")
struct BucketTests {
    @Test("buckets over a whole run equal an independent recomputation, including the partial last bucket",
          arguments: [(1_000, 64), (4_321, 1_024), (7, 3), (500, 500), (333, 1_000)])
    func wholeRun(count: Int, size: Int) throws {
        let nll = TestData.nll(count: count, seed: UInt64(count * 31 + size))
        let series = LossSeries(label: "sink(4,1020)", mode: "sink", nll: nll)
        let buckets = try PerplexityReport.buckets(series, size: size, range: nil)
        let expected = TestData.referenceBuckets(nll, firstToken: 0, range: 0..<count, size: size)
        #expect(buckets == expected)
        #expect(buckets.count == (count + size - 1) / size)
        #expect(buckets.last?.count == (count % size == 0 ? size : count % size))
        #expect(buckets.map(\.count).reduce(0, +) == count)
    }

    @Test("a sub-range starts its grid and cumulative sum at the range start")
    func subRange() throws {
        let nll = TestData.nll(count: 3_000, seed: 7)
        let series = LossSeries(label: "run", mode: "window", nll: nll)
        let buckets = try PerplexityReport.buckets(series, size: 100, range: 1_234..<2_001)
        #expect(buckets == TestData.referenceBuckets(nll, firstToken: 0, range: 1_234..<2_001, size: 100))
        #expect(buckets.first?.startToken == 1_234)
        #expect(buckets.last?.endToken == 2_001)
        #expect(buckets.first?.cumulativePPL == buckets.first?.ppl)
    }

    @Test("a run starting after token 0 uses absolute positions")
    func firstTokenOffset() throws {
        let nll = TestData.nll(count: 900, seed: 9)
        let series = LossSeries(label: "resumed", mode: "sink", firstToken: 5_000, nll: nll)
        let buckets = try PerplexityReport.buckets(series, size: 256, range: 5_100..<5_900)
        #expect(buckets == TestData.referenceBuckets(nll, firstToken: 5_000, range: 5_100..<5_900, size: 256))
        #expect(throws: ReportError.rangeOutsideRun(0..<100, run: "resumed", available: 5_000..<5_900)) {
            try PerplexityReport.buckets(series, size: 10, range: 0..<100)
        }
    }

    @Test("overall perplexity is exp of the sequential mean and matches the last cumulative value")
    func overall() throws {
        let nll = TestData.nll(count: 2_049, seed: 11)
        let series = LossSeries(label: "r", mode: "dense", nll: nll)
        var sum = 0.0
        for v in nll { sum += Double(v) }
        let ppl = try PerplexityReport.perplexity(series)
        #expect(ppl == exp(sum / 2_049))
        #expect(try PerplexityReport.buckets(series, size: 512).last?.cumulativePPL == ppl)
    }

    @Test("errors: empty run, range outside, empty range, bad bucket size, with sentence messages")
    func errors() throws {
        let empty = LossSeries(label: "sink(4,1020)", mode: "sink", nll: [], status: "running")
        #expect(throws: ReportError.emptySeries(run: "sink(4,1020)")) {
            try PerplexityReport.buckets(empty, size: 10)
        }
        #expect(ReportError.emptySeries(run: "X").description == "Run X has no scored tokens yet.")

        let series = LossSeries(label: "sink", mode: "sink", nll: TestData.nll(count: 4_321, seed: 1))
        do {
            _ = try PerplexityReport.buckets(series, size: 100, range: 5_000..<9_000)
            Issue.record("expected an error")
        } catch {
            #expect(error == .rangeOutsideRun(5_000..<9_000, run: "sink", available: 0..<4_321))
            #expect(error.description.contains("5000:9000"))
            #expect(error.description.contains("4,321 scored tokens"))
            #expect(error.description.hasSuffix("."))
        }
        #expect(throws: ReportError.emptyRange(10..<10)) { try PerplexityReport.buckets(series, size: 5, range: 10..<10) }
        #expect(throws: ReportError.invalidBucketSize(0)) { try PerplexityReport.buckets(series, size: 0) }
        #expect(throws: ReportError.invalidBucketSize(-4)) { try PerplexityReport.buckets(series, size: -4) }
        #expect(ReportError.invalidBucketSize(0).code == "invalid-bucket-size")
    }

    @Test("a huge bucket size gives one bucket without overflow")
    func hugeSize() throws {
        let series = LossSeries(label: "r", mode: "m", firstToken: 10, nll: [1, 2, 3])
        let buckets = try PerplexityReport.buckets(series, size: Int.max)
        #expect(buckets.count == 1)
        #expect(buckets[0].startToken == 10 && buckets[0].endToken == 13)
        #expect(buckets[0].meanNLL == 2)
    }
}
