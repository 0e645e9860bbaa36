import Foundation
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// `sinkstream submit --task summarize|translate` and workers running task runs, against a real
/// PostgreSQL server (as ``PostgresWorkerTests``; skipped when `SINKSTREAM_TEST_POSTGRES=off`).
@Suite("PostgreSQL task workers", .enabled(if: !TestPostgres.disabled, "SINKSTREAM_TEST_POSTGRES=off"), .serialized,
       .timeLimit(.minutes(10)))
struct PostgresTaskWorkerTests {
    /// The small summary settings of the task tests (TaskRunTests.summarizeConfig), greedy.
    static let summarizeOptions = ["--section-tokens", "64", "--max-tokens", "12", "--length", "short",
                                   "--checkpoint-every", "200", "--jsonl"]

    /// A short document (a few hundred tokens) from the golden passage.
    static func document(in dir: URL, name: String, from start: Int) throws -> String {
        let text = try GoldenA.load().text
        let begin = text.index(text.startIndex, offsetBy: min(start, text.count))
        let path = dir.appendingPathComponent(name).path
        try String(text[begin...].prefix(1_500)).write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test("submit --task summarize: two workers complete each run once, with the outputs (texts, byte ranges) of `summarize` on SQLite; export prints the result")
    func summarizeThroughWorkers() throws {
        let binary = try #require(Fixtures.sinkstreamExecutable)
        let model = try #require(Fixtures.modelPath, "the default model is needed (scripts/test.sh fetches it)")
        let url = try TestPostgres.freshDatabase("tasks")
        let dir = try Fixtures.temporaryDirectory("pg-tasks")
        defer { try? FileManager.default.removeItem(at: dir) }
        let docs = [try Self.document(in: dir, name: "one.txt", from: 0), try Self.document(in: dir, name: "two.txt", from: 2_000)]
        let options = Self.summarizeOptions + ["--model", model]
        let submitted = try Fixtures.run(binary, ["submit"] + docs + ["--task", "summarize"] + options + ["--db", url, "--quiet"])
        #expect(submitted.status == 0, "\(submitted.stderr)")
        let batch = submitted.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(!batch.isEmpty)
        let tasks = try TestPostgres.psql(url, "SELECT task FROM run ORDER BY seq")
        #expect(tasks == "summarize\nsummarize", "\(tasks)")
        try PostgresWorkerTests.countCompletions(url)

        let home = ["XDG_DATA_HOME": dir.appendingPathComponent("data").path]
        let workers = try ["a", "b"].map { name in
            try PostgresWorkerTests.Worker(
                binary: binary, arguments: ["worker", "--db", url, "--threads", "1", "--idle-exit", "3", "--poll", "0.3", "--model", model],
                environment: home, dir: dir, name: name)
        }
        defer { for w in workers where w.process.isRunning { kill(w.pid, SIGKILL) } }
        let statuses = workers.map { $0.wait(400) }
        #expect(statuses.allSatisfy { $0 == 0 }, "\(workers.map(\.log).joined(separator: "\n"))")

        let rows = try TestPostgres.psql(url, "SELECT r.id, r.status, q.state FROM run r JOIN queue q ON q.runID = r.id ORDER BY r.seq")
            .split(separator: "\n").map { $0.split(separator: "|").map(String.init) }
        #expect(rows.count == 2)
        for row in rows { #expect(row.count == 3 && row[1] == "completed" && row[2] == "done", "\(row)") }
        let completions = try PostgresWorkerTests.completions(url)
        for row in rows { #expect(completions[row[0]] == 1, "run \(row[0]) completed \(completions[row[0]] ?? 0) times") }

        // The same document summarized locally on SQLite, with the same options.
        let sqlite = dir.appendingPathComponent("local.sqlite").path
        for (row, doc) in zip(rows, docs) {
            let local = try Fixtures.run(binary, ["summarize", doc, "--db", sqlite, "--threads", "1", "--quiet"] + options)
            #expect(local.status == 0, "\(local.stderr)")
            #expect(local.stdout.contains("\"kind\":\"note\"") && local.stdout.contains("\"kind\":\"summary\""), "\(local.stdout)")
            let exported = try Fixtures.run(binary, ["export", row[0], "--db", url])
            #expect(exported.status == 0, "\(exported.stderr)")
            #expect(exported.stdout == local.stdout, "run \(row[0]) differs from summarizing \(doc) locally:\n\(exported.stdout)\n---\n\(local.stdout)")
            // The stored rows themselves: every output's kind, byte range and text.
            let stored = try TestPostgres.psql(url, "SELECT count(*) FROM output_chunk WHERE runID = '\(row[0])'")
            #expect(Int(stored) == local.stdout.split(separator: "\n").count, "\(stored)")
        }
        // Per-token losses are a score run's: refused for a task run, naming the fix.
        let nll = try Fixtures.run(binary, ["export", rows[0][0], "--nll", "--db", url])
        #expect(nll.status == 64 && nll.stderr.contains("drop --nll"), "\(nll.stderr)")
    }

    @Test("submit --task translate without --to or --style is refused (exit 64) and queues nothing")
    func translateNeedsATarget() throws {
        let binary = try #require(Fixtures.sinkstreamExecutable)
        let url = try TestPostgres.freshDatabase("tnoto")
        let dir = try Fixtures.temporaryDirectory("pg-tasks-noto")
        defer { try? FileManager.default.removeItem(at: dir) }
        let doc = try Self.document(in: dir, name: "doc.txt", from: 0)
        let refused = try Fixtures.run(binary, ["submit", doc, "--task", "translate", "--db", url, "--quiet"])
        #expect(refused.status == 64, "\(refused.status): \(refused.stderr)")
        #expect(refused.stderr.contains("--to") && refused.stdout.isEmpty, "\(refused.stderr)")
        if try TestPostgres.psql(url, "SELECT to_regclass('run') IS NOT NULL") == "t" {
            #expect(try TestPostgres.psql(url, "SELECT count(*) FROM run") == "0")
        }
    }
}
