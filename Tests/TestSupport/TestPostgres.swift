import Foundation

/// A PostgreSQL server for the tests: the one `SINKSTREAM_TEST_POSTGRES` names (a URL of a
/// database the tests may create databases from; scripts/test.sh starts a throw-away cluster and
/// sets it), else a throw-away cluster started here with scripts/postgres-cluster.sh and stopped
/// when the test process exits. `SINKSTREAM_TEST_POSTGRES=off` says there is no server: the
/// tests that need one are then skipped; anything else that fails to start one fails them.
public enum TestPostgres {
    /// Whether the environment says there is no server for the tests.
    public static var disabled: Bool { ProcessInfo.processInfo.environment["SINKSTREAM_TEST_POSTGRES"] == "off" }

    /// The server's URL (with its test password), starting a cluster if needed.
    public static func serverURL() throws -> String {
        try shared.get()
    }

    /// A new, empty database on the server; returns its URL.
    public static func freshDatabase(_ label: String = "t") throws -> String {
        let base = try serverURL()
        let name = "\(label)_\(UUID().uuidString.prefix(8).lowercased())"
        try psql(base, "CREATE DATABASE \(name)")
        return replacingDatabase(in: base, with: name)
    }

    /// `url` with another database name.
    public static func replacingDatabase(in url: String, with name: String) -> String {
        var components = URLComponents(string: url)!
        components.path = "/" + name
        return components.string!
    }

    /// Runs SQL through psql against `url` and returns its output (unaligned, tuples only).
    @discardableResult
    public static func psql(_ url: String, _ sql: String) throws -> String {
        let libpqURL = url.replacingOccurrences(of: "postgres://", with: "postgresql://")
        // Bounded everywhere: connecting (a server that accepts and then stalls), each
        // statement, and the whole command.
        let result = try Fixtures.run(try binary("psql"), [libpqURL, "-v", "ON_ERROR_STOP=1", "-qAtc", sql],
                                      environment: ["PGCONNECT_TIMEOUT": "5", "PGOPTIONS": "-c statement_timeout=60000"],
                                      timeout: 90)
        guard result.status == 0 else { throw Failure(message: "psql failed: \(result.stderr)") }
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Closes every other session on the database of `url` (as a lost network or a restarted
    /// server would), from the server side with pg_terminate_backend.
    @discardableResult
    public static func terminateBackends(_ url: String) throws -> Int {
        let name = URLComponents(string: url)!.path.dropFirst()
        let out = try psql(url, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '\(name)' AND pid <> pg_backend_pid()")
        return Int(out) ?? 0
    }

    public struct Failure: Error, CustomStringConvertible {
        public var message: String
        public var description: String { message }
        public init(message: String) { self.message = message }
    }

    /// The cluster's directory when this process started one.
    nonisolated(unsafe) static var startedDirectory: String?

    static let shared: Result<String, any Error> = Result {
        if let url = ProcessInfo.processInfo.environment["SINKSTREAM_TEST_POSTGRES"], !url.isEmpty {
            if url == "off" { throw Failure(message: "SINKSTREAM_TEST_POSTGRES=off: no PostgreSQL server for the tests") }
            return url
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sinkstream-pg-\(UUID().uuidString.prefix(8))").path
        let script = Fixtures.root.appendingPathComponent("scripts/postgres-cluster.sh").path
        let result = try Fixtures.run("/bin/bash", [script, "start", dir])
        guard result.status == 0 else {
            throw Failure(message: "Could not start a PostgreSQL cluster for the tests (scripts/postgres-cluster.sh: \(result.stderr)); install the postgresql package (scripts/setup.sh) or set SINKSTREAM_TEST_POSTGRES")
        }
        startedDirectory = dir
        atexit {
            guard let dir = TestPostgres.startedDirectory else { return }
            let script = Fixtures.root.appendingPathComponent("scripts/postgres-cluster.sh").path
            _ = try? Fixtures.run("/bin/bash", [script, "stop", dir])
            try? FileManager.default.removeItem(atPath: dir)
        }
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func binary(_ name: String) throws -> String {
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
        for version in versions.sorted(by: { $0.compare($1, options: .numeric) == .orderedDescending }) {
            let path = "/usr/lib/postgresql/\(version)/bin/\(name)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        for dir in ["/usr/bin", "/usr/local/bin"] where FileManager.default.isExecutableFile(atPath: "\(dir)/\(name)") {
            return "\(dir)/\(name)"
        }
        throw Failure(message: "\(name) not found; install the postgresql package (scripts/setup.sh)")
    }
}
