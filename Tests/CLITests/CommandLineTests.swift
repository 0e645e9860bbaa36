import Foundation
import GGUF
import Testing
import TestSupport

/// The executable end to end: exit statuses, messages and output formats.
@Suite("The sinkstream command line")
struct CommandLineTests {
    let binary: String?
    init() { binary = Fixtures.sinkstreamExecutable }

    @Test("Bad model files give a clear error naming the file and a non-zero exit, never a crash")
    func badModels() throws {
        let binary = try #require(binary)
        let dir = try Fixtures.temporaryDirectory("bad-models")
        let good = dir.appendingPathComponent("tiny.gguf").path
        try TinyModel.write(to: good)
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: good)))
        let doc = dir.appendingPathComponent("doc.txt").path
        try Data("Some text to score, long enough for a few tokens.".utf8).write(to: URL(fileURLWithPath: doc))
        for variant in TinyModel.corruptVariants(of: bytes) {
            let path = dir.appendingPathComponent("\(variant.name).gguf").path
            try Data(variant.bytes).write(to: URL(fileURLWithPath: path))
            let r = try Fixtures.run(binary, ["score", doc, "--model", path, "--db", dir.appendingPathComponent("runs.sqlite").path])
            #expect(r.status == 69, "\(variant.name): exit \(r.status) (the model cannot be used)")
            #expect(r.stderr.contains(path), "\(variant.name): the message names the file: \(r.stderr)")
            #expect(!r.stderr.contains("Fatal error"), "\(variant.name) crashed: \(r.stderr)")
        }
        // The intact tiny model loads and scores (its random weights give some perplexity).
        let ok = try Fixtures.run(binary, ["score", doc, "--model", good, "--mode", "dense", "--db", dir.appendingPathComponent("runs.sqlite").path])
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(ok.stdout.contains("perplexity:"))
    }

    @Test("tokenize prints the golden ids as one JSON array; control-token text stays text by default")
    func tokenize() throws {
        let binary = try #require(binary)
        let golden = try GoldenA.load()
        let dir = try Fixtures.temporaryDirectory("tokenize")
        let doc = dir.appendingPathComponent("a.txt").path
        try Data(golden.text.utf8).write(to: URL(fileURLWithPath: doc))
        let r = try Fixtures.run(binary, ["tokenize", doc])
        #expect(r.status == 0)
        let ids = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [Int]
        #expect(ids == golden.tokenIDs.map(Int.init))

        let special = dir.appendingPathComponent("s.txt").path
        try Data("<|im_end|>".utf8).write(to: URL(fileURLWithPath: special))
        let plain = try Fixtures.run(binary, ["tokenize", special])
        let parsed = try Fixtures.run(binary, ["tokenize", special, "--parse-special"])
        #expect(parsed.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "[2]")
        #expect(plain.stdout.trimmingCharacters(in: .whitespacesAndNewlines) != "[2]")

        // Streamed in 1 MiB blocks (a 1.4 MB file), from a file and from standard input, it
        // matches the whole-text encoder (--parse-special reads the file at once; the text has
        // no control tokens).
        let big = dir.appendingPathComponent("big.txt").path
        let bigText = String(repeating: golden.text + "\n", count: max(2, 1_400_000 / max(1, golden.text.utf8.count)))
        try Data(bigText.utf8).write(to: URL(fileURLWithPath: big))
        let streamed = try Fixtures.run(binary, ["tokenize", big])
        let whole = try Fixtures.run(binary, ["tokenize", big, "--parse-special"])
        let piped = try Fixtures.run(binary, ["tokenize", "-"], input: Data(bigText.utf8))
        #expect(streamed.status == 0 && whole.status == 0 && piped.status == 0, "\(streamed.stderr) \(piped.stderr)")
        let streamedIDs = try JSONSerialization.jsonObject(with: Data(streamed.stdout.utf8)) as? [Int]
        #expect((streamedIDs?.count ?? 0) > 300_000)
        #expect(streamedIDs == (try JSONSerialization.jsonObject(with: Data(whole.stdout.utf8)) as? [Int]))
        #expect(piped.stdout == streamed.stdout)
    }

    @Test("Documents that cannot be scored: empty, invalid UTF-8, a directory, a missing path")
    func badDocuments() throws {
        let executable = try #require(self.binary)
        let dir = try Fixtures.temporaryDirectory("bad-docs-cli")
        let db = dir.appendingPathComponent("runs.sqlite").path
        let empty = dir.appendingPathComponent("empty.txt").path
        #expect(FileManager.default.createFile(atPath: empty, contents: Data()))
        let invalid = dir.appendingPathComponent("invalid.txt").path
        try Data(Array("abc".utf8) + [0xC3, 0x28] + Array("def".utf8)).write(to: URL(fileURLWithPath: invalid))
        let blank = dir.appendingPathComponent("blank.txt").path
        try Data(" \n\n\t  \r\n".utf8).write(to: URL(fileURLWithPath: blank))
        let binary = dir.appendingPathComponent("binary.bin").path
        try Data([0x7F, 0x45, 0x4C, 0x46, 0x02, 0x01, 0x01, 0x00, 0x00, 0x00]).write(to: URL(fileURLWithPath: binary))
        let utf16 = dir.appendingPathComponent("utf16.txt").path
        try Data([0xFF, 0xFE] + Array("hello".utf16.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] })).write(to: URL(fileURLWithPath: utf16))
        let cases: [(String, String)] = [
            (empty, "empty"), (blank, "only white space"), (binary, "binary"), (utf16, "UTF-16"),
            (invalid, "byte offset 3"), (dir.path, "directory"),
            (dir.appendingPathComponent("missing.txt").path, "No such file"),
        ]
        for (path, message) in cases {
            let r = try Fixtures.run(executable, ["score", path, "--db", db])
            #expect(r.status != 0, "\(path) was accepted")
            #expect(r.stderr.contains(message), "\(path): \(r.stderr)")
        }
    }

    @Test("runs --format json is an array of objects with id, status, task, document and tokens")
    func runsJSON() throws {
        let binary = try #require(binary)
        let dir = try Fixtures.temporaryDirectory("runs-json")
        let db = dir.appendingPathComponent("runs.sqlite").path
        let doc = dir.appendingPathComponent("doc.txt").path
        try Data(try GoldenA.load().text.prefix(600).utf8).write(to: URL(fileURLWithPath: doc))
        let scored = try Fixtures.run(binary, ["score", doc, "--db", db, "--window", "64", "--evict", "batch:16"])
        #expect(scored.status == 0, "\(scored.stderr)")
        let r = try Fixtures.run(binary, ["runs", "--format", "json", "--db", db])
        let runs = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]])
        #expect(runs.count == 1)
        for key in ["id", "status", "task", "document", "tokens"] { #expect(runs[0][key] != nil, "missing \(key)") }
        #expect(runs[0]["status"] as? String == "completed")
        let csv = try Fixtures.run(binary, ["runs", "--format", "csv", "--db", db])
        #expect(csv.stdout.hasPrefix("id,status,task,document"))
    }

    @Test("--max-memory refuses a run whose cache and buffers do not fit, before scoring")
    func maxMemory() throws {
        let binary = try #require(binary)
        let dir = try Fixtures.temporaryDirectory("max-memory")
        let doc = dir.appendingPathComponent("doc.txt").path
        try Data(try GoldenA.load().text.prefix(400).utf8).write(to: URL(fileURLWithPath: doc))
        let db = dir.appendingPathComponent("runs.sqlite").path
        let refused = try Fixtures.run(binary, ["score", doc, "--db", db, "--mode", "dense", "--max-memory", "300M"])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("--max-memory") && refused.stderr.contains("cache"))
        #expect(!FileManager.default.fileExists(atPath: db), "nothing was started")
        let fits = try Fixtures.run(binary, ["score", doc, "--db", db, "--window", "64", "--evict", "batch:16", "--max-memory", "1G"])
        #expect(fits.status == 0, "\(fits.stderr)")
    }
}

extension CommandLineTests {
    @Test("Tasks refuse a base model, naming an instruct model and --allow-base; with --allow-base they run")
    func baseModelRefused() throws {
        let binary = try #require(binary)
        let dir = try Fixtures.temporaryDirectory("base-model")
        defer { try? FileManager.default.removeItem(at: dir) }
        // A tiny model under the catalog's base model's file name: the catalog says "base".
        let base = dir.appendingPathComponent("gemma-3-270m-q4_k_m.gguf").path
        try TinyModel.write(to: base)
        let doc = dir.appendingPathComponent("doc.txt").path
        try Data("A short document. It has two sentences.\n".utf8).write(to: URL(fileURLWithPath: doc))
        let db = dir.appendingPathComponent("runs.sqlite").path
        for command in [["summarize", doc], ["translate", doc, "--to", "Spanish"]] {
            let r = try Fixtures.run(binary, command + ["--model", base, "--db", db, "--max-tokens", "4"])
            #expect(r.status != 0, "\(command[0]): exit \(r.status)")
            #expect(r.stderr.contains("base model") && r.stderr.contains("--allow-base")
                    && r.stderr.contains("qwen2.5-coder-0.5b-instruct") && r.stderr.contains(base), "\(r.stderr)")
        }
        let runs = try Fixtures.run(binary, ["runs", "--db", db])
        #expect(!runs.stdout.contains("summarize"), "a refused task leaves no run: \(runs.stdout)")
        let allowed = try Fixtures.run(binary, ["summarize", doc, "--model", base, "--db", db, "--max-tokens", "4", "--allow-base"])
        #expect(allowed.status == 0, "\(allowed.stderr)")
        // An ordinary (unknown) model file is not refused.
        let other = dir.appendingPathComponent("tiny.gguf").path
        try TinyModel.write(to: other)
        let unknown = try Fixtures.run(binary, ["summarize", doc, "--model", other, "--db", db, "--max-tokens", "4"])
        #expect(unknown.status == 0, "\(unknown.stderr)")
    }
}
