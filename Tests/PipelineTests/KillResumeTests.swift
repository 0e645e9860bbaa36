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
