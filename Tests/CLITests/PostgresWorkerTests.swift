import Foundation
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// `sinkstream submit` and `sinkstream worker` against a real PostgreSQL server (the one
/// `SINKSTREAM_TEST_POSTGRES` names, or a throw-away cluster; skipped when it is `off`).
@Suite("PostgreSQL workers", .enabled(if: !TestPostgres.disabled, "SINKSTREAM_TEST_POSTGRES=off"), .serialized,
       .timeLimit(.minutes(10)))
struct PostgresWorkerTests {
    /// A worker process whose output goes to files (read after it exits).
    final class Worker {
        let process = Process()
        let stderrPath: String
        init(binary: String, arguments: [String], environment: [String: String], dir: URL, name: String) throws {
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = arguments
            var env = ProcessInfo.processInfo.environment
            for (k, v) in environment { env[k] = v }
            process.environment = env
            stderrPath = dir.appendingPathComponent("\(name).stderr").path
            FileManager.default.createFile(atPath: stderrPath, contents: nil)
            process.standardError = FileHandle(forWritingAtPath: stderrPath)
            process.standardOutput = FileHandle.nullDevice
            process.standardInput = FileHandle.nullDevice
            try process.run()
        }
        var pid: Int32 { process.processIdentifier }
        var log: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }
        /// Waits for the exit (at most `seconds`, then kills it); returns the status.
        func wait(_ seconds: Double) -> Int32? {
            let end = Date().addingTimeInterval(seconds)
            while process.isRunning, Date() < end { usleep(100_000) }
            if process.isRunning { kill(pid, SIGKILL); process.waitUntilExit(); return nil }
            return process.terminationStatus
        }
    }

    /// Six documents of ~3,500 tokens each: the golden passage's sentences, rotated differently
    /// for each document and repeated to 13 kB.
    static func documents(in dir: URL) throws -> [String] {
        let sentences = try GoldenA.load().text.components(separatedBy: ". ").filter { !$0.isEmpty }
        return try (0 ..< 6).map { i in
            let shift = (i * 7) % sentences.count
            let rotated = Array(sentences[shift...] + sentences[..<shift])
            var text = ""
            var k = 0
            while text.utf8.count < 13_000 { text += rotated[k % rotated.count] + ". "; k += 1 }
            let path = dir.appendingPathComponent("doc\(i).txt").path
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }
    }

    /// Polls `condition` every 0.2 s for at most `seconds`.
    static func waitFor(_ seconds: Double, _ condition: () throws -> Bool) rethrows -> Bool {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            if try condition() { return true }
            usleep(200_000)
        }
        return try condition()
    }

    @Test("6 documents, 3 workers, one killed with SIGKILL mid-run, connections cut mid-checkpoint: every run completes exactly once with the losses of the same document scored alone on SQLite")
    func workersSurviveKillAndCut() throws {
        let binary = try #require(Fixtures.sinkstreamExecutable)
        let model = try #require(Fixtures.modelPath, "the default model is needed (scripts/test.sh fetches it)")
        let url = try TestPostgres.freshDatabase("workers")
        let dir = try Fixtures.temporaryDirectory("pg-workers")
        defer { try? FileManager.default.removeItem(at: dir) }
        let docs = try Self.documents(in: dir)
        let scoreOptions = ["--checkpoint-every", "512", "--model", model]
        let submitted = try Fixtures.run(binary, ["submit"] + docs + scoreOptions + ["--db", url, "--quiet"])
        #expect(submitted.status == 0, "\(submitted.stderr)")
        let batch = submitted.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(!batch.isEmpty && !submitted.stderr.contains("sinkstream-test"))
        try Self.countCompletions(url)

        let home = ["XDG_DATA_HOME": dir.appendingPathComponent("data").path]
        func worker(_ name: String, _ extra: [String: String] = [:]) throws -> Worker {
            try Worker(binary: binary, arguments: ["worker", "--db", url, "--threads", "1", "--lease-timeout", "3",
                                                   "--idle-exit", "8", "--poll", "0.3", "--model", model],
                       environment: home.merging(extra) { $1 }, dir: dir, name: name)
        }
        let a = try worker("a")
        // b holds every checkpoint transaction open for 400 ms, so a cut almost surely lands in one.
        let b = try worker("b", ["SINKSTREAM_FAULT_CHECKPOINT_DELAY_MS": "400"])
        let c = try worker("c")
        defer { for w in [a, b, c] where w.process.isRunning { kill(w.pid, SIGKILL) } }

        // SIGKILL worker a once it has checkpointed part of a run.
        let killedRun = Box<String>()
        let aMidRun = try Self.waitFor(120) {
            let out = try TestPostgres.psql(url, """
                SELECT q.runID FROM queue q JOIN run r ON r.id = q.runID
                WHERE q.workerPID = \(a.pid) AND q.state = 'claimed' AND r.tokens > 0 AND r.status <> 'completed' LIMIT 1
                """)
            if !out.isEmpty { killedRun.value = out }
            return !out.isEmpty
        }
        #expect(aMidRun, "worker a never checkpointed a run: \(a.log)")
        kill(a.pid, SIGKILL)
        _ = a.wait(10)

        // Cut the workers' connections while b is in a checkpoint (twice).
        var cut = 0
        for _ in 0 ..< 2 {
            let bMidCheckpoint = try Self.waitFor(60) {
                try TestPostgres.psql(url, """
                    SELECT count(*) FROM pg_stat_activity a JOIN queue q ON q.workerPID = \(b.pid) AND q.state = 'claimed'
                    WHERE a.datname = current_database() AND a.pid <> pg_backend_pid() AND a.xact_start IS NOT NULL
                      AND a.xact_start < now() - interval '100 milliseconds'
                    """) != "0"
            }
            if bMidCheckpoint { cut += try TestPostgres.terminateBackends(url) }
        }
        #expect(cut > 0, "no connection was cut")

        let statusB = b.wait(300), statusC = c.wait(300)
        #expect(statusB == 0 && statusC == 0, "b: \(b.log)\nc: \(c.log)")

        // Every run completed, exactly once, and the killed one was taken over.
        let rows = try TestPostgres.psql(url, "SELECT r.id, r.status, q.state, q.attempts FROM run r JOIN queue q ON q.runID = r.id ORDER BY r.seq")
            .split(separator: "\n").map { $0.split(separator: "|").map(String.init) }
        #expect(rows.count == 6)
        for row in rows { #expect(row[1] == "completed" && row[2] == "done", "\(row)") }
        let killed = try #require(killedRun.value)
        #expect(rows.first { $0[0] == killed }.map { Int($0[3]) ?? 0 } ?? 0 >= 2, "the killed worker's run was not taken over")
        // Completions as the database committed them (any worker, a's before its kill too).
        let completions = try Self.completions(url)
        for row in rows {
            #expect(completions[row[0]] == 1, "run \(row[0]) completed \(completions[row[0]] ?? 0) times; logs:\n\(a.log)\n\(b.log)\n\(c.log)")
        }

        // The batch view.
        let view = try Fixtures.run(binary, ["runs", "--batch", batch, "--db", url])
        #expect(view.status == 0 && view.stdout.contains("6 runs: 0 queued, 0 running, 6 done, 0 failed"), "\(view.stdout)\(view.stderr)")
        #expect(!view.stdout.contains("sinkstream-test"))

        // Bit-identical to each document scored alone on SQLite.
        let sqlite = dir.appendingPathComponent("alone.sqlite").path
        let pgRuns = try TestPostgres.psql(url, "SELECT id, documentPath FROM run ORDER BY seq").split(separator: "\n")
            .map { $0.split(separator: "|").map(String.init) }
        for run in pgRuns {
            let alone = try Fixtures.run(binary, ["score", run[1], "--db", sqlite, "--threads", "1", "--format", "json", "--quiet"] + scoreOptions)
            #expect(alone.status == 0, "\(alone.stderr)")
            let json = try JSONSerialization.jsonObject(with: Data(alone.stdout.utf8)) as? [String: Any]
            let aloneID = try #require(json?["run"] as? String)
            let expected = try Fixtures.run(binary, ["export", aloneID, "--nll", "--db", sqlite])
            let got = try Fixtures.run(binary, ["export", run[0], "--nll", "--db", url])
            #expect(got.status == 0 && expected.status == 0)
            #expect(!got.stdout.isEmpty && got.stdout == expected.stdout, "run \(run[0]) differs from scoring \(run[1]) alone")
        }
    }

    /// Makes the database count every committed completion of a run (a trigger on the run
    /// table, in a schema of the test's own), whichever worker did it.
    static func countCompletions(_ url: String) throws {
        try TestPostgres.psql(url, """
            CREATE SCHEMA test_audit;
            CREATE TABLE test_audit.completion (runID text NOT NULL, workerPID int, at timestamptz NOT NULL DEFAULT now());
            CREATE FUNCTION test_audit.count_completion() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              INSERT INTO test_audit.completion (runID, workerPID) SELECT NEW.id, (SELECT workerPID FROM queue WHERE runID = NEW.id);
              RETURN NEW;
            END $$;
            CREATE TRIGGER test_audit_completion AFTER UPDATE OF status ON run
              FOR EACH ROW WHEN (NEW.status = 'completed') EXECUTE FUNCTION test_audit.count_completion();
            """)
    }

    /// Committed completions per run (see ``countCompletions(_:)``).
    static func completions(_ url: String) throws -> [String: Int] {
        var counts: [String: Int] = [:]
        for line in try TestPostgres.psql(url, "SELECT runID, count(*) FROM test_audit.completion GROUP BY runID").split(separator: "\n") {
            let cells = line.split(separator: "|").map(String.init)
            if cells.count == 2 { counts[cells[0]] = Int(cells[1]) }
        }
        return counts
    }

    /// The queue row of a run: state, attempts, failures; and the run's status and error.
    static func queueRow(_ url: String, _ runID: String) throws -> (state: String, attempts: Int, failures: Int, status: String, error: String) {
        let cells = try TestPostgres.psql(url, """
            SELECT q.state, q.attempts, q.failures, r.status, COALESCE(r.errorText, '') FROM queue q JOIN run r ON r.id = q.runID WHERE q.runID = '\(runID)'
            """).split(separator: "|", omittingEmptySubsequences: false).map(String.init)
        guard cells.count >= 5 else { throw TestPostgres.Failure(message: "no queue row for run \(runID)") }
        return (cells[0], Int(cells[1]) ?? -1, Int(cells[2]) ?? -1, cells[3], cells[4...].joined(separator: "|"))
    }

    /// A short document (about 2,000 tokens) for one quick run.
    static func shortDocument(in dir: URL, name: String = "short.txt") throws -> String {
        let text = try GoldenA.load().text
        let path = dir.appendingPathComponent(name).path
        try String(text.prefix(6_000)).write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test("A problem of the worker (model missing or different, no place for its document copy) gives the run back uncounted and stops the worker with the fix; queued runs show as queued")
    func workerProblemsAreNotCounted() throws {
        let binary = try #require(Fixtures.sinkstreamExecutable)
        let model = try #require(Fixtures.modelPath, "the default model is needed (scripts/test.sh fetches it)")
        let url = try TestPostgres.freshDatabase("wlocal")
        let dir = try Fixtures.temporaryDirectory("pg-worker-local")
        defer { try? FileManager.default.removeItem(at: dir) }
        let doc = try Self.shortDocument(in: dir)
        let submitted = try Fixtures.run(binary, ["submit", doc, "--model", model, "--tokens", "64", "--db", url, "--quiet"])
        #expect(submitted.status == 0, "\(submitted.stderr)")
        let batch = submitted.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let runID = try TestPostgres.psql(url, "SELECT id FROM run")

        // Never claimed: queued for workers, not "interrupted … its process died".
        let listed = try Fixtures.run(binary, ["runs", "--db", url])
        #expect(listed.status == 0 && listed.stdout.contains(" queued ") && !listed.stdout.contains("interrupted"), "\(listed.stdout)\(listed.stderr)")
        let interrupted = try Fixtures.run(binary, ["runs", "--status", "interrupted", "--db", url])
        #expect(!interrupted.stdout.contains(runID), "\(interrupted.stdout)")
        let queued = try Fixtures.run(binary, ["runs", "--status", "queued", "--db", url, "--format", "json"])
        let queuedRuns = try JSONSerialization.jsonObject(with: Data(queued.stdout.utf8)) as? [[String: Any]]
        #expect(queued.status == 0 && queuedRuns?.count == 1 && queuedRuns?.first?["id"] as? String == runID, "\(queued.stdout)\(queued.stderr)")
        #expect(queuedRuns?.first?["status"] as? String == "queued" && queuedRuns?.first?["stored_bytes"] is NSNull, "\(queued.stdout)")
        let shown = try Fixtures.run(binary, ["runs", "show", runID, "--db", url])
        #expect(shown.stdout.contains("queued for workers (not claimed yet; `sinkstream runs --batch \(batch)`"), "\(shown.stdout)")
        #expect(shown.stdout.contains("stored:          —"), "\(shown.stdout)")

        let data = ["XDG_DATA_HOME": dir.appendingPathComponent("data").path]
        let common = ["worker", "--db", url, "--threads", "1", "--idle-exit", "0", "--poll", "0.2", "--max-failures", "1"]
        // Three times each: with --max-failures 1 a single counted attempt would fail the run.
        for _ in 0 ..< 3 {
            let missing = try Fixtures.run(binary, common + ["--model", dir.appendingPathComponent("no-such-model.gguf").path], environment: data)
            #expect(missing.status == 69 && missing.stderr.contains("pass --model") && missing.stderr.contains("given back uncounted"), "\(missing.status) \(missing.stderr)")
        }
        if let other = Fixtures.catalogModelPath(environmentKey: "SINKSTREAM_TEST_GEMMA3", fileName: "gemma-3-270m-q4_k_m.gguf") {
            let different = try Fixtures.run(binary, common + ["--model", other], environment: data)
            #expect(different.status == 69 && different.stderr.contains("has SHA-256") && different.stderr.contains("pass --model"), "\(different.status) \(different.stderr)")
        }
        // The data folder is a file: no place for the worker's copy of the document.
        let blocker = dir.appendingPathComponent("not-a-folder")
        try Data("x".utf8).write(to: blocker)
        let noDisk = try Fixtures.run(binary, common + ["--model", model], environment: ["XDG_DATA_HOME": blocker.path])
        #expect(noDisk.status == 73 && noDisk.stderr.contains("make that folder writable"), "\(noDisk.status) \(noDisk.stderr)")

        var row = try Self.queueRow(url, runID)
        #expect(row.state == "queued" && row.failures == 0 && row.status != "failed" && row.error.isEmpty, "\(row)")
        #expect(row.attempts >= 4, "\(row)")
        let handedBack = try Fixtures.run(binary, ["runs", "show", runID, "--db", url])
        #expect(handedBack.stdout.contains("queued for workers (\(row.attempts) attempts so far"), "\(handedBack.stdout)")

        // A worker that can: completes it.
        let good = try Fixtures.run(binary, common + ["--model", model], environment: data)
        #expect(good.status == 0 && good.stderr.contains("1 runs completed, 0 failed attempts"), "\(good.stderr)")
        row = try Self.queueRow(url, runID)
        #expect(row.state == "done" && row.status == "completed", "\(row)")

        // runs delete and prune work on PostgreSQL.
        let dry = try Fixtures.run(binary, ["runs", "prune", "--completed", "--dry-run", "--db", url])
        #expect(dry.status == 0 && dry.stdout.contains("would delete 1 completed run: \(runID)"), "\(dry.stdout)\(dry.stderr)")
        let deleted = try Fixtures.run(binary, ["runs", "delete", runID, "--db", url])
        #expect(deleted.status == 0 && deleted.stdout.contains("deleted run \(runID)"), "\(deleted.stdout)\(deleted.stderr)")
        #expect(try TestPostgres.psql(url, "SELECT count(*) FROM run") == "0")
        let unknown = try Fixtures.run(binary, ["runs", "delete", runID, "--db", url])
        #expect(unknown.status == 66, "\(unknown.stderr)")
    }

    @Test("--max-runs counts completed runs only; a run that fails on its document is counted against it and reported apart")
    func maxRunsCountsCompletions() throws {
        let binary = try #require(Fixtures.sinkstreamExecutable)
        let model = try #require(Fixtures.modelPath, "the default model is needed (scripts/test.sh fetches it)")
        let url = try TestPostgres.freshDatabase("wmax")
        let dir = try Fixtures.temporaryDirectory("pg-worker-max")
        defer { try? FileManager.default.removeItem(at: dir) }
        // One token: nothing to score, a failure of the document itself.
        let tiny = dir.appendingPathComponent("tiny.txt").path
        try "x".write(toFile: tiny, atomically: true, encoding: .utf8)
        let docs = [tiny, try Self.shortDocument(in: dir, name: "a.txt"), try Self.shortDocument(in: dir, name: "b.txt")]
        let submitted = try Fixtures.run(binary, ["submit"] + docs + ["--model", model, "--tokens", "64", "--db", url, "--quiet"])
        #expect(submitted.status == 0, "\(submitted.stderr)")
        let ids = try TestPostgres.psql(url, "SELECT id FROM run ORDER BY seq").split(separator: "\n").map(String.init)
        try #require(ids.count == 3)
        let worker = try Fixtures.run(binary, ["worker", "--db", url, "--threads", "1", "--idle-exit", "0", "--max-failures", "1",
                                               "--max-runs", "1", "--model", model],
                                      environment: ["XDG_DATA_HOME": dir.appendingPathComponent("data").path])
        #expect(worker.status == 0 && worker.stderr.contains("1 runs completed, 1 failed attempts"), "\(worker.stderr)")
        let failed = try Self.queueRow(url, ids[0]), first = try Self.queueRow(url, ids[1]), second = try Self.queueRow(url, ids[2])
        #expect(failed.state == "failed" && failed.failures == 1 && failed.status == "failed" && failed.error.contains("fewer than 2 tokens"), "\(failed)")
        #expect(first.state == "done" && first.status == "completed", "\(first)")
        #expect(second.state == "queued" && second.attempts == 0, "--max-runs 1 went on: \(second)")
    }

    @Test("SIGTERM: a worker checkpoints, gives the run back to the queue uncounted and exits 130; another worker finishes it")
    func sigtermHandsBack() throws {
        let binary = try #require(Fixtures.sinkstreamExecutable)
        let model = try #require(Fixtures.modelPath, "the default model is needed (scripts/test.sh fetches it)")
        let url = try TestPostgres.freshDatabase("wterm")
        let dir = try Fixtures.temporaryDirectory("pg-worker-term")
        defer { try? FileManager.default.removeItem(at: dir) }
        let doc = try Self.documents(in: dir)[0]
        let submitted = try Fixtures.run(binary, ["submit", doc, "--model", model, "--checkpoint-every", "256", "--db", url, "--quiet"])
        #expect(submitted.status == 0, "\(submitted.stderr)")
        let runID = try TestPostgres.psql(url, "SELECT id FROM run")
        try Self.countCompletions(url)
        let home = ["XDG_DATA_HOME": dir.appendingPathComponent("data").path]
        let args = ["worker", "--db", url, "--threads", "1", "--idle-exit", "1", "--poll", "0.2", "--model", model]
        let w = try Worker(binary: binary, arguments: args, environment: home, dir: dir, name: "term")
        defer { if w.process.isRunning { kill(w.pid, SIGKILL) } }
        let checkpointed = try Self.waitFor(120) { try TestPostgres.psql(url, "SELECT tokens > 0 FROM run") == "t" }
        #expect(checkpointed, "the worker never checkpointed: \(w.log)")
        kill(w.pid, SIGTERM)
        let status = w.wait(60)
        #expect(status == 130, "\(w.log)")
        let row = try Self.queueRow(url, runID)
        #expect(row.state == "queued" && row.failures == 0 && row.status == "paused" && row.error.isEmpty, "\(row)")
        let tokens = Int(try TestPostgres.psql(url, "SELECT tokens FROM run")) ?? 0
        let checkpoint = Int(try TestPostgres.psql(url, "SELECT max(tokenIndex) FROM checkpoint WHERE runID = '\(runID)'")) ?? -1
        #expect(tokens > 0 && checkpoint == tokens, "final checkpoint at \(checkpoint), run at \(tokens)")

        let next = try Fixtures.run(binary, ["worker", "--db", url, "--threads", "1", "--idle-exit", "0", "--model", model], environment: home)
        #expect(next.status == 0 && next.stderr.contains("resumes at token \(tokens)") && next.stderr.contains("1 runs completed"), "\(next.stderr)")
        #expect(try Self.completions(url)[runID] == 1)
        #expect(try Self.queueRow(url, runID).failures == 0)
    }

    @Test("Worker errors are clear and never print the password; a non-PostgreSQL --db is refused")
    func workerErrors() throws {
        let binary = try #require(Fixtures.sinkstreamExecutable)
        let url = try TestPostgres.freshDatabase("werr")
        var wrong = URLComponents(string: url)!
        wrong.password = "wrong-secret-4711"
        let denied = try Fixtures.run(binary, ["worker", "--db", wrong.string!, "--idle-exit", "0"])
        #expect(denied.status == 77, "\(denied.stderr)")
        #expect(!denied.stderr.contains("wrong-secret-4711") && denied.stderr.contains("password"))
        let down = try Fixtures.run(binary, ["worker", "--db", "postgres://u:pw-5150@127.0.0.1:1/db?sslmode=disable", "--idle-exit", "0"],
                                    environment: ["SINKSTREAM_PG_RETRY_SECONDS": "1"])
        #expect(down.status == 75, "\(down.stderr)")
        #expect(!down.stderr.contains("pw-5150") && down.stderr.contains("127.0.0.1:1"))
        let sqlite = try Fixtures.run(binary, ["worker", "--db", "/tmp/x.sqlite", "--idle-exit", "0"])
        #expect(sqlite.status == 64 && sqlite.stderr.contains("PostgreSQL"), "\(sqlite.stderr)")
        let idle = try Fixtures.run(binary, ["worker", "--db", url, "--idle-exit", "0", "--quiet"])
        #expect(idle.status == 0, "\(idle.stderr)")
    }
}

/// A value set from a closure.
final class Box<T>: @unchecked Sendable {
    var value: T?
}
