import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Model
import Pipeline
import Store
import Streaming
import Testing
import TestSupport

/// `sinkstream report` and `sinkstream compare` through the real executable, checked against
/// figures recomputed here from the stored per-token losses.
@Suite("report and compare commands", .serialized)
struct ReportCommandTests {
    struct Setup {
        let binary: String
        let model: LanguageModel
        let sha: String
        let dir: URL
        let doc: String
        let db: String
        let store: RunStore
    }

    func setup(_ label: String) throws -> Setup? {
        guard let binary = Fixtures.sinkstreamExecutable, let model = try SharedModel.load() else { return nil }
        let dir = try Fixtures.temporaryDirectory(label)
        let doc = try SharedModel.goldenDocument(in: dir)
        let db = dir.appendingPathComponent("runs.sqlite").path
        return Setup(binary: binary, model: model, sha: try FileDigest.sha256(path: model.path), dir: dir, doc: doc, db: db,
                     store: try RunStore(path: db))
    }

    func score(_ s: Setup, _ config: ScoreConfiguration, stopAfterChunks: Int? = nil) throws -> String {
        let run = try ScoreRun.start(documentPath: s.doc, model: s.model, modelSHA256: s.sha, config: config, store: s.store, threads: 2)
        var chunks = 0
        _ = try run.run(shouldStop: { stopAfterChunks.map { chunks >= $0 } ?? false }, progress: { _ in chunks += 1 })
        return run.runID
    }

    func report(_ s: Setup, _ args: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        try Fixtures.run(s.binary, ["report"] + args + ["--db", s.db])
    }

    /// Bucket figures computed independently: sequential Double sums, skipping NaN (unscored) positions.
    struct Expected: Equatable {
        var start: Int, end: Int, count: Int, mean: Double, ppl: Double, cumulative: Double
    }

    func expected(_ nll: [Float], range: Range<Int>, size: Int, positions: (Int) -> Bool = { _ in true }) -> [Expected] {
        var out: [Expected] = []
        var running = 0.0, runningCount = 0
        var start = range.lowerBound
        while start < range.upperBound {
            let end = min(start + size, range.upperBound)
            var sum = 0.0, count = 0
            for t in start..<end where positions(t) && !nll[t].isNaN {
                sum += Double(nll[t]); count += 1
                running += Double(nll[t]); runningCount += 1
            }
            let mean = sum / Double(count)
            out.append(Expected(start: start, end: end, count: count, mean: mean, ppl: exp(mean),
                                cumulative: exp(running / Double(runningCount))))
            start = end
        }
        return out
    }

    /// Splits CSV lines into fields (RFC 4180 quotes).
    func csvRows(_ text: String) -> [[String]] {
        text.split(separator: "\n").map { line in
            var fields: [String] = [], field = "", quoted = false
            var chars = Array(line)[...]
            while let c = chars.popFirst() {
                if quoted {
                    if c == "\"" { if chars.first == "\"" { field.append("\""); chars.removeFirst() } else { quoted = false } }
                    else { field.append(c) }
                } else if c == "\"" { quoted = true }
                else if c == "," { fields.append(field); field = "" }
                else { field.append(c) }
            }
            fields.append(field)
            return fields
        }
    }

    @Test("report's CSV and JSON equal figures recomputed from the stored losses, and the stored metrics agree")
    func figuresAgree() throws {
        guard let s = try setup("report-figures") else { Issue.record("model or executable missing"); return }
        let config = ScoreConfiguration(mode: .sinkBatch(sinks: 4, window: 124, evict: 32), chunk: 64,
                                        checkpointEveryTokens: 200, checkpointEverySeconds: 0, bucket: 128, tokenLimit: 700)
        let id = try score(s, config)
        let nll = try s.store.nll(runID: id, range: 0..<10_000).nll
        #expect(nll.count == 700)

        // The metrics written by the run in its checkpoints: the same sums, gap-free.
        let metrics = try s.store.metrics(runID: id)
        let byRun = expected(nll, range: 0..<700, size: 128)
        #expect(metrics.map { Int($0.bucketStart) } == byRun.map(\.start))
        #expect(metrics.map { Int($0.bucketEnd) } == byRun.map(\.end))
        #expect(metrics.map(\.meanNLL) == byRun.map(\.mean))
        #expect(metrics.map(\.cumulativePPL) == byRun.map(\.cumulative))
        #expect(metrics.allSatisfy { $0.cacheFill > 0 && $0.cacheFill <= 1 && $0.tokensPerSecond > 0 })

        // report --bucket re-aggregates; --range restricts (cumulative from the range start).
        let csv = try report(s, [id, "--format", "csv", "--bucket", "100", "--range", "50:650"])
        #expect(csv.status == 0, "\(csv.stderr)")
        let rows = csvRows(csv.stdout)
        #expect(rows.first == ["start_token", "end_token", "count", "mean_nll", "ppl", "cumulative_ppl"])
        let want = expected(nll, range: 50..<650, size: 100)
        let got = rows.dropFirst().map { r in
            Expected(start: Int(r[0]) ?? -1, end: Int(r[1]) ?? -1, count: Int(r[2]) ?? -1, mean: Double(r[3]) ?? .nan,
                     ppl: Double(r[4]) ?? .nan, cumulative: Double(r[5]) ?? .nan)
        }
        #expect(got == want)

        let json = try report(s, [id, "--format", "json", "--bucket", "100", "--range", "50:650"])
        #expect(json.status == 0, "\(json.stderr)")
        let objects = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
        let fromJSON = objects.map { o in
            Expected(start: (o["start_token"] as? Int) ?? -1, end: (o["end_token"] as? Int) ?? -1, count: (o["count"] as? Int) ?? -1,
                     mean: (o["mean_nll"] as? Double) ?? .nan, ppl: (o["ppl"] as? Double) ?? .nan,
                     cumulative: (o["cumulative_ppl"] as? Double) ?? .nan)
        }
        // Foundation's JSON parser on Linux may round the last bit; the text carries the exact spelling.
        #expect(fromJSON.map { [$0.start, $0.end, $0.count] } == want.map { [$0.start, $0.end, $0.count] })
        for (j, w) in zip(fromJSON, want) {
            for (a, b) in [(j.mean, w.mean), (j.ppl, w.ppl), (j.cumulative, w.cumulative)] { #expect(abs(a - b) <= 4 * b.ulp) }
        }
        for row in rows.dropFirst() {
            #expect(json.stdout.contains("\"mean_nll\": \(row[3]), \"ppl\": \(row[4]), \"cumulative_ppl\": \(row[5])}"))
        }

        // Byte ranges map to the tokens that start inside them.
        let offsets = try s.store.nll(runID: id, range: 0..<700).byteOffsets
        let bytes = try report(s, [id, "--format", "csv", "--bucket", "1000", "--bytes", "\(offsets[100]):\(offsets[300])"])
        #expect(bytes.status == 0, "\(bytes.stderr)")
        #expect(csvRows(bytes.stdout).dropFirst().first.map { [$0[0], $0[1]] } == ["100", "300"])

        // The table names the run and, with --worst, quotes the document around the worst spans.
        let table = try report(s, [id, "--worst", "2", "--span-tokens", "8"])
        #expect(table.status == 0, "\(table.stderr)")
        #expect(table.stdout.contains("completed"))
        #expect(table.stdout.contains("worst 2 spans"))
        #expect(table.stdout.contains("»"))
        try Data("changed".utf8).write(to: URL(fileURLWithPath: s.doc))
        let changed = try report(s, [id, "--worst", "1"])
        #expect(changed.stdout.contains("has changed since the run"))
    }

    @Test("Unknown runs, empty runs and ranges outside the document fail with a clear message")
    func errors() throws {
        guard let s = try setup("report-errors") else { Issue.record("model or executable missing"); return }
        let config = ScoreConfiguration(mode: .window(64), chunk: 32, checkpointEveryTokens: 0, checkpointEverySeconds: 0,
                                        bucket: 64, tokenLimit: 100)
        let id = try score(s, config)

        let unknown = try report(s, ["rzzzzzz"])
        #expect(unknown.status == 66)
        #expect(unknown.stderr.contains("no run 'rzzzzzz'"))

        let empty = try s.store.createRun(NewRun(task: .score, documentPath: s.doc, documentSHA256: "x", documentSize: 1,
                                                 modelPath: "m", modelSHA256: "y", config: "{}", mode: "dense"))
        let noLosses = try report(s, [empty.id])
        #expect(noLosses.status == 65)
        #expect(noLosses.stderr.contains("has no scored tokens yet"))

        let outside = try report(s, [id, "--range", "50:5000"])
        #expect(outside.status == 65)
        #expect(outside.stderr.contains("outside run \(id)"))

        let size = try #require(try s.store.run(id: id)).documentSize
        let pastEnd = try report(s, [id, "--bytes", "0:\(size + 10)"])
        #expect(pastEnd.status == 65)
        #expect(pastEnd.stderr.contains("not inside the document, which has \(size) bytes"))

        let both = try report(s, [id, "--range", "0:10", "--bytes", "0:10"])
        #expect(both.status == 64)
    }

    @Test("A paused run is reported as far as it got, and says so")
    func pausedRun() throws {
        guard let s = try setup("report-paused") else { Issue.record("model or executable missing"); return }
        let config = ScoreConfiguration(mode: .sink(sinks: 4, window: 60), chunk: 32, checkpointEveryTokens: 0,
                                        checkpointEverySeconds: 0, bucket: 64)
        let id = try score(s, config, stopAfterChunks: 3)
        #expect(try s.store.run(id: id)?.status == .paused)
        let r = try report(s, [id, "--bucket", "32"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("run \(id): paused at token 96 of ~"))
        #expect(r.stdout.contains("figures so far"))
        let csv = try report(s, [id, "--format", "csv", "--bucket", "32"])
        #expect(csvRows(csv.stdout).count == 4, "header and three buckets")
        #expect(csv.stderr.contains("paused at token 96"))
    }

    @Test("A sampled recompute run stores exactly the full run's losses at every Kth position")
    func sampledRecompute() throws {
        guard let s = try setup("recompute-stride") else { Issue.record("model or executable missing"); return }
        var config = ScoreConfiguration(mode: .recompute(48), chunk: 32, checkpointEveryTokens: 50, checkpointEverySeconds: 0,
                                        bucket: 40, tokenLimit: 120)
        let full = try s.store.nll(runID: try score(s, config), range: 0..<1000).nll
        config.recomputeStride = 8
        let sampledID = try score(s, config)
        let sampled = try s.store.nll(runID: sampledID, range: 0..<1000).nll
        #expect(sampled.count == 120)
        for t in 0..<120 {
            if t % 8 == 0 { #expect(sampled[t].bitPattern == full[t].bitPattern, "position \(t)") } else { #expect(sampled[t].isNaN) }
        }
        let metrics = try s.store.metrics(runID: sampledID)
        let want = expected(sampled, range: 0..<120, size: 40)
        #expect(metrics.map(\.meanNLL) == want.map(\.mean))
        #expect(metrics.map(\.cumulativePPL) == want.map(\.cumulative))
        let record = try #require(try s.store.run(id: sampledID))
        // The run's perplexity so far is the mean over its sampled positions.
        let ppl = try #require(record.perplexitySoFar)
        let last = try #require(want.last)
        #expect(abs(log(ppl) - log(last.cumulative)) < 1e-9)
    }

    @Test("compare scores every mode as a stored run, lines them up on the sampled positions and writes a valid SVG")
    func compare() throws {
        guard let s = try setup("compare") else { Issue.record("model or executable missing"); return }
        let svg = s.dir.appendingPathComponent("fig.svg").path
        let r = try Fixtures.run(s.binary, [
            "compare", s.doc, "--modes", "dense,window,sink,recompute", "--tokens", "300", "--window", "64", "--sinks", "4",
            "--evict", "token", "--chunk", "32", "--recompute-stride", "8", "--bucket", "64", "--svg", svg,
            "--threads", "2", "--db", s.db,
        ])
        #expect(r.status == 0, "\(r.stderr)")
        let runs = try s.store.runs()
        #expect(runs.map(\.mode) == ["dense", "window(64)", "sink(4,64)", "recompute(64)"])
        #expect(runs.allSatisfy { $0.status == .completed && $0.tokens == 300 && $0.batchID != nil })
        #expect(r.stdout.contains("(baseline)"))
        #expect(r.stdout.contains("every 8th token position"))
        #expect(r.stdout.contains("summary"))

        // The SVG is well-formed XML with one line per mode and the cache boundary marked.
        let data = try Data(contentsOf: URL(fileURLWithPath: svg))
        let parser = XMLParser(data: data)
        #expect(parser.parse(), "\(parser.parserError.map { "\($0)" } ?? "")")
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.components(separatedBy: "<polyline").count - 1 == 4)
        #expect(text.contains("cache full (68)"))

        // Every cell is the mean over the positions recompute scored (t % 8 == 0), for every run.
        let ids = runs.map(\.id)
        let csv = try report(s, ids + ["--format", "csv", "--bucket", "64", "--baseline", "recompute"])
        #expect(csv.status == 0, "\(csv.stderr)")
        let rows = csvRows(csv.stdout)
        #expect(rows.first == ["start_token", "end_token", "run", "mode", "count", "mean_nll", "ppl", "ratio_to_baseline"])
        var losses: [String: [Float]] = [:]
        for (run, mode) in zip(runs, ["dense", "window", "sink", "recompute"]) {
            losses[mode] = try s.store.nll(runID: run.id, range: 0..<1000).nll
        }
        let baseline = expected(losses["recompute"] ?? [], range: 0..<300, size: 64) { $0 % 8 == 0 }
        var checked = 0
        for row in rows.dropFirst() {
            let mode = row[3]
            let want = expected(losses[mode] ?? [], range: 0..<300, size: 64) { $0 % 8 == 0 }
            guard let k = want.firstIndex(where: { String($0.start) == row[0] }) else { Issue.record("unexpected row \(row)"); continue }
            #expect(row[1] == String(want[k].end))
            #expect(Int(row[4]) == want[k].count)
            #expect(Double(row[5]) == want[k].mean)
            #expect(Double(row[7]) == want[k].ppl / baseline[k].ppl)
            checked += 1
        }
        #expect(checked == 4 * 5)
    }
}
