import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
@testable import Report

/// Collects elements and text of a parsed SVG.
final class SVGCollector: NSObject, XMLParserDelegate {
    var elements: [(name: String, attributes: [String: String])] = []
    var text = ""
    var error: Error?

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?,
                qualifiedName: String?, attributes: [String: String] = [:]) {
        elements.append((name, attributes))
    }
    func parser(_ parser: XMLParser, foundCharacters string: String) { text += string }
    func parser(_ parser: XMLParser, parseErrorOccurred parseError: Error) { error = parseError }

    static func parse(_ svg: String) throws -> SVGCollector {
        let collector = SVGCollector()
        let parser = XMLParser(data: Data(svg.utf8))
        parser.delegate = collector
        let ok = parser.parse()
        #expect(ok, "SVG is not well-formed XML: \(String(describing: collector.error ?? parser.parserError))")
        try #require(ok)
        return collector
    }
}

@Suite("SVG chart")
struct SVGTests {
    static func rising(_ n: Int) -> [Float] { (0..<n).map { $0 < 1_024 ? 3 : 3 + Float($0 - 1_024) / 2_000 } }

    @Test("well-formed XML with one polyline per run, legend labels, boundary marker and escaped title",
          arguments: [true, false])
    func structure(logY: Bool) throws {
        let series = [
            LossSeries(label: "window(1024)", mode: "window", nll: Self.rising(6_000), cacheCapacity: 1_024),
            LossSeries(label: "sink(4,1020)", mode: "sink", nll: .init(repeating: 3, count: 6_000), cacheCapacity: 1_024),
            LossSeries(label: "dense", mode: "dense", nll: TestData.nll(count: 4_000, seed: 4)),
        ]
        let svg = PerplexityReport.svg(series, bucketSize: 256, title: "PPL <by> length & \"modes\"", logY: logY)
        let doc = try SVGCollector.parse(svg)
        #expect(doc.elements.first?.name == "svg")
        let polylines = doc.elements.filter { $0.name == "polyline" }
        #expect(polylines.count == 3)
        #expect(Set(polylines.compactMap { $0.attributes["stroke"] }).count == 3)
        // 6,000 tokens / 256 → 24 points for the long runs.
        #expect(polylines[0].attributes["points"]?.split(separator: " ").count == 24)
        #expect(doc.text.contains("window — window(1024)"))
        #expect(doc.text.contains("sink — sink(4,1020)"))
        #expect(doc.text.contains("dense"))
        #expect(doc.text.contains("cache full (1,024)"))
        #expect(doc.text.contains("PPL <by> length & \"modes\""))
        #expect(doc.text.contains(logY ? "perplexity (log scale)" : "perplexity"))
        let dashed = doc.elements.filter { $0.name == "line" && $0.attributes["stroke-dasharray"] != nil }
        #expect(dashed.count == 1)
        #expect(doc.text.contains("2k") && doc.text.contains("4k"))
        #expect(!svg.contains("<script") && !svg.contains("@import") && !svg.contains("href"))
    }

    @Test("NaN and infinite losses are skipped; single-bucket and empty runs still render")
    func robustness() throws {
        var nll = TestData.nll(count: 1_000, seed: 8)
        for i in 100..<200 { nll[i] = .nan }
        nll[500] = .infinity
        let series = [
            LossSeries(label: "bad", mode: "sink", nll: nll),
            LossSeries(label: "one", mode: "dense", nll: [2, 2, 2]),
            LossSeries(label: "new", mode: "window", nll: [], status: "running"),
        ]
        let svg = PerplexityReport.svg(series, bucketSize: 100, title: "t")
        #expect(!svg.lowercased().contains("nan") && !svg.contains("inf"))
        let doc = try SVGCollector.parse(svg)
        let polylines = doc.elements.filter { $0.name == "polyline" }
        #expect(polylines.count == 3)
        #expect(polylines[0].attributes["points"]?.split(separator: " ").count == 8)
        #expect(polylines[1].attributes["points"]?.split(separator: " ").count == 1)
        #expect(doc.elements.contains { $0.name == "circle" })
        #expect(doc.text.contains("no scored tokens"))

        let single = PerplexityReport.svg([LossSeries(label: "x", mode: "x", nll: [1])], bucketSize: 10, title: "one")
        _ = try SVGCollector.parse(single)
        let none = PerplexityReport.svg([], bucketSize: 10, title: "nothing")
        #expect(try SVGCollector.parse(none).elements.filter { $0.name == "polyline" }.isEmpty)
    }

    @Test("log ticks are 1-2-5 style values inside the data extent; token labels use k/M")
    func ticks() {
        let axis = ChartAxis.logarithmic(lo: 17, hi: 86)
        #expect(axis.ticks.count >= 5)
        #expect(axis.ticks.allSatisfy { $0 >= axis.lower && $0 <= axis.upper })
        #expect(axis.ticks.contains(20) && axis.ticks.contains(50))
        let narrow = ChartAxis.logarithmic(lo: 22.1, hi: 22.9)
        #expect(narrow.ticks.count >= 2)
        let wide = ChartAxis.logarithmic(lo: 1.5, hi: 90_000)
        #expect(wide.ticks.contains(10) && wide.ticks.contains(1_000) && wide.ticks.count <= 10)
        #expect(ChartAxis.tokenLabel(0) == "0" && ChartAxis.tokenLabel(10_000) == "10k")
        #expect(ChartAxis.tokenLabel(2_500) == "2.5k" && ChartAxis.tokenLabel(1_200_000) == "1.2M")
        #expect(ChartAxis.valueLabel(1_000) == "1,000" && ChartAxis.valueLabel(2.5) == "2.5")
        let x = ChartAxis.linear(lo: 0, hi: 8_192, target: 8, minStep: 1, widen: false)
        #expect(x.ticks.first == 0 && x.ticks.last == 8_000 && x.ticks.count == 9)
    }
}
