import Foundation
import Store
import Testing
import TestSupport

/// The real executable, killed with SIGKILL in the middle of a section's generation, must resume
/// to output files byte-identical to an uninterrupted run.
@Suite("Task runs: SIGKILL mid-generation, resume, batches", .serialized)
struct TaskKillResumeTests {
    struct Setup {
        let binary: String
        let dir: URL
        let doc: String
    }

    func setup(_ label: String) throws -> Setup? {
        guard let binary = Fixtures.sinkstreamExecutable, Fixtures.modelPath != nil else { return nil }
        let dir = try Fixtures.temporaryDirectory(label)
        let doc = dir.appendingPathComponent("doc.txt").path
        try Data((TaskDocuments.threeParagraphs + TaskDocuments.threeParagraphs.uppercased()).utf8).write(to: URL(fileURLWithPath: doc))
        return Setup(binary: binary, dir: dir, doc: doc)
    }

    func start(_ binary: String, _ args: [String], faultDelay: Int) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = args
        var env = ProcessInfo.processInfo.environment
        if faultDelay > 0 { env["SINKSTREAM_FAULT_CHECKPOINT_DELAY_MS"] = String(faultDelay) }
        p.environment = env
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        return p
    }

    /// The latest checkpoint of the newest run, if it was taken while a reply was being generated: its sequence.
    func midGenerationCheckpoint(db: String) -> (run: String, sequence: Int64)? {
        guard let store = try? RunStore(path: db, readOnly: true),
              let run = try? store.runs().last, let checkpoint = try? store.latestCheckpoint(runID: run.id),
              let state = try? JSONSerialization.jsonObject(with: checkpoint.taskState) as? [String: Any],
              let job = state["job"] as? [String: Any], let generated = job["generated"] as? [Any], !generated.isEmpty
        else { return nil }
        return (run.id, checkpoint.sequence)
    }

    /// Runs `command` straight, then again with SIGKILLs right after mid-generation checkpoints, resuming each time.
    func killAndCompare(_ s: Setup, command: [String], outputName: String) throws {
        // The default model (tasks would default to the larger Qwen2.5-Coder-0.5B): fast, and exact all the same.
        let common = ["--model", "smollm2-135m-instruct", "--threads", "2", "--section-tokens", "64", "--max-tokens", "16",
                      "--checkpoint-every", "5", "--checkpoint-seconds", "0"]
        let refOut = s.dir.appendingPathComponent("ref-" + outputName).path
        let refDB = s.dir.appendingPathComponent("ref.sqlite").path
        let straight = try Fixtures.run(s.binary, command + [s.doc, "--db", refDB, "--output", refOut] + common)
        #expect(straight.status == 0, "\(straight.stderr)")
        let expected = try Data(contentsOf: URL(fileURLWithPath: refOut))
        #expect(!expected.isEmpty)

        let out = s.dir.appendingPathComponent("killed-" + outputName).path
        let db = s.dir.appendingPathComponent("killed.sqlite").path
        var process = try start(s.binary, command + [s.doc, "--db", db, "--output", out] + common, faultDelay: 0)
        var killsMidGeneration = 0
        var lastKilled: Int64 = 0
        var runID = ""
        for round in 0..<3 {
            // Wait for a fresh checkpoint taken inside a generation, then kill at once.
            let deadline = Date().addingTimeInterval(60)
            var found = false
            while process.isRunning && Date() < deadline {
                if let c = midGenerationCheckpoint(db: db), c.sequence > lastKilled {
                    runID = c.run
                    lastKilled = c.sequence
                    found = true
                    break
                }
                Thread.sleep(forTimeInterval: 0.02)
            }
            guard found, process.isRunning else { break }
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            killsMidGeneration += 1
            #expect(try RunStore(path: db).integrityCheck() == "ok")
            process = try start(s.binary, ["resume", runID, "--db", db, "--threads", round % 2 == 0 ? "1" : "2"], faultDelay: round == 1 ? 100 : 0)
        }
        process.waitUntilExit()
        if process.terminationStatus != 0 {
            let finish = try Fixtures.run(s.binary, ["resume", runID, "--db", db])
            #expect(finish.status == 0, "\(finish.stderr)")
        }
        #expect(killsMidGeneration >= 2)
        #expect(try RunStore(path: db, readOnly: true).run(id: runID)?.status == .completed)
        #expect(try Data(contentsOf: URL(fileURLWithPath: out)) == expected)
    }

    @Test("Greedy summarize: SIGKILL mid-generation, resume → identical Markdown")
    func summarizeKill() throws {
        guard let s = try setup("sum-kill") else { Issue.record("model or executable missing"); return }
        try killAndCompare(s, command: ["summarize", "--length", "short"], outputName: "summary.md")
    }

    @Test("In a branch of the document stream: SIGKILL mid-generation, resume → identical Markdown and translation")
    func streamBranchKill() throws {
        guard let s = try setup("branch-kill") else { Issue.record("model or executable missing"); return }
        try killAndCompare(s, command: ["summarize", "--length", "short", "--context", "stream"], outputName: "summary.md")
        try killAndCompare(s, command: ["translate", "--to", "French", "--context", "stream", "--memo"], outputName: "fr.txt")
    }

    @Test("Seeded sampling translate to JSONL: SIGKILL mid-generation, resume → identical file")
    func translateKill() throws {
        guard let s = try setup("tr-kill") else { Issue.record("model or executable missing"); return }
        try killAndCompare(s, command: ["translate", "--style", "modern English", "--temperature", "0.8", "--top-k", "40",
                                        "--top-p", "0.95", "--seed", "5", "--jsonl"], outputName: "out.jsonl")
        let lines = try String(contentsOfFile: s.dir.appendingPathComponent("ref-out.jsonl").path, encoding: .utf8).split(separator: "\n")
        let objects = lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(objects.count == lines.count && objects.count >= 4)
        // The sections' source texts concatenate back to the document.
        let source = objects.compactMap { $0["source"] as? String }.joined()
        #expect(source == (try String(contentsOfFile: s.doc, encoding: .utf8)))
    }

    @Test("A batch of three files with one unreadable: the other two complete, the failure is reported, exit status non-zero")
    func batchWithFailure() throws {
        guard let s = try setup("batch") else { Issue.record("model or executable missing"); return }
        let a = s.dir.appendingPathComponent("alpha.txt").path, b = s.dir.appendingPathComponent("beta.txt").path
        try Data(TaskDocuments.threeParagraphs.utf8).write(to: URL(fileURLWithPath: a))
        try Data(TaskDocuments.threeParagraphs.uppercased().utf8).write(to: URL(fileURLWithPath: b))
        let missing = s.dir.appendingPathComponent("missing.txt").path
        let outDir = s.dir.appendingPathComponent("out").path
        let db = s.dir.appendingPathComponent("runs.sqlite").path
        let r = try Fixtures.run(s.binary, ["summarize", a, missing, b, "--model", "smollm2-135m-instruct", "--output-dir", outDir, "--db", db, "--threads", "2",
                                            "--section-tokens", "64", "--max-tokens", "8", "--length", "short"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("missing.txt") && r.stderr.contains("No such file"), "\(r.stderr)")
        #expect(r.stderr.contains("1 of 3 inputs failed"), "\(r.stderr)")
        #expect(FileManager.default.fileExists(atPath: outDir + "/alpha.summary.md"))
        #expect(FileManager.default.fileExists(atPath: outDir + "/beta.summary.md"))
        let runs = try RunStore(path: db, readOnly: true).runs()
        #expect(runs.count == 2 && runs.allSatisfy { $0.status == .completed })
        #expect(Set(runs.compactMap(\.batchID)).count == 1)
    }

    @Test("SIGKILL during a batch, then resume --batch finishes every file")
    func batchResume() throws {
        guard let s = try setup("batch-resume") else { Issue.record("model or executable missing"); return }
        let a = s.dir.appendingPathComponent("alpha.txt").path, b = s.dir.appendingPathComponent("beta.txt").path
        try Data(TaskDocuments.threeParagraphs.utf8).write(to: URL(fileURLWithPath: a))
        try Data(TaskDocuments.threeParagraphs.uppercased().utf8).write(to: URL(fileURLWithPath: b))
        let outDir = s.dir.appendingPathComponent("out").path
        let db = s.dir.appendingPathComponent("runs.sqlite").path
        let process = try start(s.binary, ["translate", a, b, "--to", "French", "--model", "smollm2-135m-instruct", "--output-dir", outDir, "--db", db, "--threads", "2",
                                           "--section-tokens", "64", "--max-tokens", "12", "--checkpoint-every", "5"], faultDelay: 0)
        let deadline = Date().addingTimeInterval(60)
        while process.isRunning && Date() < deadline && midGenerationCheckpoint(db: db) == nil { Thread.sleep(forTimeInterval: 0.02) }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let batch = try #require(try RunStore(path: db, readOnly: true).runs().first?.batchID)
        let r = try Fixtures.run(s.binary, ["resume", "--batch", batch, "--db", db, "--threads", "2"])
        #expect(r.status == 0, "\(r.stderr)")
        let runs = try RunStore(path: db, readOnly: true).runs(batchID: batch)
        #expect(runs.count == 2 && runs.allSatisfy { $0.status == .completed })
        #expect(FileManager.default.fileExists(atPath: outDir + "/alpha.translated.txt"))
        #expect(FileManager.default.fileExists(atPath: outDir + "/beta.translated.txt"))
    }
}
