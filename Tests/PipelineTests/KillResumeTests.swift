import Foundation
import Store
import Testing
import TestSupport

/// The real executable, killed the hard way at random moments, must resume to the same result.
@Suite("SIGKILL and SIGINT during scoring, then resume", .serialized)
struct KillResumeTests {
    struct Setup {
        let binary: String
        let dir: URL
        let db: String
        let doc: String
        let arguments: [String]
    }

    func setup(_ label: String) throws -> Setup? {
        guard let binary = Fixtures.sinkstreamExecutable, Fixtures.modelPath != nil else { return nil }
        let dir = try Fixtures.temporaryDirectory(label)
        let doc = try SharedModel.goldenDocument(in: dir)
        let db = dir.appendingPathComponent("runs.sqlite").path
        let args = ["--db", db, "--threads", "2", "--sinks", "4", "--window", "252", "--evict", "batch:64",
                    "--chunk", "32", "--checkpoint-every", "64", "--checkpoint-seconds", "0"]
        return Setup(binary: binary, dir: dir, db: db, doc: doc, arguments: args)
    }

    func start(_ s: Setup, _ args: [String], faultDelay: Int = 0) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: s.binary)
        p.arguments = args
        var env = ProcessInfo.processInfo.environment
        if faultDelay > 0 { env["SINKSTREAM_FAULT_CHECKPOINT_DELAY_MS"] = String(faultDelay) }
        p.environment = env
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        return p
    }

    func export(_ s: Setup, _ run: String) throws -> String {
        let r = try Fixtures.run(s.binary, ["export", run, "--nll", "--db", s.db])
        #expect(r.status == 0, "export failed: \(r.stderr)")
        return r.stdout
    }

    func reference(_ s: Setup) throws -> String {
        let straight = try Fixtures.run(s.binary, ["score", s.doc] + s.arguments)
        #expect(straight.status == 0, "\(straight.stderr)")
        let id = straight.stdout.split(separator: "\n").first { $0.hasPrefix("run:") }?.split(separator: " ").last.map(String.init) ?? ""
        return try export(s, id)
    }

    func lastRunID(_ s: Setup) throws -> String {
        let store = try RunStore(path: s.db, readOnly: true)
        return try store.runs(task: nil, status: nil, batchID: nil).last?.id ?? ""
    }

    @Test("SIGKILL at random moments, including inside checkpoint transactions, then resume: identical losses")
    func sigkill() throws {
        guard let s = try setup("kill") else { Issue.record("model or executable missing"); return }
        let expected = try reference(s)
        #expect(expected.split(separator: "\n").count == 2199)

        var process = try start(s, ["score", s.doc] + s.arguments, faultDelay: 150)
        var generator = SystemRandomNumberGenerator()
        var kills: [Double] = []
        var id = ""
        for round in 0..<4 {
            let delay = Double.random(in: 0.8...2.5, using: &generator)
            kills.append(delay)
            Thread.sleep(forTimeInterval: delay)
            guard process.isRunning else { break }
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            let store = try RunStore(path: s.db)
            #expect(try store.integrityCheck() == "ok", "after kill \(round)")
            id = try lastRunID(s)
            // Every other round, kill while checkpoints take long; otherwise at normal speed.
            process = try start(s, ["resume", id, "--db", s.db, "--threads", "2"], faultDelay: round % 2 == 0 ? 0 : 150)
        }
        process.waitUntilExit()
        if process.terminationStatus != 0 {
            // The last resume may have been started on a finished run; finish it cleanly.
            _ = try Fixtures.run(s.binary, ["resume", id, "--db", s.db])
        }
        let store = try RunStore(path: s.db, readOnly: true)
        #expect(try store.run(id: id)?.status == .completed, "kills at \(kills)")
        #expect(try export(s, id) == expected, "kills at \(kills)")
        let metrics = try store.metrics(runID: id)
        for (a, b) in zip(metrics, metrics.dropFirst()) { #expect(a.bucketEnd == b.bucketStart) }
        #expect(metrics.last?.bucketEnd == 2199)
    }

    @Test("SIGINT writes a final checkpoint, pauses with exit status 130, and resume completes identically")
    func sigint() throws {
        guard let s = try setup("int") else { Issue.record("model or executable missing"); return }
        let expected = try reference(s)
        let process = try start(s, ["score", s.doc] + s.arguments)
        Thread.sleep(forTimeInterval: 1.5)
        kill(process.processIdentifier, SIGINT)
        process.waitUntilExit()
        #expect(process.terminationStatus == 130)
        let id = try lastRunID(s)
        let store = try RunStore(path: s.db)
        #expect(try store.run(id: id)?.status == .paused)
        let resumed = try Fixtures.run(s.binary, ["resume", id, "--db", s.db])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(try export(s, id) == expected)
        let again = try Fixtures.run(s.binary, ["resume", id, "--db", s.db])
        #expect(again.status != 0 && again.stderr.contains("already completed"))
    }
}

extension KillResumeTests {
    @Test("SIGKILL during a run on qwen2 and gemma3, then resume: losses bit-identical to an uninterrupted run (gemma3 past its 512-token local window and several evictions)",
          arguments: ArchitectureModel.all)
    func sigkillOtherArchitectures(_ model: ArchitectureModel) throws {
        let binary = try #require(Fixtures.sinkstreamExecutable)
        let path = try #require(model.path, "the \(model) model is missing (scripts/test.sh fetches it)")
        let dir = try Fixtures.temporaryDirectory("kill-\(model)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let doc = dir.appendingPathComponent("doc.txt").path
        try Data(try GoldenA.load(model.golden).text.utf8).write(to: URL(fileURLWithPath: doc))
        func setup(_ db: String) -> Setup {
            Setup(binary: binary, dir: dir, db: db, doc: doc, arguments: [
                "--db", db, "--model", path, "--threads", "2", "--sinks", "4", "--window", "252", "--evict", "batch:64",
                "--chunk", "32", "--checkpoint-every", "64", "--checkpoint-seconds", "0", "--tokens", "1400",
            ])
        }
        // The uninterrupted run in a store of its own, so the killed run is the only one below.
        let expected = try reference(setup(dir.appendingPathComponent("reference.sqlite").path))
        #expect(expected.split(separator: "\n").count == 1400)
        let db = dir.appendingPathComponent("runs.sqlite").path
        let s = setup(db)

        var process = try start(s, ["score", doc] + s.arguments)
        var kills = 0
        var id = ""
        for _ in 0..<2 {
            // Kill once the run has stored a checkpoint past the last kill's (or after 20 s).
            let deadline = Date().addingTimeInterval(20)
            let before = kills == 0 ? 0 : try checkpointPosition(db: db, id: id)
            while process.isRunning, Date() < deadline {
                Thread.sleep(forTimeInterval: 0.2)
                if id.isEmpty { id = (try? lastRunID(s)) ?? "" }
                if !id.isEmpty, let at = try? checkpointPosition(db: db, id: id), at > before + 128 { break }
            }
            guard process.isRunning else { break }
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            kills += 1
            id = try lastRunID(s)
            process = try start(s, ["resume", id, "--db", db, "--threads", "2"])
        }
        process.waitUntilExit()
        #expect(kills == 2, "the run ended before it could be killed twice")
        #expect(process.terminationStatus == 0)
        let store = try RunStore(path: db, readOnly: true)
        #expect(try store.run(id: id)?.status == .completed)
        #expect(try export(s, id) == expected, "\(model): resumed losses differ from the uninterrupted run")
    }

    /// Tokens covered by the run's newest checkpoint (0 without one).
    func checkpointPosition(db: String, id: String) throws -> Int {
        let store = try RunStore(path: db, readOnly: true)
        return Int(try store.latestCheckpoint(runID: id)?.tokenIndex ?? 0)
    }
}
