import Foundation
import Pipeline
import Testing
import TestSupport

/// `bench-runs --memory-curve`: a real score run sampled over its length.
@Suite("Memory curve benchmark")
struct MemoryCurveTests {
    @Test("Flatness is measured after the warm-up only; CSV lines read back")
    func flatness() throws {
        let samples = [
            MemoryCurve.Sample(tokens: 10_000, seconds: 1, residentBytes: 100, peakBytes: 150),
            MemoryCurve.Sample(tokens: 50_000, seconds: 5, residentBytes: 200, peakBytes: 200),
            MemoryCurve.Sample(tokens: 90_000, seconds: 9, residentBytes: 202, peakBytes: 204),
        ]
        let flat = try #require(MemoryCurve.flatness(samples, after: 50_000))
        #expect(flat.minResident == 200 && flat.maxResident == 202)
        #expect(abs(flat.spread - 0.01) < 1e-12)
        #expect(abs(flat.peakGrowth - 0.02) < 1e-12)
        #expect(MemoryCurve.flatness(samples, after: 100_000) == nil)
        let csv = ([MemoryCurve.csvHeader] + samples.map(MemoryCurve.csvLine)).joined(separator: "\n")
        #expect(MemoryCurve.parseCSV(csv) == samples)
    }

    @Test("The command scores the document, writes one sample per interval and the chart")
    func command() throws {
        let binary = try #require(Fixtures.sinkstreamExecutable)
        let dir = try Fixtures.temporaryDirectory("memory-curve")
        let model = dir.appendingPathComponent("tiny.gguf").path
        try TinyModel.write(to: model)
        let doc = dir.appendingPathComponent("doc.txt").path
        try Data(String(repeating: "The quick brown fox jumps over the lazy dog. ", count: 400).utf8)
            .write(to: URL(fileURLWithPath: doc))
        let csv = dir.appendingPathComponent("mem.csv").path
        let r = try Fixtures.run(binary, ["bench-runs", doc, "--model", model, "--memory-curve", csv,
                                          "--memory-tokens", "1500", "--memory-every", "500"])
        #expect(r.status == 0, "\(r.stderr)")
        let samples = MemoryCurve.parseCSV(try String(contentsOfFile: csv, encoding: .utf8))
        #expect(samples.count == 3, "\(samples)")
        #expect(samples.last?.tokens == 1500)
        #expect(zip(samples, samples.dropFirst()).allSatisfy { $0.tokens < $1.tokens })
        #expect(samples.allSatisfy { $0.residentBytes > 1_000_000 && $0.peakBytes >= Int64($0.residentBytes) / 2 })
        let svg = try String(contentsOfFile: dir.appendingPathComponent("mem.svg").path, encoding: .utf8)
        #expect(svg.components(separatedBy: "<polyline").count == 3, "two lines: resident and peak")

        let bad = try Fixtures.run(binary, ["bench-runs", doc, "--model", model, "--memory-curve", csv, "--memory-every", "0"])
        #expect(bad.status != 0 && bad.stderr.contains("--memory-every"))
    }
}
