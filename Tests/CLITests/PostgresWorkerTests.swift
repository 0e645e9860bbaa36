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
        let logs = b.log + c.log
        for row in rows {
            let completions = logs.components(separatedBy: "run \(row[0]) completed").count - 1
            #expect(completions == 1, "run \(row[0]) completed \(completions) times:\n\(logs)")
        }
        #expect(!a.log.contains("completed at token") || !a.log.contains("run \(killed) completed"))

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
