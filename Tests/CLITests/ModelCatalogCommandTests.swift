import Foundation
import Testing
import TestSupport

/// `sinkstream model list` and catalog names on the command line.
@Suite("Catalog commands")
struct ModelCatalogCommandTests {
    @Test("model list prints every catalog model with size, architecture, kind and whether it is on disk")
    func list() throws {
        let binary = try #require(Fixtures.sinkstreamExecutable)
        let cache = try Fixtures.temporaryDirectory("model-list")
        let models = cache.appendingPathComponent("sinkstream/models")
        try FileManager.default.createDirectory(at: models, withIntermediateDirectories: true)
        try Data("x".utf8).write(to: models.appendingPathComponent("qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"))
        let r = try Fixtures.run(binary, ["model", "list"], environment: ["XDG_CACHE_HOME": cache.path])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first?.hasPrefix("NAME") == true)
        let qwen = try #require(lines.first { $0.contains("qwen2.5-coder-0.5b-instruct") })
        #expect(qwen.contains("491 MB") && qwen.contains("qwen2") && qwen.contains("instruct") && qwen.contains(" yes "))
        let gemma = try #require(lines.first { $0.contains("gemma-3-270m ") })
        #expect(gemma.contains("base") && gemma.contains(" no "))
        #expect(lines.contains { $0.hasPrefix("* smollm2-135m-instruct") })
    }

    @Test("an unknown catalog name or missing file is refused with the list of names")
    func unknown() throws {
        let binary = try #require(Fixtures.sinkstreamExecutable)
        let cache = try Fixtures.temporaryDirectory("model-unknown")
        let fetch = try Fixtures.run(binary, ["model", "fetch", "no-such-model"], environment: ["XDG_CACHE_HOME": cache.path])
        #expect(fetch.status != 0)
        #expect(fetch.stderr.contains("no-such-model") && fetch.stderr.contains("gemma-3-270m") && fetch.stderr.contains("qwen2.5-coder-0.5b-instruct"), "\(fetch.stderr)")
        let dir = try Fixtures.temporaryDirectory("model-unknown-doc")
        let doc = dir.appendingPathComponent("d.txt").path
        try Data("hello".utf8).write(to: URL(fileURLWithPath: doc))
        let tokenize = try Fixtures.run(binary, ["tokenize", doc, "--model", "no-such-model"], environment: ["XDG_CACHE_HOME": cache.path])
        #expect(tokenize.status != 0)
        #expect(tokenize.stderr.contains("smollm2-135m-instruct"), "\(tokenize.stderr)")
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: cache.appendingPathComponent("sinkstream/models").path)) ?? []).isEmpty)
    }
}
