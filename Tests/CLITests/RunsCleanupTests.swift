#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Store
import Testing
import TestSupport

/// `runs`, `runs show`, `runs delete` and `runs prune` against real runs of the tiny model:
/// one status everywhere (a killed run is `interrupted`), readable configurations, honest
/// progress, and cleaning up without ever touching a run that can still go on.
@Suite("runs: honest status, delete and prune", .serialized)
struct RunsCleanupTests {
    struct Setup {
        let binary: String
        let dir: URL
        let db: String
        let model: String

        var common: [String] { ["--db", db, "--model", model, "--threads", "1"] }

        func run(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
            try Fixtures.run(binary, arguments)
        }

        /// `runs ARGS --db DB`.
        func runs(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
            try Fixtures.run(binary, ["runs"] + arguments + ["--db", db])
        }

        /// A document of about `bytes` bytes of English.
        func document(_ name: String, bytes: Int, seed: Int = 0) throws -> String {
            let path = dir.appendingPathComponent(name).path
            let text = String(try GoldenA.load().text.prefix(4_000))
            var out = "Document \(name), variant \(seed).\n"
            while out.utf8.count < bytes { out += text }
            try Data(out.utf8.prefix(bytes)).write(to: URL(fileURLWithPath: path))
            return path
        }

        /// Starts `score DOC --mode dense` with frequent checkpoints, without waiting.
        func startScore(_ doc: String) throws -> Process {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: binary)
            p.arguments = ["score", doc, "--mode", "dense", "--chunk", "16", "--checkpoint-every", "64", "--checkpoint-seconds", "0"] + common
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            return p
        }

        /// Waits until the newest run of the store has a checkpoint; returns its id.
        func waitForCheckpoint(after known: Set<String>, timeout: TimeInterval = 120) throws -> String? {
            let deadline = Date().addingTimeInterval(timeout)
            while Date() < deadline {
                if FileManager.default.fileExists(atPath: db), let store = try? RunStore(path: db, readOnly: true),
                   let run = try? store.runs(task: nil, status: nil, batchID: nil).last(where: { !known.contains($0.id) }),
                   (try? store.latestCheckpoint(runID: run.id)) != nil {
                    return run.id
                }
                usleep(20_000)
            }
            return nil
        }

        /// Every run id in the store.
        func ids() throws -> Set<String> {
            guard FileManager.default.fileExists(atPath: db) else { return [] }
            return Set(try RunStore(path: db, readOnly: true).runs(task: nil, status: nil, batchID: nil).map(\.id))
        }

        /// A run that was stopped with `signal` after its first checkpoint.
        func stoppedRun(_ doc: String, signal: Int32) throws -> String {
            let known = try ids()
            let p = try startScore(doc)
            let id = try waitForCheckpoint(after: known)
            kill(p.processIdentifier, signal)
            p.waitUntilExit()
            return try #require(id, "no checkpoint within the timeout")
        }

        /// The lock files in the store's lock directory.
        var lockFiles: [String] {
            ((try? FileManager.default.contentsOfDirectory(atPath: db + ".locks")) ?? []).filter { $0.hasSuffix(".lock") }.sorted()
        }

        /// The database file and its write-ahead log.
        var fileBytes: Int64 {
            func size(_ p: String) -> Int64 {
                ((try? FileManager.default.attributesOfItem(atPath: p))?[.size] as? NSNumber)?.int64Value ?? 0
            }
            return size(db) + size(db + "-wal")
        }
    }

    func setup(_ label: String) throws -> Setup {
        let binary = try #require(Fixtures.sinkstreamExecutable)
        let dir = try Fixtures.temporaryDirectory(label)
        let model = dir.appendingPathComponent("tiny.gguf").path
        try TinyModel.write(to: model, context: 100_000)
        return Setup(binary: binary, dir: dir, db: dir.appendingPathComponent("runs.sqlite").path, model: model)
    }

    /// The cells of the `runs` table row of a run.
    func row(_ table: String, _ id: String) -> [String]? {
        table.split(separator: "\n").first { $0.hasPrefix(id + " ") }.map { $0.split(separator: " ").map(String.init) }
    }

    /// The value of a `key:` line of `runs show`.
    func field(_ show: String, _ key: String) -> String? {
        show.split(separator: "\n").first { $0.hasPrefix(key + ":") }
            .map { String($0.dropFirst(key.count + 1)).trimmingCharacters(in: .whitespaces) }
    }

    func jsonRuns(_ s: Setup, _ extra: [String] = []) throws -> [[String: Any]] {
        let r = try s.runs(["--format", "json"] + extra)
        #expect(r.status == 0, "\(r.stderr)")
        return try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]])
    }

    @Test("A score killed with kill -9 is interrupted in runs, runs show, --status and report; live, it is running and cannot be deleted")
    func killedRunIsInterrupted() throws {
        let s = try setup("runs-killed")
        let doc = try s.document("long.txt", bytes: 40_000)
        let p = try s.startScore(doc)
        let id = try #require(try s.waitForCheckpoint(after: []), "no checkpoint within the timeout")

        // While it runs: running everywhere, with its pid; delete refuses it; prune leaves it.
        let live = try s.runs([])
        #expect(row(live.stdout, id)?[2] == "running", "\(live.stdout)")
        let liveShow = try s.runs(["show", id])
        #expect(field(liveShow.stdout, "status")?.hasPrefix("running (process \(p.processIdentifier))") == true, "\(liveShow.stdout)")
        #expect(try s.runs(["--status", "running"]).stdout.contains(id))
        #expect(try jsonRuns(s).first?["holder_pid"] as? Int == Int(p.processIdentifier))
        let refused = try s.runs(["delete", id])
        #expect(refused.status == 75, "\(refused.status) \(refused.stderr)")
        #expect(refused.stderr.contains("in use by process \(p.processIdentifier)"), "\(refused.stderr)")
        #expect(refused.stdout.isEmpty)
        let pruned = try s.runs(["prune", "--completed"])
        #expect(pruned.status == 0, "\(pruned.stderr)")
        #expect(pruned.stdout.contains("kept 1 unfinished run"), "\(pruned.stdout)")
        #expect(try s.ids() == [id])

        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()

        // Before: `runs` said paused, `runs show` running, --status running listed it as paused
        // and --status paused found nothing.
        let table = try s.runs([])
        #expect(row(table.stdout, id)?[2] == "interrupted", "\(table.stdout)")
        let show = try s.runs(["show", id])
        #expect(show.status == 0, "\(show.stderr)")
        #expect(field(show.stdout, "status")?.hasPrefix("interrupted") == true, "\(show.stdout)")
        let interrupted = try s.runs(["--status", "interrupted"])
        #expect(row(interrupted.stdout, id)?[2] == "interrupted", "\(interrupted.stdout)")
        for other in ["running", "paused", "failed", "completed"] {
            let r = try s.runs(["--status", other])
            #expect(r.status == 0 && !r.stdout.contains(id), "--status \(other): \(r.stdout)")
        }
        let json = try #require(try jsonRuns(s).first)
        #expect(json["status"] as? String == "interrupted")
        #expect(json["stored_status"] as? String == "running")
        #expect(try jsonRuns(s, ["--status", "interrupted"]).count == 1)
        let csv = try s.runs(["--format", "csv"])
        #expect(csv.stdout.split(separator: "\n").dropFirst().first?.hasPrefix("\(id),interrupted,") == true, "\(csv.stdout)")
        let report = try s.run(["report", id, "--db", s.db])
        #expect(report.status == 0, "\(report.stderr)")
        #expect((report.stdout + report.stderr).contains("interrupted at token"), "\(report.stdout) \(report.stderr)")

        let bogus = try s.runs(["--status", "bogus"])
        #expect(bogus.status == 64)
        #expect(bogus.stderr.contains("running, interrupted, paused, failed, completed"), "\(bogus.stderr)")

        // It resumes to completion, and is then completed everywhere.
        let resumed = try s.run(["resume", id] + s.common)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(row(try s.runs([]).stdout, id)?[2] == "completed")
        #expect(field(try s.runs(["show", id]).stdout, "status") == "completed")
        #expect(s.lockFiles.isEmpty, "a finished run leaves no lock file: \(s.lockFiles)")
    }

    @Test("runs show: readable configuration keys, stored size, honest DONE for --tokens; unknown ids exit 66")
    func show() throws {
        let s = try setup("runs-show")
        let doc = try s.document("doc.txt", bytes: 20_000)
        let limited = try s.run(["score", doc, "--mode", "dense", "--tokens", "200", "--keep-cache"] + s.common)
        #expect(limited.status == 0, "\(limited.stderr)")
        let small = try s.document("small.txt", bytes: 1_500)
        let whole = try s.run(["score", small, "--mode", "dense"] + s.common)
        #expect(whole.status == 0, "\(whole.stderr)")
        let runs = try RunStore(path: s.db).runs(task: nil, status: nil, batchID: nil)
        #expect(runs.count == 2)
        let limitedID = runs[0].id, wholeID = runs[1].id

        // Before: a run stopped by --tokens showed DONE 100% at a few per cent of the document.
        let table = try s.runs([])
        let limitedRow = try #require(row(table.stdout, limitedID))
        let percent = Double(runs[0].bytes) / Double(runs[0].documentSize) * 100
        #expect(percent < 50)
        #expect(table.stdout.contains("\(Int(percent.rounded()))% (--tokens)"), "\(table.stdout)")
        #expect(!limitedRow.contains("100%"), "\(limitedRow)")
        #expect(row(table.stdout, wholeID)?.contains("100%") == true, "\(table.stdout)")
        let json = try jsonRuns(s)
        #expect(json[0]["limited_by_tokens"] as? Bool == true && json[1]["limited_by_tokens"] as? Bool == false)
        #expect(abs((json[0]["done"] as? Double ?? 0) - percent / 100) < 1e-9)
        #expect((json[0]["stored_bytes"] as? Int ?? 0) > (json[0]["kv_cache_bytes"] as? Int ?? 0))
        #expect((json[0]["kv_cache_bytes"] as? Int ?? 0) > 0, "a run scored with --keep-cache keeps its K/V blocks")
        #expect((json[1]["kv_cache_bytes"] as? Int ?? 1) == 0, "a completed run drops its K/V blocks")

        // Before: `config: {"mode":{"dense":{}},...}` on one line.
        let show = try s.runs(["show", limitedID])
        #expect(show.status == 0, "\(show.stderr)")
        #expect(!show.stdout.contains("{\""), "raw JSON: \(show.stdout)")
        let config = show.stdout.components(separatedBy: "config:\n").last ?? ""
        #expect(config.split(separator: "\n") == [
            "  mode: dense", "  bucket: 1024", "  checkpointEverySeconds: 30", "  checkpointEveryTokens: 16384", "  chunk: 256",
            "  keepCache: true", "  precision: fast", "  replaceInvalid: false", "  tokenLimit: 200",
        ], "\(show.stdout)")
        let stored = try #require(field(show.stdout, "stored"))
        #expect(stored.contains("K/V cache") && stored.contains("iB"), "\(stored)")
        #expect(field(show.stdout, "done")?.contains("(--tokens)") == true, "\(show.stdout)")

        // Enums with values, nested objects and task configurations, generically from the JSON.
        let store = try RunStore(path: s.db)
        func insert(_ config: String, task: RunTask = .score) throws -> String {
            try store.createRun(NewRun(task: task, documentPath: doc, documentSHA256: runs[0].documentSHA256, documentSize: 20_000,
                                       modelPath: s.model, modelSHA256: runs[0].modelSHA256, config: config, mode: "x")).id
        }
        let window = try insert(#"{"mode":{"window":{"_0":1020}},"chunk":256,"tokenLimit":null}"#)
        let sink = try insert(#"{"mode":{"sinkBatch":{"sinks":4,"window":1020,"evict":256}},"precision":"fast"}"#)
        let task = try insert(#"{"kind":"translate","sampling":{"temperature":0.7,"topP":0.9},"language":"Spanish \"neutral\"","template":{"chatML":{}},"stops":["a","b"]}"#, task: .translate)
        func configLines(_ id: String) throws -> [String] {
            let r = try s.runs(["show", id])
            #expect(r.status == 0, "\(r.stderr)")
            return (r.stdout.components(separatedBy: "config:\n").last ?? "").split(separator: "\n").map(String.init)
        }
        #expect(try configLines(window) == ["  mode: window(1020)", "  chunk: 256", "  tokenLimit: none"])
        #expect(try configLines(sink) == ["  mode: sinkBatch(evict: 256, sinks: 4, window: 1020)", "  precision: fast"])
        #expect(try configLines(task) == ["  kind: translate", "  language: Spanish \"neutral\"", "  sampling.temperature: 0.7",
                                          "  sampling.topP: 0.9", "  stops: a, b", "  template: chatML"])

        // Before: exit 64 and a usage text.
        for command in [["show", "rnothere"], ["delete", "rnothere"]] {
            let unknown = try s.runs(command)
            #expect(unknown.status == 66, "\(command): \(unknown.status)")
            #expect(unknown.stderr == "Error: there is no run 'rnothere' in this database; `sinkstream runs` lists them.\n", "\(unknown.stderr)")
        }
        let export = try s.run(["export", "rnothere", "--nll", "--db", s.db])
        #expect(export.status == 66 && export.stderr.contains("there is no run 'rnothere'"), "\(export.stderr)")
        // A known id with an unknown one: nothing is deleted.
        let mixed = try s.runs(["delete", wholeID, "rnothere"])
        #expect(mixed.status == 66)
        #expect(try s.ids().contains(wholeID))
        let deleted = try s.runs(["delete", wholeID, window])
        #expect(deleted.status == 0, "\(deleted.stderr)")
        #expect(deleted.stdout.contains("deleted run \(wholeID) (") && deleted.stdout.contains("deleted run \(window) ("), "\(deleted.stdout)")
        #expect(deleted.stdout.contains("freed "), "\(deleted.stdout)")
        #expect(try s.ids() == [limitedID, sink, task])
        #expect(s.lockFiles.isEmpty)
    }

    @Test("runs prune on 20 runs: completed runs' caches and runs go, paused and interrupted runs survive and resume")
    func prune() throws {
        let s = try setup("runs-prune")
        var completed: [String] = []
        // Completed runs that kept their caches (--keep-cache, or stored by a version that kept
        // them): what a store of 26 runs at 394 MB was made of.
        for i in 0 ..< 16 {
            let doc = try s.document("doc\(i).txt", bytes: 2_000 + 150 * i, seed: i)
            let r = try s.run(["score", doc, "--mode", "dense", "--chunk", "32", "--checkpoint-every", "128", "--keep-cache"] + s.common)
            #expect(r.status == 0, "\(r.stderr)")
        }
        completed = Array(try s.ids())
        #expect(completed.count == 16)
        // Before: each finished run left its lock file behind.
        #expect(s.lockFiles.isEmpty, "\(s.lockFiles)")
        var unfinished: [String] = []
        for i in 0 ..< 2 {
            unfinished.append(try s.stoppedRun(try s.document("paused\(i).txt", bytes: 30_000, seed: 100 + i), signal: SIGINT))
            unfinished.append(try s.stoppedRun(try s.document("killed\(i).txt", bytes: 30_000, seed: 200 + i), signal: SIGKILL))
        }
        let states = try jsonRuns(s).reduce(into: [String: String]()) { $0[$1["id"] as! String] = $1["status"] as? String }
        #expect(unfinished.map { states[$0] } == ["paused", "interrupted", "paused", "interrupted"], "\(states)")
        #expect(s.lockFiles.count == 2, "the killed runs' lock files: \(s.lockFiles)")
        // A lock file of a run that no longer exists.
        #expect(FileManager.default.createFile(atPath: s.db + ".locks/rgone00.lock", contents: Data("1\n".utf8)))
        let kvBefore = try unfinished.map { try RunStore(path: s.db).kvBlocks(runID: $0) }

        let sizeBefore = s.fileBytes
        let dry = try s.runs(["prune", "--completed", "--dry-run"])
        #expect(dry.status == 0, "\(dry.stderr)")
        #expect(dry.stdout.contains("would delete 16 completed runs") && dry.stdout.contains("dry run: nothing was changed"), "\(dry.stdout)")
        let idsAfterDryRun = try s.ids()
        #expect(s.fileBytes == sizeBefore && s.lockFiles.count == 3 && idsAfterDryRun.count == 20)

        let drop = try s.runs(["prune"])
        #expect(drop.status == 0, "\(drop.stderr)")
        let sizeAfterDrop = s.fileBytes
        #expect(drop.stdout.contains("drop the K/V caches of 16 completed runs"), "\(drop.stdout)")
        #expect(drop.stdout.contains("kept 4 unfinished runs"), "\(drop.stdout)")
        #expect(drop.stdout.contains("removed 3 lock files"), "\(drop.stdout)")
        #expect(drop.stdout.contains("(vacuumed)"), "\(drop.stdout)")
        #expect(sizeAfterDrop < sizeBefore / 2, "\(sizeBefore) -> \(sizeAfterDrop)")
        #expect(s.lockFiles.isEmpty, "\(s.lockFiles)")
        #expect(try s.ids().count == 20)
        for (id, blocks) in zip(unfinished, kvBefore) {
            #expect(try RunStore(path: s.db).kvBlocks(runID: id) == blocks, "run \(id)'s cache was touched")
        }
        // Completed runs keep their losses: report still works.
        let report = try s.run(["report", completed[0], "--db", s.db])
        #expect(report.status == 0, "\(report.stderr)")

        let delete = try s.runs(["prune", "--completed", "--older-than", "2w"])
        #expect(delete.status == 0 && delete.stdout.contains("no completed run to prune"), "\(delete.stdout)")
        let all = try s.runs(["prune", "--completed"])
        #expect(all.status == 0, "\(all.stderr)")
        #expect(all.stdout.contains("delete 16 completed runs"), "\(all.stdout)")
        let sizeAfter = s.fileBytes
        #expect(try s.ids() == Set(unfinished))
        print("runs prune, 16 completed + 4 unfinished runs: \(sizeBefore) bytes before, \(sizeAfterDrop) after dropping the completed runs' K/V caches, \(sizeAfter) after --completed")
        print(drop.stdout + all.stdout)

        // The survivors resume to completion.
        for id in unfinished {
            let r = try s.run(["resume", id] + s.common)
            #expect(r.status == 0, "resume \(id): \(r.stderr)")
        }
        let final = try jsonRuns(s)
        #expect(final.allSatisfy { $0["status"] as? String == "completed" }, "\(final.map { $0["status"] ?? "" })")
        #expect(final.allSatisfy { ($0["done"] as? Double) == 1 && ($0["tokens"] as? Int ?? 0) > 5_000 }, "\(final)")
        #expect(s.lockFiles.isEmpty)
        let bad = try s.runs(["prune", "--older-than", "3d"])
        #expect(bad.status == 64 && bad.stderr.contains("--completed"), "\(bad.stderr)")
        let badAge = try s.runs(["prune", "--completed", "--older-than", "3 days"])
        #expect(badAge.status == 64, "\(badAge.stderr)")
    }
}
