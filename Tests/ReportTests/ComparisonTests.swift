import Foundation
import Testing
@testable import Report

@Suite("Comparison of several runs on shared buckets")
struct ComparisonTests {
    let dense = LossSeries(label: "dense", mode: "dense", nll: TestData.nll(count: 5_000, seed: 21))
    let sink = LossSeries(label: "sink(4,1020)", mode: "sink", nll: TestData.nll(count: 5_000, seed: 22), cacheCapacity: 1_024)
    let window = LossSeries(label: "window(1024)", mode: "window", nll: TestData.nll(count: 3_500, seed: 23),
                            status: "running (interrupted at token 3,500)")

    @Test("runs of different lengths line up by token position; the short run ends with a partial cell")
    func lineUp() throws {
        let c = try PerplexityReport.compare([dense, sink, window], bucketSize: 1_000)
        #expect(c.rows.map(\.startToken) == [0, 1_000, 2_000, 3_000, 4_000])
        #expect(c.rows.allSatisfy { $0.cells.count == 3 })
        #expect(c.rows[3].cells[2]?.count == 500)
        #expect(c.rows[4].cells[2] == nil)
        #expect(c.rows[4].cells[1]?.count == 1_000)
        // Each run's cells are exactly its own buckets on the shared grid.
        let windowBuckets = try PerplexityReport.buckets(window, size: 1_000)
        #expect(c.runs[2].buckets == windowBuckets)
        #expect(zip(c.rows, windowBuckets).allSatisfy { $0.0.cells[2]?.ppl == $0.1.ppl })
        #expect(c.runs[2].ppl == windowBuckets.last?.cumulativePPL)
    }

    @Test("ratios are ppl over the baseline's ppl in the same row; baseline picked by label or mode")
    func ratios() throws {
        let c = try PerplexityReport.compare([sink, window, dense], bucketSize: 700, baseline: "dense")
        #expect(c.baselineIndex == 2)
        for row in c.rows {
            let base = try #require(row.cells[2]).ppl
            #expect(row.cells[2]?.ratio == 1)
            #expect(row.cells[0]?.ratio == row.cells[0].map { $0.ppl / base })
        }
        #expect(try PerplexityReport.compare([sink, window], bucketSize: 700, baseline: "window").baselineIndex == 1)
        #expect(throws: ReportError.unknownBaseline("recompute", available: ["sink(4,1020)", "dense"])) {
            try PerplexityReport.compare([sink, dense], bucketSize: 10, baseline: "recompute")
        }
    }

    @Test("a baseline missing from a row gives no ratio there")
    func missingBaseline() throws {
        let c = try PerplexityReport.compare([window, dense], bucketSize: 1_000)
        #expect(c.rows[4].cells[0] == nil)
        #expect(c.rows[4].cells[1] != nil && c.rows[4].cells[1]?.ratio == nil)
        #expect(c.table().contains("—"))
    }

    @Test("comparison CSV (quoted labels) and JSON carry the same numbers as the cells")
    func renderers() throws {
        let c = try PerplexityReport.compare([dense, sink, window], bucketSize: 1_024, range: 100..<4_900)
        let lines = c.csv().split(separator: "\n")
        #expect(lines.first.map(String.init) == Comparison.csvHeader)
        var seen = 0
        for line in lines.dropFirst() {
            let f = TestData.csvFields(line)
            try #require(f.count == 8)
            let start = try #require(Int(f[0]))
            let row = try #require(c.rows.first { $0.startToken == start })
            let runIndex = try #require(c.runs.firstIndex { $0.label == f[2] })
            let cell = try #require(row.cells[runIndex])
            #expect(Int(f[1]) == row.endToken && Int(f[4]) == cell.count)
            #expect(Double(f[5]) == cell.meanNLL && Double(f[6]) == cell.ppl)
            #expect(f[7].isEmpty ? cell.ratio == nil : Double(f[7]) == cell.ratio)
            seen += 1
        }
        #expect(seen == c.rows.reduce(0) { $0 + $1.cells.compactMap { $0 }.count })
        #expect(lines.contains { $0.contains("\"sink(4,1020)\"") })

        let object = try #require(try JSONSerialization.jsonObject(with: Data(c.json().utf8)) as? [String: Any])
        #expect((object["bucket_size"] as? NSNumber)?.intValue == 1_024)
        #expect(object["baseline"] as? String == "dense")
        let runs = try #require(object["runs"] as? [[String: Any]])
        #expect(runs.map { $0["label"] as? String } == ["dense", "sink(4,1020)", "window(1024)"])
        for (i, run) in runs.enumerated() {
            let buckets = try #require(run["buckets"] as? [[String: Any]])
            let ratios = try #require(run["ratios"] as? [Any])
            #expect(buckets.count == c.runs[i].buckets.count && ratios.count == buckets.count)
            for (json, b) in zip(buckets, c.runs[i].buckets) {
                #expect(TestData.jsonDouble(json["ppl"]) == b.ppl)
                #expect(TestData.jsonDouble(json["mean_nll"]) == b.meanNLL)
            }
            #expect(TestData.jsonDouble(run["ppl"]) == c.runs[i].ppl)
        }
    }

    @Test("the table names every run, marks the baseline and aligns rows")
    func table() throws {
        let c = try PerplexityReport.compare([dense, window], bucketSize: 1_000)
        let text = c.table()
        #expect(text.contains("dense (baseline)"))
        #expect(text.contains("window(1024)/dense"))
        #expect(text.contains("running (interrupted at token 3,500)"))
        #expect(text.contains("* the run covers only part of this bucket"))
    }

    @Test("comparison errors: no runs, an empty run, a bad size, a range outside every run")
    func errors() {
        #expect(throws: ReportError.noSeries) { try PerplexityReport.compare([], bucketSize: 10) }
        let empty = LossSeries(label: "new", mode: "sink", nll: [])
        #expect(throws: ReportError.emptySeries(run: "new")) { try PerplexityReport.compare([dense, empty], bucketSize: 10) }
        #expect(throws: ReportError.invalidBucketSize(0)) { try PerplexityReport.compare([dense], bucketSize: 0) }
        #expect(throws: ReportError.rangeOutsideRuns(4_000..<6_000, available: 0..<5_000)) {
            try PerplexityReport.compare([dense, window], bucketSize: 10, range: 4_000..<6_000)
        }
    }
}
