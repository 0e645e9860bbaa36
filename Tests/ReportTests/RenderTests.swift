import Foundation
import Testing
@testable import Report

@Suite("Renderers: CSV and JSON carry the bucket values exactly")
struct RenderTests {
    let buckets: [Bucket]

    init() throws {
        let series = LossSeries(label: "r", mode: "sink", nll: TestData.nll(count: 12_345, seed: 3))
        buckets = try PerplexityReport.buckets(series, size: 1_000)
    }

    @Test("CSV has the header first and every field parses back to the identical Double")
    func csvRoundTrip() throws {
        let lines = PerplexityReport.csv(buckets).split(separator: "\n")
        #expect(lines.first == "start_token,end_token,count,mean_nll,ppl,cumulative_ppl")
        #expect(lines.count == buckets.count + 1)
        for (line, b) in zip(lines.dropFirst(), buckets) {
            let f = line.split(separator: ",").map(String.init)
            try #require(f.count == 6)
            #expect(Int(f[0]) == b.startToken && Int(f[1]) == b.endToken && Int(f[2]) == b.count)
            #expect(Double(f[3]) == b.meanNLL)
            #expect(Double(f[4]) == b.ppl)
            #expect(Double(f[5]) == b.cumulativePPL)
        }
    }

    @Test("JSON parses with JSONSerialization to the same numbers and keys")
    func jsonRoundTrip() throws {
        let data = Data(PerplexityReport.json(buckets).utf8)
        let array = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
        #expect(array.count == buckets.count)
        for (object, b) in zip(array, buckets) {
            #expect(Set(object.keys) == ["start_token", "end_token", "count", "mean_nll", "ppl", "cumulative_ppl"])
            #expect((object["start_token"] as? NSNumber)?.intValue == b.startToken)
            #expect((object["end_token"] as? NSNumber)?.intValue == b.endToken)
            #expect(TestData.jsonDouble(object["mean_nll"]) == b.meanNLL)
            #expect(TestData.jsonDouble(object["ppl"]) == b.ppl)
            #expect(TestData.jsonDouble(object["cumulative_ppl"]) == b.cumulativePPL)
        }
        // Codable uses the same keys, so a decoder reads our JSON back into identical buckets.
        #expect(try JSONDecoder().decode([Bucket].self, from: data) == buckets)
    }

    @Test("an empty bucket list is still valid JSON and a header-only CSV")
    func emptyOutputs() throws {
        let parsed = try JSONSerialization.jsonObject(with: Data(PerplexityReport.json([]).utf8)) as? [Any]
        #expect(parsed?.isEmpty == true)
        #expect(PerplexityReport.csv([]) == PerplexityReport.csvHeader + "\n")
    }

    @Test("the table groups thousands and aligns every row to the same width")
    func table() {
        let series = LossSeries(label: "sink(4,1020)", mode: "sink", nll: [1], status: "completed")
        let text = PerplexityReport.table(buckets, series: series)
        let lines = text.split(separator: "\n")
        #expect(lines[0].contains("sink(4,1020)") && lines[0].contains("mode sink"))
        #expect(text.contains("12,000") && text.contains("12,345"))
        let rowWidths = Set(lines.dropFirst().map(\.count))
        #expect(rowWidths.count == 1)
        #expect(lines.count == buckets.count + 3)
    }

    @Test("number helpers: grouping, fixed decimals, JSON escaping, CSV quoting")
    func numberText() {
        #expect(NumberText.grouped(0) == "0")
        #expect(NumberText.grouped(999) == "999")
        #expect(NumberText.grouped(1_024) == "1,024")
        #expect(NumberText.grouped(-1_234_567) == "-1,234,567")
        #expect(NumberText.fixed(12_345.678, decimals: 2) == "12,345.68")
        #expect(NumberText.fixed(.nan, decimals: 2) == "nan")
        #expect(NumberText.json(.infinity) == "null")
        #expect(NumberText.jsonString("a\"b\\\n\u{1}") == "\"a\\\"b\\\\\\n\\u0001\"")
        #expect(NumberText.csvField("sink(4,1020)") == "\"sink(4,1020)\"")
        #expect(NumberText.csvField("dense") == "dense")
        #expect(NumberText.csvField("a,\"b\"") == "\"a,\"\"b\"\"\"")
    }
}
