import Foundation
import Testing
import TestSupport

/// What a new user trips over first: options that fit the mode, one sentence and one exit
/// status per kind of error, progress that tells the truth, `--version`, `tokenize` on any text.
@Suite("A command line users can trust")
struct CommandLineTrustTests {
    let binary: String?
    init() { binary = Fixtures.sinkstreamExecutable }

    /// A tiny model, a database path and a document of `repeats` sentences in a fresh folder.
    private func setUp(_ name: String, repeats: Int = 60) throws -> (dir: URL, model: String, db: String, doc: String) {
        let dir = try Fixtures.temporaryDirectory(name)
        let model = dir.appendingPathComponent("tiny.gguf").path
        try TinyModel.write(to: model)
        let doc = dir.appendingPathComponent("doc.txt").path
        let text = (0..<repeats).map { "Sentence \($0) of a document that goes on. " }.joined()
        try Data(text.utf8).write(to: URL(fileURLWithPath: doc))
        return (dir, model, dir.appendingPathComponent("runs.sqlite").path, doc)
    }

    @Test("Every mode takes a small --window; the eviction batch is clamped to it and ignored where nothing evicts")
    func modesFitTheirOptions() throws {
        let binary = try #require(binary)
        let s = try setUp("modes-fit")
        let cases: [([String], String)] = [
            (["--mode", "window", "--window", "200"], "window(200)"),
            (["--mode", "sink", "--window", "100"], "sink_batch(4,100,100)"),
            (["--mode", "recompute", "--window", "64"], "recompute(64)"),
            (["--mode", "dense", "--window", "100", "--tokens", "400"], "dense"),
            (["--window", "1"], "sink(4,1)"),
        ]
        for (args, mode) in cases {
            let r = try Fixtures.run(binary, ["score", s.doc, "--model", s.model, "--db", s.db, "--quiet"] + args)
            #expect(r.status == 0, "\(args): \(r.stderr)")
            #expect(r.stdout.contains("mode:       \(mode) "), "\(args): \(r.stdout)")
            #expect(!r.stderr.contains("batch:256"), "\(args): a flag the user never gave: \(r.stderr)")
        }
        let dense = try Fixtures.run(binary, ["score", s.doc, "--model", s.model, "--db", s.db, "--quiet", "--mode", "dense", "--window", "100", "--tokens", "400"])
        #expect(dense.stderr.contains("warning: --window is ignored"), "\(dense.stderr)")
    }

    @Test("Options a mode cannot use and values out of bounds: exit 64 with a sentence naming the option and the bounds")
    func refusedOptions() throws {
        let binary = try #require(binary)
        let s = try setUp("options-refused")
        let cases: [([String], String)] = [
            (["--mode", "window", "--sinks", "8"], "window mode keeps no attention sinks"),
            (["--sinks", "-1"], "Please give --sinks a value between 0 and 65,536; got -1."),
            (["--sinks", "2000000"], "Please give --sinks a value between 0 and 65,536; got 2000000."),
            (["--window", "0"], "Please give --window a value between 1 and 16,777,216; got 0."),
            (["--chunk", "5000"], "Please give --chunk a value between 1 and 4096; got 5000."),
            (["--window", "200", "--evict", "batch:300"], "at most the window (200 tokens); got batch:300"),
        ]
        for (args, message) in cases {
            let r = try Fixtures.run(binary, ["score", s.doc, "--model", s.model, "--db", s.db] + args)
            #expect(r.status == 64, "\(args): exit \(r.status)")
            #expect(r.stderr.contains(message), "\(args): \(r.stderr)")
            #expect(!r.stderr.contains("Missing value"), "\(args)")
        }
        // compare and the tasks take the same group with the same bounds.
        let compare = try Fixtures.run(binary, ["compare", s.doc, "--model", s.model, "--db", s.db, "--sinks", "-1"])
        #expect(compare.status == 64 && compare.stderr.contains("between 0 and 65,536; got -1."), "\(compare.stderr)")
        let summarize = try Fixtures.run(binary, ["summarize", s.doc, "--model", s.model, "--db", s.db, "--chunk", "0"])
        #expect(summarize.status == 64 && summarize.stderr.contains("between 1 and 4096; got 0."), "\(summarize.stderr)")
    }

    @Test("An unknown run id: the same sentence and exit 66 from every command")
    func unknownRunIDs() throws {
        let binary = try #require(binary)
        let s = try setUp("unknown-ids")
        // A store with one run, so that the commands open a real database.
        let ok = try Fixtures.run(binary, ["score", s.doc, "--model", s.model, "--db", s.db, "--mode", "window", "--window", "64", "--quiet"])
        #expect(ok.status == 0, "\(ok.stderr)")
        let sentence = "there is no run 'zzzzzzz' in this database; `sinkstream runs` lists them."
        for args in [["report", "zzzzzzz"], ["resume", "zzzzzzz"], ["runs", "show", "zzzzzzz"], ["export", "zzzzzzz"]] {
            let r = try Fixtures.run(binary, args + ["--db", s.db])
            #expect(r.status == 66, "\(args): exit \(r.status) \(r.stderr)")
            #expect(r.stderr.contains(sentence), "\(args): \(r.stderr)")
            #expect(!r.stderr.contains("USAGE"), "\(args): no usage text for a run that does not exist")
        }
    }

    @Test("Exit statuses: a missing document 66, not text 65, a bad model 69, a paused run 130")
    func exitStatuses() throws {
        let binary = try #require(binary)
        let s = try setUp("exit-statuses")
        let missing = try Fixtures.run(binary, ["score", s.dir.appendingPathComponent("nope.txt").path, "--model", s.model, "--db", s.db])
        #expect(missing.status == 66, "\(missing.stderr)")
        let binaryDoc = s.dir.appendingPathComponent("binary.txt").path
        try Data([0x41, 0x00, 0x42]).write(to: URL(fileURLWithPath: binaryDoc))
        let notText = try Fixtures.run(binary, ["score", binaryDoc, "--model", s.model, "--db", s.db])
        #expect(notText.status == 65, "\(notText.stderr)")
        #expect(notText.stderr.contains(binaryDoc) && notText.stderr.contains("byte offset 1"), "\(notText.stderr)")
        let badModel = s.dir.appendingPathComponent("bad.gguf").path
        try Data("GGUF but not really".utf8).write(to: URL(fileURLWithPath: badModel))
        let model = try Fixtures.run(binary, ["score", s.doc, "--model", badModel, "--db", s.db])
        #expect(model.status == 69, "\(model.stderr)")
        #expect(model.stderr.contains(badModel), "\(model.stderr)")
        // A paused run exits 130 and says how to resume (the signal is sent once a checkpoint exists).
        let long = try setUp("exit-paused", repeats: 40_000)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["score", long.doc, "--model", long.model, "--db", long.db, "--mode", "window", "--window", "64",
                             "--checkpoint-every", "64", "--quiet"]
        let err = Pipe()
        process.standardError = err
        process.standardOutput = Pipe()
        try process.run()
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, !FileManager.default.fileExists(atPath: long.db + "-wal") { usleep(20_000) }
        usleep(300_000)
        process.interrupt()
        process.waitUntilExit()
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.terminationStatus == 130, "\(text)")
        #expect(text.contains("resume with: sinkstream resume "), "\(text)")
    }

    @Test("--progress json: the fraction grows smoothly from the bytes scored; the ETA waits a few seconds and never reads 0 before the end")
    func progressJSON() throws {
        let binary = try #require(binary)
        let s = try setUp("progress-json", repeats: 60_000)
        let r = try Fixtures.run(binary, ["score", s.doc, "--model", s.model, "--db", s.db, "--mode", "window", "--window", "64",
                                          "--progress", "json", "--progress-every", "0.05", "--format", "json"])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stderr.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        let progress = lines.filter { $0["event"] as? String == "progress" }
        #expect(progress.count >= 10, "\(r.stderr.prefix(2000))")
        let fractions = progress.compactMap { $0["fraction"] as? Double }
        #expect(fractions == fractions.sorted())
        #expect((fractions.first ?? 1) < 0.2, "\(fractions.prefix(3))")
        for (a, b) in zip(fractions, fractions.dropFirst()) { #expect(b - a < 0.1, "steps of at most a few percent") }
        for line in progress {
            let elapsed = line["elapsed_seconds"] as? Double ?? 0
            if let eta = line["eta_seconds"] as? Double {
                #expect(elapsed >= 3, "ETA only after a few seconds")
                #expect(eta >= 1, "never 0:00 with work left")
            }
        }
        #expect(progress.contains { $0["eta_seconds"] != nil } || (progress.last?["elapsed_seconds"] as? Double ?? 0) < 3)
        #expect(lines.last?["event"] as? String == "end")
        #expect(lines.last?["status"] as? String == "completed")
        // --format json: one object on standard output.
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect(summary["mode"] as? String == "window(64)")
        #expect((summary["perplexity"] as? Double ?? 0) > 1)
        #expect(summary["scored"] as? Int == (summary["tokens"] as? Int).map { $0 - 1 })
    }

    @Test("--version names the program, the model formats and the store schema")
    func version() throws {
        let binary = try #require(binary)
        let r = try Fixtures.run(binary, ["--version"])
        #expect(r.status == 0)
        #expect(r.stdout.hasPrefix("sinkstream "))
        #expect(r.stdout.contains("GGUF v2–v3") && r.stdout.contains("schema v"), "\(r.stdout)")
    }

    @Test("tokenize takes any valid text, blank lines and an empty file included")
    func tokenizeBlank() throws {
        let binary = try #require(binary)
        let s = try setUp("tokenize-blank")
        let blank = s.dir.appendingPathComponent("blank.txt").path
        try Data("\n\n\n\n".utf8).write(to: URL(fileURLWithPath: blank))
        let empty = s.dir.appendingPathComponent("empty.txt").path
        try Data().write(to: URL(fileURLWithPath: empty))
        let r = try Fixtures.run(binary, ["tokenize", blank, "--model", s.model])
        #expect(r.status == 0, "\(r.stderr)")
        let ids = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [Int]
        #expect((ids?.count ?? 0) >= 1)
        let e = try Fixtures.run(binary, ["tokenize", empty, "--model", s.model])
        #expect(e.status == 0 && e.stdout == "[]\n", "\(e.stderr)")
        // The default model gives llama.cpp's ids (llama-tokenize agrees: one token for four newlines).
        if Fixtures.modelPath != nil {
            let real = try Fixtures.run(binary, ["tokenize", blank])
            #expect(real.stdout == "[22342]\n", "\(real.stderr)")
        }
    }

    @Test("summarize shows the section count: section N/M")
    func sectionCount() throws {
        let binary = try #require(binary)
        let s = try setUp("section-count", repeats: 200)
        let r = try Fixtures.run(binary, ["summarize", s.doc, "--model", s.model, "--db", s.db, "--allow-base", "--template", "chatml",
                                          "--section-tokens", "200", "--max-tokens", "8", "--window", "400",
                                          "--progress", "json", "--progress-every", "0.001", "--output", s.dir.appendingPathComponent("out.md").path])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stderr.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        let totals = Set(lines.compactMap { $0["sections"] as? Int })
        #expect(totals.count == 1, "one total: \(totals)")
        let sections = lines.compactMap { $0["section"] as? Int }
        #expect(sections.max() == totals.first, "the last section is N/N")
        #expect((totals.first ?? 0) > 1)
    }
}
