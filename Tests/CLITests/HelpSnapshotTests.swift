import Foundation
import Testing
import TestSupport

/// Every command's `--help`, compared with a snapshot in HelpSnapshots/ (as swift-argument-
/// parser's example tests do). A changed help text fails here until the snapshot is updated:
/// `SINKSTREAM_RECORD_SNAPSHOTS=1 swift test … --filter HelpSnapshotTests` rewrites them, and
/// the diff is reviewed with the change.
@Suite("Help text snapshots")
struct HelpSnapshotTests {
    static let commands: [[String]] = [
        [], ["score"], ["summarize"], ["translate"], ["resume"], ["runs"], ["runs", "list"], ["runs", "show"],
        ["runs", "delete"], ["runs", "prune"], ["report"], ["compare"], ["export"], ["generate"], ["bench-runs"],
        ["tokenize"], ["model"], ["model", "list"], ["model", "fetch"], ["model", "info"], ["bench"], ["submit"], ["worker"],
    ]

    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("HelpSnapshots")

    @Test("Help text of every command matches its snapshot", arguments: commands)
    func help(_ command: [String]) throws {
        let binary = try #require(Fixtures.sinkstreamExecutable)
        let r = try Fixtures.run(binary, ["help"] + command, environment: ["COLUMNS": "100"])
        #expect(r.status == 0, "\(command): \(r.stderr)")
        let name = (["sinkstream"] + command).joined(separator: "-") + ".txt"
        let file = Self.directory.appendingPathComponent(name)
        if ProcessInfo.processInfo.environment["SINKSTREAM_RECORD_SNAPSHOTS"] == "1" {
            try FileManager.default.createDirectory(at: Self.directory, withIntermediateDirectories: true)
            try Data(r.stdout.utf8).write(to: file)
            return
        }
        let expected = try String(contentsOf: file, encoding: .utf8)
        #expect(r.stdout == expected, "\(name) changed; diff it against the snapshot and record it if the change is meant")
    }

    @Test("Help texts hold no literal line-continuation backslashes and no mangled value names", arguments: commands)
    func clean(_ command: [String]) throws {
        let binary = try #require(Fixtures.sinkstreamExecutable)
        let r = try Fixtures.run(binary, ["help"] + command, environment: ["COLUMNS": "100"])
        #expect(!r.stdout.contains(" \\\n") && !r.stdout.contains("\\\n"), "\(command): a literal backslash")
        #expect(!r.stdout.contains("-i-ds>"), "\(command): a value name spelled from a camel-case property")
    }
}
