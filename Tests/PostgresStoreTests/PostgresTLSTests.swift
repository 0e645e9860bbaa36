import Foundation
import Testing
@testable import PostgresStore
import Store
import TestSupport

/// sslmode against a real server that accepts TLS connections only (a throw-away cluster with a
/// self-signed certificate and `hostssl` lines in pg_hba.conf).
@Suite("PostgreSQL TLS", .enabled(if: !TestPostgres.disabled, "SINKSTREAM_TEST_POSTGRES=off"), .serialized)
struct PostgresTLSTests {
    @Test("sslmode=require connects over TLS and works; disable is refused naming TLS; verify-full refuses the self-signed certificate; none retried")
    func tlsModes() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sinkstream-pgtls-\(UUID().uuidString.prefix(8))").path
        let script = Fixtures.root.appendingPathComponent("scripts/postgres-cluster.sh").path
        let started = try Fixtures.run("/bin/bash", [script, "start", dir, "--tls"], timeout: 120)
        defer {
            _ = try? Fixtures.run("/bin/bash", [script, "stop", dir], timeout: 60)
            try? FileManager.default.removeItem(atPath: dir)
        }
        try #require(started.status == 0, "\(started.stderr)")
        let url = started.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(url.hasSuffix("sslmode=require"))

        let store = try openStore(url)
        let run = try store.enqueue(Sample.newRun(), document: Data("over TLS".utf8))
        #expect(try store.queueEntries(batchID: nil).map(\.runID) == [run.id])
        // The server's own view of our session.
        #expect(try TestPostgres.psql(url, """
            SELECT bool_and(s.ssl) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
            WHERE a.datname = current_database() AND s.pid <> pg_backend_pid()
            """) == "t")

        func refusal(_ mode: String) -> StoreError? {
            let other = url.replacingOccurrences(of: "sslmode=require", with: "sslmode=\(mode)")
            let start = Date()
            do {
                _ = try openStore(other)
                return nil
            } catch let error as StoreError {
                #expect(Date().timeIntervalSince(start) < 8, "sslmode=\(mode): a configuration error is not retried")
                return error
            } catch {
                Issue.record("sslmode=\(mode): \(error)")
                return nil
            }
        }
        let plain = try #require(refusal("disable"))
        #expect(plain.code == .authentication && plain.message.contains("TLS"), "\(plain.message)")
        let verified = try #require(refusal("verify-full"))
        #expect(verified.code == .authentication && verified.message.contains("certificate"), "\(verified.message)")
        for error in [plain, verified] { #expect(!error.message.contains("sinkstream-test"), "the password is never printed") }
    }
}
