import Foundation
import Store
import Testing
import TestSupport

/// Processes, kills and full disks against one run store.
@Suite("Run store under faults and concurrency", .serialized)
struct StoreFaultTests {
    struct Setup {
        let binary: String
        let dir: URL
        let db: String
        let model: String
    }

    func setup(_ label: String) throws -> Setup {
        let binary = try #require(Fixtures.sinkstreamExecutable)
        let dir = try Fixtures.temporaryDirectory(label)
        let model = dir.appendingPathComponent("tiny.gguf").path
        try TinyModel.write(to: model, context: 100_000)
        return Setup(binary: binary, dir: dir, db: dir.appendingPathComponent("runs.sqlite").path, model: model)
    }

    func document(_ s: Setup, _ name: String, bytes: Int) throws -> String {
        let path = s.dir.appendingPathComponent(name).path
        let text = String(try GoldenA.load().text.prefix(4_000))
        var out = ""
        while out.utf8.count < bytes { out += text }
        try Data(out.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test("SIGKILL at random points over 50 checkpoint cycles never corrupts the store or loses a checkpoint")
    func fiftyKills() throws {
        let s = try setup("fifty-kills")
        let doc = try document(s, "doc.txt", bytes: 400_000)
        let common = ["--db", s.db, "--model", s.model, "--threads", "1"]
        var generator = SystemRandomNumberGenerator()
        var lastCheckpoint: Int64 = -1
        var runID: String?
        var cycles = 0, attempts = 0
        while cycles < 50 {
            attempts += 1
            if attempts > 300 {
                Issue.record("only \(cycles) of 300 kills landed after a checkpoint: checkpoints are too slow")
                break
            }
            let args = runID.map { ["resume", $0] + common }
                ?? (["score", doc, "--window", "64", "--sinks", "4", "--evict", "batch:16", "--chunk", "16",
                     "--checkpoint-every", "32", "--checkpoint-seconds", "0"] + common)
            let p = Process()
            p.executableURL = URL(fileURLWithPath: s.binary)
            p.arguments = args
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            Thread.sleep(forTimeInterval: Double.random(in: 0.1...0.4, using: &generator))
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            let store = try RunStore(path: s.db)
            #expect(try store.integrityCheck() == "ok", "cycle \(cycles)")
            guard let run = try store.runs(task: nil, status: nil, batchID: nil).last else { continue }
            runID = run.id
            if let checkpoint = try store.latestCheckpoint(runID: run.id) {
                #expect(checkpoint.tokenIndex >= lastCheckpoint, "a checkpoint was lost at cycle \(cycles)")
                lastCheckpoint = checkpoint.tokenIndex
                cycles += 1
            }
            if run.status == .completed { break }
        }
        #expect(cycles >= 10, "the kills must land after checkpoints exist")
        #expect(lastCheckpoint > 0)
    }

    @Test("Two processes scoring different documents into one database both complete")
    func concurrentRuns() throws {
        let s = try setup("concurrent")
        let a = try document(s, "a.txt", bytes: 30_000), b = try document(s, "b.txt", bytes: 40_000)
        func start(_ doc: String) throws -> Process {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: s.binary)
            p.arguments = ["score", doc, "--db", s.db, "--model", s.model, "--threads", "1", "--window", "64", "--evict", "batch:16",
                           "--checkpoint-every", "64", "--checkpoint-seconds", "0"]
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            return p
        }
        let p1 = try start(a), p2 = try start(b)
        p1.waitUntilExit()
        p2.waitUntilExit()
        #expect(p1.terminationStatus == 0 && p2.terminationStatus == 0)
        let runs = try RunStore(path: s.db).runs(task: nil, status: nil, batchID: nil)
        #expect(runs.count == 2)
        #expect(runs.allSatisfy { $0.status == .completed })
    }

    @Test("A full disk during a checkpoint pauses the run (exit 75) and keeps the previous checkpoint")
    func diskFull() throws {
        guard let model = Fixtures.modelPath else { Issue.record("model missing"); return }
        let binary = try #require(Fixtures.sinkstreamExecutable)
        let dir = try Fixtures.temporaryDirectory("disk-full")
        let db = dir.appendingPathComponent("runs.sqlite").path
        let doc = dir.appendingPathComponent("doc.txt").path
        try Data(try GoldenA.load().text.utf8).write(to: URL(fileURLWithPath: doc))
        // A file-size limit (ulimit -f, in 512-byte blocks) stands in for a full disk: the
        // write-ahead log cannot grow past 6 MB, a few checkpoints of 64 tokens × 46 KB.
        let command = "ulimit -f 12000; exec '\(binary)' score '\(doc)' --db '\(db)' --model '\(model)' --sinks 4 --window 252 --evict batch:64 --checkpoint-every 64 --chunk 64"
        let r = try Fixtures.run("/bin/sh", ["-c", command])
        #expect(r.status == 75, "\(r.stderr)")
        #expect(r.stderr.contains("paused at its last checkpoint"))
        let store = try RunStore(path: db)
        #expect(try store.integrityCheck() == "ok")
        let run = try #require(try store.runs(task: nil, status: nil, batchID: nil).first)
        #expect(run.status == .paused)
        let checkpoint = try #require(try store.latestCheckpoint(runID: run.id))
        #expect(checkpoint.tokenIndex > 0)
        let resumed = try Fixtures.run(binary, ["resume", run.id, "--db", db])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(try store.run(id: run.id)?.status == .completed)
    }
}
