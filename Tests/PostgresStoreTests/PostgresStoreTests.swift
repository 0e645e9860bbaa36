import Foundation
import Testing
@testable import PostgresStore
import Store
import TestSupport

/// Opens the store at `url` (parsed with an empty environment: the password is the URL's).
func openStore(_ url: String, retryWindow: TimeInterval = 10, lease: TimeInterval = PostgresStore.defaultLease,
               maxFailures: Int = 3, delay: TimeInterval? = nil) throws -> PostgresStore {
    try PostgresStore(url: PostgresURL(url, environment: [:]), retryWindow: retryWindow, leaseLength: lease,
                      maxFailures: maxFailures, checkpointCommitDelay: delay)
}

/// The StoreError `body` throws, or nil.
func storeError(_ body: () throws -> Void) -> StoreError? {
    do { try body(); return nil } catch let error as StoreError { return error } catch { return nil }
}

enum Sample {
    static func newRun(batchID: String? = nil) -> NewRun {
        NewRun(batchID: batchID, task: .score, documentPath: "/docs/book.txt",
               documentSHA256: String(repeating: "ab", count: 32), documentSize: 1_234_567,
               modelPath: "/models/smollm2.gguf", modelSHA256: String(repeating: "cd", count: 32),
               config: #"{"mode":"sink","sinks":4,"window":1020}"#, mode: "sink(4,1020) batch:256")
    }

    static func blob(_ seed: Int, count: Int) -> Data {
        var state = UInt64(truncatingIfNeeded: seed) &* 0x9E37_79B9_7F4A_7C15 | 1
        return Data((0 ..< count).map { _ in
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return UInt8(truncatingIfNeeded: state)
        })
    }

    /// Two checkpoints' worth of writes, the second evicting the first K/V block.
    static func checkpoints(_ runID: String) -> [CheckpointWrite] {
        func write(_ t: Int64, kv: [KVBlock], nll: [NLLBlock], live: [Range<Int64>], metrics: [MetricRow], outputs: [OutputChunk]) -> CheckpointWrite {
            CheckpointWrite(
                runID: runID, tokenIndex: t, byteOffset: 3 * t, tokenizerState: blob(Int(t) + 1, count: 40),
                cacheState: blob(Int(t) + 2, count: 64), taskState: blob(Int(t) + 3, count: 16),
                rngState: t == 8 ? blob(9, count: 32) : nil, newKVBlocks: kv, newNLLBlocks: nll,
                newMetrics: metrics, newOutputs: outputs, liveRanges: live,
                progress: RunProgress(tokens: t, bytes: 3 * t, nllSum: Double(t) * 0.1234567890123))
        }
        func nll(_ first: Int64, _ count: Int64) -> NLLBlock {
            let tokens = first ..< first + count
            return NLLBlock(firstToken: first, nll: tokens.map { Float($0) / 1000 + 0.000123 }, byteOffsets: tokens.map { 3 * $0 + 1 })
        }
        let metric = MetricRow(bucketStart: 0, bucketEnd: 4, meanNLL: 2.5, ppl: 12.18, cumulativePPL: 12.18,
                               tokensPerSecond: 321.5, cacheFill: 0.5, peakMemoryBytes: 1 << 30)
        return [
            write(4, kv: [KVBlock(firstToken: 0, count: 4, data: blob(1, count: 512))], nll: [nll(0, 4)],
                  live: [0 ..< 4], metrics: [metric], outputs: []),
            write(8, kv: [KVBlock(firstToken: 4, count: 4, data: blob(2, count: 512))], nll: [nll(4, 4)],
                  live: [4 ..< 8], metrics: [], outputs: [OutputChunk(sequence: 0, kind: "summary", byteStart: 0, byteEnd: 24, text: "A summary — with ünïcode.")]),
        ]
    }
}

/// What a store returns for a run, without timestamps (which differ between two stores).
struct Snapshot: Equatable {
    var record: RunRecord
    var checkpoint: CheckpointRecord?
    var kv: [KVBlock]
    var nll: NLLSlice
    var metrics: [MetricRow]
    var outputs: [OutputChunk]

    init(_ store: any RunStoring, runID: String) throws {
        var record = try #require(try store.run(id: runID))
        record.id = "-"; record.createdAt = .distantPast; record.updatedAt = .distantPast
        record.lastCheckpointAt = nil; record.completedAt = record.completedAt.map { _ in .distantPast }
        self.record = record
        checkpoint = try store.latestCheckpoint(runID: runID).map {
            var c = $0; c.runID = "-"; c.createdAt = .distantPast; return c
        }
        kv = try store.kvBlocks(runID: runID).map { var b = $0; b.runID = "-"; return b }
        nll = try store.nll(runID: runID, range: 0 ..< 100)
        metrics = try store.metrics(runID: runID).map { var m = $0; m.runID = "-"; return m }
        outputs = try store.outputs(runID: runID).map { var o = $0; o.runID = "-"; return o }
    }
}

@Suite("PostgresStore", .enabled(if: !TestPostgres.disabled, "SINKSTREAM_TEST_POSTGRES=off"), .serialized, .timeLimit(.minutes(3)))
struct PostgresStoreTests {
    @Test("The same writes read back the same from PostgreSQL as from SQLite")
    func roundTripMatchesSQLite() throws {
        let pg = try openStore(try TestPostgres.freshDatabase("roundtrip"))
        let dir = try Fixtures.temporaryDirectory("pg-roundtrip")
        defer { try? FileManager.default.removeItem(at: dir) }
        let sqlite = try RunStore(path: dir.appendingPathComponent("runs.sqlite").path)
        var snapshots: [Snapshot] = []
        for store in [pg as any RunStoring, sqlite as any RunStoring] {
            let run = try store.createRun(Sample.newRun(batchID: "b1"))
            for write in Sample.checkpoints(run.id) { try store.writeCheckpoint(write) }
            snapshots.append(try Snapshot(store, runID: run.id))
            #expect(try store.runs(task: .score, status: .running, batchID: "b1").map(\.id) == [run.id])
            #expect(try store.runs(task: nil, status: .completed, batchID: nil).isEmpty)
            try store.complete(runID: run.id, keepCache: false)
            #expect(try store.kvBlocks(runID: run.id).isEmpty)
            #expect(try store.run(id: run.id)?.status == .completed)
        }
        #expect(snapshots[0] == snapshots[1])
        #expect(snapshots[0].kv.map(\.firstToken) == [4])  // the first block was evicted on both
        #expect(snapshots[0].nll.nll.count == 8)
    }

    @Test("Reopening finds the schema current; workers starting together migrate once")
    func concurrentOpen() throws {
        let url = try TestPostgres.freshDatabase("open")
        let results = Collected<Void>()
        onThreads(4) { _ in
            results.append(Result { try openStore(url).close() })
        }
        #expect(results.values.count == 4)
        for result in results.values { try result.get() }
        #expect(try TestPostgres.psql(url, "SELECT string_agg(version, ',') FROM schema_migrations") == PostgresStore.schemaVersion)
    }

    @Test("Another program's database is refused and left untouched")
    func foreignDatabase() throws {
        let url = try TestPostgres.freshDatabase("foreign")
        try TestPostgres.psql(url, "CREATE TABLE customers (id int); INSERT INTO customers VALUES (7)")
        let error = storeError { _ = try openStore(url) }
        #expect(error?.code == .foreignDatabase)
        #expect(error?.message.contains("customers") == true)
        #expect(try TestPostgres.psql(url, "SELECT string_agg(table_name::text, ',') FROM information_schema.tables WHERE table_schema = 'public'") == "customers")
    }

    @Test("A database of a newer schema is refused, nothing stored lost")
    func newerSchema() throws {
        let url = try TestPostgres.freshDatabase("newer")
        let store = try openStore(url)
        let run = try store.createRun(Sample.newRun())
        store.close()
        try TestPostgres.psql(url, "INSERT INTO schema_migrations VALUES ('v99', now())")
        let error = storeError { _ = try openStore(url) }
        #expect(error?.code == .newerSchema)
        #expect(error?.message.contains("v99") == true)
        #expect(try TestPostgres.psql(url, "SELECT id FROM run") == run.id)
    }

    @Test("A wrong password is refused clearly and never printed")
    func wrongPassword() throws {
        let url = try TestPostgres.freshDatabase("auth")
        var components = URLComponents(string: url)!
        components.password = "not-the-password-4711"
        let error = storeError { _ = try openStore(components.string!) }
        #expect(error?.code == .authentication)
        #expect(error?.message.contains("4711") == false)
        #expect(error?.message.contains("password") == true)
    }

    @Test("sslmode=require against a server without TLS is a configuration error, not retried; sslmode=allow falls back to plaintext")
    func tlsModes() throws {
        let url = try TestPostgres.freshDatabase("tls")
        guard try TestPostgres.psql(url, "SHOW ssl") == "off" else { return }  // the throw-away clusters run without TLS
        func with(_ mode: String) -> String {
            var components = URLComponents(string: url)!
            components.queryItems = (components.queryItems ?? []).filter { $0.name != "sslmode" } + [URLQueryItem(name: "sslmode", value: mode)]
            return components.string!
        }
        let start = Date()
        let error = storeError { _ = try openStore(with("require"), retryWindow: 10) }
        #expect(error?.code == .authentication)
        #expect(error?.message.contains("TLS") == true)
        #expect(Date().timeIntervalSince(start) < 5)  // not retried for the 10 s window
        try openStore(with("allow")).close()
    }

    @Test("An unreachable server is reported after the retry window, without the password")
    func unreachable() throws {
        let start = Date()
        let error = storeError { _ = try openStore("postgres://u:secret-pw@127.0.0.1:1/db?sslmode=disable", retryWindow: 1) }
        #expect(error?.code == .unreachable)
        #expect(error?.message.contains("secret-pw") == false)
        #expect(error?.message.contains("127.0.0.1:1") == true)
        #expect(Date().timeIntervalSince(start) < 10)
    }

    @Test("URLs: password from the URL, PGPASSWORD or ~/.pgpass; never in the description")
    func urls() throws {
        let url = try PostgresURL("postgres://ann:s3cr%40t@db.example:6543/runs?sslmode=require", environment: [:])
        #expect(url.password == "s3cr@t")
        #expect(url.description == "postgres://ann@db.example:6543/runs?sslmode=require")
        #expect(try PostgresURL("postgres://ann@h/runs", environment: ["PGPASSWORD": "p"]).password == "p")
        let dir = try Fixtures.temporaryDirectory("pgpass")
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("pgpass").path
        try "# comment\nother:5432:*:ann:no\nh:5432:*:ann:from\\:pgpass\n".write(toFile: file, atomically: true, encoding: .utf8)
        #expect(try PostgresURL("postgres://ann@h/runs", environment: ["PGPASSFILE": file]).password == "from:pgpass")
        #expect(PostgresURL.redact("postgres://ann:hunter2@h/x") == "postgres://ann:***@h/x")
        let bad = storeError { _ = try PostgresURL("postgres://ann:hunter2@h/x?sslmode=maybe", environment: [:]) }
        #expect(bad?.code == .invalidArgument)
        #expect(bad?.message.contains("hunter2") == false)
    }

    @Test("Several claimers racing for one queued run: exactly one gets it")
    func claimRace() throws {
        let url = try TestPostgres.freshDatabase("race")
        let setup = try openStore(url)
        let run = try setup.enqueue(Sample.newRun(), document: Data("hello".utf8))
        let stores = try (0 ..< 8).map { _ in try openStore(url) }
        let results = Collected<Claim?>()
        onThreads(stores.count) { index in
            results.append(Result { try stores[index].claim(worker: WorkerIdentity(host: "w", pid: Int32(index)), lease: 30) })
        }
        let claims = try results.values.compactMap { try $0.get() }
        #expect(results.values.count == 8 && claims.count == 1)
        #expect(claims.first?.runID == run.id)
        #expect(try setup.queueEntries(batchID: nil).map(\.attempts) == [1])
    }

    @Test("A lost lease is taken over within the lease timeout + 5 s, and the old holder is fenced off")
    func leaseTakeover() throws {
        let url = try TestPostgres.freshDatabase("lease")
        let first = try openStore(url), second = try openStore(url)
        first.startHeartbeatsAtClaim(false)  // the first worker dies right after each claim
        let run = try first.enqueue(Sample.newRun(), document: Data("doc".utf8))
        let lease: TimeInterval = 2
        let claim = try #require(try first.claim(worker: WorkerIdentity(host: "a", pid: 1), lease: lease))
        try first.writeCheckpoint(Sample.checkpoints(run.id)[0])
        #expect(try second.claim(worker: WorkerIdentity(host: "b", pid: 2), lease: lease) == nil)
        // The first worker stops renewing (as if killed); the second polls.
        let start = Date()
        var takeover: Claim?
        while takeover == nil, Date().timeIntervalSince(start) < lease + 5 {
            takeover = try second.claim(worker: WorkerIdentity(host: "b", pid: 2), lease: lease)
            if takeover == nil { usleep(200_000) }
        }
        let taken = try #require(takeover)
        #expect(Date().timeIntervalSince(start) <= lease + 5)
        #expect(taken.token == claim.token + 1 && taken.attempt == 2 && taken.resumes)
        #expect(storeError { try first.writeCheckpoint(Sample.checkpoints(run.id)[1]) }?.code == .leaseLost)
        #expect(storeError { try first.renewLease(runID: run.id, lease: lease) }?.code == .leaseLost)
        #expect(try second.latestCheckpoint(runID: run.id)?.tokenIndex == 4)
        try second.writeCheckpoint(Sample.checkpoints(run.id)[1])
        try second.finish(runID: run.id, keepCache: false)
        #expect(try second.queueEntries(batchID: nil).map(\.state) == [.done])
        #expect(try second.claim(worker: WorkerIdentity(host: "b", pid: 2), lease: lease) == nil)
    }

    @Test("A run that fails on N workers in a row is failed with its error, not retried forever")
    func poisonedRun() throws {
        let url = try TestPostgres.freshDatabase("poison")
        let store = try openStore(url)
        let run = try store.enqueue(Sample.newRun(), document: Data())
        for attempt in 1 ... 3 {
            let claim = try #require(try store.claim(worker: .current, lease: 30))
            #expect(claim.attempt == attempt)
            let final = try store.fail(runID: run.id, error: "boom \(attempt)", maxFailures: 3)
            #expect(final == (attempt == 3))
        }
        #expect(try store.claim(worker: .current, lease: 30) == nil)
        #expect(try store.run(id: run.id)?.status == .failed)
        #expect(try store.run(id: run.id)?.errorText == "boom 3")
    }

    @Test("Documents are stored content-addressed in chunks and read back verified")
    func documents() throws {
        let store = try openStore(try TestPostgres.freshDatabase("docs"))
        let bytes = Sample.blob(5, count: PostgresStore.documentChunkSize * 2 + 17)
        var new = Sample.newRun()
        new.documentSHA256 = "fake-digest"
        _ = try store.enqueue(new, document: bytes)
        _ = try store.enqueue(new, document: bytes)  // the same document twice: stored once
        #expect(try store.document(sha256: "fake-digest", verify: { _ in "fake-digest" }) == bytes)
        #expect(storeError { _ = try store.document(sha256: "fake-digest", verify: { _ in "other" }) }?.code == .invalidData)
    }

    @Test("The connection cut mid-checkpoint: the write is retried after reconnecting, nothing lost")
    func connectionCutMidCheckpoint() throws {
        let url = try TestPostgres.freshDatabase("cut")
        let store = try openStore(url, delay: 1.5)
        let run = try store.createRun(Sample.newRun())
        let writes = Sample.checkpoints(run.id)
        try store.writeCheckpoint(writes[0])
        let killer = Thread {
            usleep(700_000)
            _ = try? TestPostgres.terminateBackends(url)
        }
        killer.start()
        let start = Date()
        try store.writeCheckpoint(writes[1])
        #expect(Date().timeIntervalSince(start) > 2)  // the first attempt was cut off and redone
        #expect(try store.latestCheckpoint(runID: run.id)?.tokenIndex == 8)
        #expect(try store.nll(runID: run.id, range: 0 ..< 100).nll.count == 8)
    }
}

@Suite("PostgresStore restart", .enabled(if: !TestPostgres.disabled, "SINKSTREAM_TEST_POSTGRES=off"), .serialized, .timeLimit(.minutes(3)))
struct PostgresRestartTests {
    @Test("The server restarted during a checkpoint: the write is redone after reconnecting with backoff, nothing stored lost")
    func serverRestartedMidCheckpoint() throws {
        _ = try TestPostgres.serverURL()  // a server for the tests exists (binaries installed)
        let dir = try Fixtures.temporaryDirectory("pg-restart")
        let script = Fixtures.root.appendingPathComponent("scripts/postgres-cluster.sh").path
        let started = try Fixtures.run("/bin/bash", [script, "start", dir.path])
        try #require(started.status == 0, "\(started.stderr)")
        defer {
            _ = try? Fixtures.run("/bin/bash", [script, "stop", dir.path])
            try? FileManager.default.removeItem(at: dir)
        }
        let url = started.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let store = try openStore(url, retryWindow: 30, delay: 1.0)
        defer { store.close() }
        let run = try store.createRun(Sample.newRun())
        let writes = Sample.checkpoints(run.id)
        try store.writeCheckpoint(writes[0])
        let restarted = Collected<Int32>()
        let restarter = Thread {
            usleep(400_000)
            restarted.append(Result { try Fixtures.run("/bin/bash", [script, "restart", dir.path]).status })
        }
        restarter.start()
        try store.writeCheckpoint(writes[1])
        while restarted.values.isEmpty { usleep(50_000) }
        #expect(try restarted.values.first?.get() == 0)
        let snapshot = try Snapshot(store, runID: run.id)
        #expect(snapshot.checkpoint?.tokenIndex == 8)
        #expect(snapshot.nll.nll.count == 8)  // the first checkpoint's losses survived, the second's are there
        #expect(snapshot.kv.map(\.firstToken) == [4])
    }
}

/// Results collected from concurrent threads.
final class Collected<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [Result<T, any Error>] = []
    func append(_ result: Result<T, any Error>) {
        lock.lock(); stored.append(result); lock.unlock()
    }
    var values: [Result<T, any Error>] {
        lock.lock(); defer { lock.unlock() }
        return stored
    }
}
