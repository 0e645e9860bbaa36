#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import TestSupport

/// Documents from anywhere, end to end through `sinkstream score`: each is either processed
/// correctly or refused with the path, the position and the problem, and the run store stays
/// readable afterwards. (Empty, white-space-only, binary, UTF-16, mid-file invalid UTF-8, a
/// directory and a missing path are in CommandLineTests.badDocuments; a file changing while it
/// is read in ScoreRunTests.changingDocument.)
@Suite("Hostile documents through the command line", .serialized)
struct HostileDocumentTests {
    let binary: String?
    init() { binary = Fixtures.sinkstreamExecutable }

    private func storeIsReadable(_ binary: String, _ db: String) throws {
        guard FileManager.default.fileExists(atPath: db) else { return }
        let runs = try Fixtures.run(binary, ["runs", "--db", db, "--format", "json"])
        #expect(runs.status == 0, "runs after a refusal: \(runs.stderr)")
    }

    @Test("Invalid UTF-8 at the very start and at the very end is refused at its byte offset")
    func invalidAtEdges() throws {
        let binary = try #require(binary)
        let dir = try Fixtures.temporaryDirectory("utf8-edges")
        let db = dir.appendingPathComponent("runs.sqlite").path
        let text = Array("A plain sentence of text, repeated. ".utf8)
        let cases: [(String, [UInt8], Int)] = [
            ("start.txt", [0x80] + text, 0),
            ("end.txt", text + [0xE2, 0x82], text.count),   // a truncated 3-byte sequence
        ]
        for (name, bytes, offset) in cases {
            let path = dir.appendingPathComponent(name).path
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            let r = try Fixtures.run(binary, ["score", path, "--db", db])
            #expect(r.status != 0 && r.status < 128, "\(name): status \(r.status)")
            #expect(r.stderr.contains(path) && r.stderr.contains("byte offset \(offset)"), "\(name): \(r.stderr)")
            let replaced = try Fixtures.run(binary, ["score", path, "--db", db, "--replace-invalid"])
            #expect(replaced.status == 0, "\(name) with --replace-invalid: \(replaced.stderr)")
            try storeIsReadable(binary, db)
        }
    }

    @Test("Standard input and a named pipe give the same losses as the file itself")
    func pipes() throws {
        let binary = try #require(binary)
        let dir = try Fixtures.temporaryDirectory("pipes")
        let db = dir.appendingPathComponent("runs.sqlite").path
        let text = Data(try GoldenA.load().text.prefix(1500).utf8)
        let file = dir.appendingPathComponent("doc.txt").path
        try text.write(to: URL(fileURLWithPath: file))
        func losses(_ name: String) throws -> String {
            try String(contentsOfFile: dir.appendingPathComponent(name).path, encoding: .utf8)
        }
        let args = ["--db", db, "--window", "64", "--evict", "batch:16"]
        let plain = try Fixtures.run(binary, ["score", file, "--nll-out", dir.appendingPathComponent("file.nll").path] + args)
        #expect(plain.status == 0, "\(plain.stderr)")
        let stdin = try Fixtures.run(binary, ["score", "-", "--nll-out", dir.appendingPathComponent("stdin.nll").path] + args,
                                     input: text)
        #expect(stdin.status == 0, "\(stdin.stderr)")
        #expect(try losses("stdin.nll") == losses("file.nll"))

        let fifo = dir.appendingPathComponent("doc.fifo").path
        #expect(mkfifo(fifo, 0o600) == 0)
        let writer = Process()
        writer.executableURL = URL(fileURLWithPath: "/bin/sh")
        writer.arguments = ["-c", "cat \"$1\" > \"$2\"", "sh", file, fifo]
        try writer.run()
        let piped = try Fixtures.run(binary, ["score", fifo, "--nll-out", dir.appendingPathComponent("fifo.nll").path] + args)
        writer.waitUntilExit()
        #expect(piped.status == 0, "\(piped.stderr)")
        #expect(try losses("fifo.nll") == losses("file.nll"))
        try storeIsReadable(binary, db)
    }

    @Test("One 50 MB line with no newline streams (the first tokens are scored without reading it whole)")
    func hugeLine() throws {
        let binary = try #require(binary)
        let dir = try Fixtures.temporaryDirectory("huge-line")
        let db = dir.appendingPathComponent("runs.sqlite").path
        let path = dir.appendingPathComponent("line.txt").path
        let words = Data(String(repeating: "word another thing said; ", count: 2_000_000).utf8)  // 50 MB
        try words.write(to: URL(fileURLWithPath: path))
        let r = try Fixtures.run(binary, ["score", path, "--db", db, "--tokens", "300", "--window", "64", "--evict", "batch:16"])
        #expect(r.status == 0, "\(r.stderr)")
        let runs = try Fixtures.run(binary, ["runs", "--db", db, "--format", "json"])
        #expect(runs.stdout.contains("\"tokens\" : 300") || runs.stdout.contains("\"tokens\":300"), "\(runs.stdout)")
    }

    @Test("A document the user may not read is refused naming the file and the reason")
    func noPermission() throws {
        let binary = try #require(binary)
        let dir = try Fixtures.temporaryDirectory("no-permission")
        let path = dir.appendingPathComponent("secret.txt").path
        try Data("Private words.".utf8).write(to: URL(fileURLWithPath: path))
        #expect(chmod(path, 0) == 0)
        defer { chmod(path, 0o600) }
        let db = dir.appendingPathComponent("runs.sqlite").path
        let r: (status: Int32, stdout: String, stderr: String)
        if getuid() == 0 {
            // root reads anything: run the command as nobody, with its database and the model in
            // a directory nobody may use.
            #expect(chmod(dir.path, 0o777) == 0)
            let cached = try #require(Fixtures.modelPath)
            let model = dir.appendingPathComponent("model.gguf").path  // the cache is under root's home
            if link(cached, model) != 0 { try FileManager.default.copyItem(atPath: cached, toPath: model) }
            r = try Fixtures.run("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", binary,
                                                      "score", path, "--db", db, "--model", model])
        } else {
            r = try Fixtures.run(binary, ["score", path, "--db", db])
        }
        #expect(r.status != 0 && r.status < 128, "status \(r.status)")
        #expect(r.stderr.contains(path) && r.stderr.contains("Permission denied"), "\(r.stderr)")
    }
}
