import Foundation
import Testing
@testable import PostgresStore
import Store
import TestSupport

/// Crashed workers, dead peers holding locks, lost COMMIT answers, concurrent direct holds.
@Suite("PostgresStore lease recovery", .enabled(if: !TestPostgres.disabled, "SINKSTREAM_TEST_POSTGRES=off"), .serialized, .timeLimit(.minutes(3)))
struct LeaseRecoveryTests {
    /// Claims as `worker` until a claim succeeds or `seconds` pass.
    static func claimWithin(_ seconds: TimeInterval, _ store: PostgresStore, _ worker: WorkerIdentity, lease: TimeInterval) throws -> Claim? {
        let start = Date()
        while Date().timeIntervalSince(start) < seconds {
            if let claim = try store.claim(worker: worker, lease: lease) { return claim }
            usleep(100_000)
        }
        return nil
    }

    @Test("A worker that stops renewing counts a failed attempt; after maxFailures the run is failed, naming the worker; a hand-back is not counted")
    func crashedAttemptsCount() throws {
        let url = try TestPostgres.freshDatabase("crash")
        let store = try openStore(url, maxFailures: 3)
        store.startHeartbeatsAtClaim(false)  // every worker dies right after claiming
        let poisoned = try store.enqueue(Sample.newRun(), document: Data("crash".utf8))
        let next = try store.enqueue(Sample.newRun(), document: Data("fine".utf8))
        let lease: TimeInterval = 0.4
        func worker(_ n: Int32) -> WorkerIdentity { WorkerIdentity(host: "crashy", pid: n) }
        // Attempt 1 ends with a SIGTERM hand-back: not a failure.
        let first = try #require(try store.claim(worker: worker(1), lease: lease))
        #expect(first.runID == poisoned.id && first.attempt == 1)
        try store.releaseLease(runID: poisoned.id)
        // Attempts 2, 3 and 4 crash (the lease runs out without renewal).
        for attempt in 2 ... 4 {
            let claim = try #require(try store.claim(worker: worker(Int32(attempt)), lease: lease))
            #expect(claim.runID == poisoned.id && claim.attempt == attempt)
            let failures = try store.queueEntries(batchID: nil).first { $0.runID == poisoned.id }?.failures
            #expect(failures == attempt - 2)  // the crash of the attempt before (none before attempt 2)
            usleep(700_000)
        }
        // The takeover of attempt 4's lease makes 3 crashes in a row: failed, and the next run is claimed.
        let after = try #require(try store.claim(worker: worker(9), lease: 30))
        #expect(after.runID == next.id)
        let entry = try #require(try store.queueEntries(batchID: nil).first { $0.runID == poisoned.id })
        #expect(entry.state == .failed && entry.failures == 3 && entry.attempts == 4)
        let record = try #require(try store.run(id: poisoned.id))
        #expect(record.status == .failed)
        #expect(record.errorText?.contains("worker crashy:4 stopped renewing its lease during attempt 4 (it crashed or lost the server)") == true)
        #expect(try store.claim(worker: worker(10), lease: 30) == nil)
    }

    @Test("A session idle inside a transaction that locks the queue row (a dead peer) does not block a takeover past the lease + 5 s")
    func idleTransactionReleasesLocks() throws {
        let url = try TestPostgres.freshDatabase("idle")
        let lease: TimeInterval = 2
        let dead = try openStore(url, lease: lease), other = try openStore(url, lease: lease)
        dead.startHeartbeatsAtClaim(false)  // its heartbeat dies with the machine
        let run = try dead.enqueue(Sample.newRun(), document: Data("doc".utf8))
        _ = try #require(try dead.claim(worker: WorkerIdentity(host: "dead", pid: 1), lease: lease))
        // The worker begins a checkpoint (locking its queue row) and then goes silent, as a
        // machine that lost power would: the server sees a session idle in a transaction.
        try dead.withConnection("lock the queue row") { connection in
            try dead.query(connection, "BEGIN")
            try dead.query(connection, "SELECT 1 FROM queue WHERE runID = \(run.id) FOR UPDATE")
        }
        let start = Date()
        let taken = try Self.claimWithin(lease + 5, other, WorkerIdentity(host: "live", pid: 2), lease: lease)
        #expect(taken?.runID == run.id)
        #expect(Date().timeIntervalSince(start) <= lease + 5)
        // The dead session's store reconnects and finds its lease gone.
        #expect(storeError { try dead.writeCheckpoint(Sample.checkpoints(run.id)[0]) }?.code == .leaseLost)
        let settings = try other.withConnection("read settings") { connection in
            try other.query(connection, "SELECT current_setting('idle_in_transaction_session_timeout'), current_setting('lock_timeout'), current_setting('tcp_keepalives_idle')")
                .first.map { [try $0[0].decode(String.self), try $0[1].decode(String.self), try $0[2].decode(String.self)] }
        }
        #expect(settings == ["3s", "3s", "5"])
    }

    @Test("A lock wait that times out (55P03) is retried, and the write goes through once the locker's session is ended")
    func lockTimeoutIsRetried() throws {
        let url = try TestPostgres.freshDatabase("locktimeout")
        let writer = try openStore(url, lease: 2)  // lock_timeout 3 s
        let locker = try openStore(url, lease: 10)  // idle in transaction: ended after 5 s
        let run = try writer.enqueue(Sample.newRun(), document: Data("doc".utf8))
        _ = try #require(try writer.claim(worker: WorkerIdentity(host: "w", pid: 1), lease: 60))
        try locker.withConnection("lock the queue row") { connection in
            try locker.query(connection, "BEGIN")
            try locker.query(connection, "SELECT 1 FROM queue WHERE runID = \(run.id) FOR UPDATE")
        }
        let start = Date()
        try writer.writeCheckpoint(Sample.checkpoints(run.id)[0])
        #expect(Date().timeIntervalSince(start) > 3)  // it waited past one lock_timeout
        #expect(try writer.latestCheckpoint(runID: run.id)?.tokenIndex == 4)
    }

    @Test("Retries after a lost COMMIT answer are idempotent: enqueue, createRun, claim, hold, fail")
    func lostCommitAnswers() throws {
        let url = try TestPostgres.freshDatabase("lostcommit")
        let store = try openStore(url)
        store.loseCommitAnswers(1)
        let queued = try store.enqueue(Sample.newRun(batchID: "b"), document: Data("doc".utf8))
        #expect(try store.runs(task: nil, status: nil, batchID: "b").map(\.id) == [queued.id])
        #expect(try store.queueEntries(batchID: nil).map(\.runID) == [queued.id])
        store.loseCommitAnswers(1)
        let direct = try store.createRun(Sample.newRun(batchID: "c"))
        #expect(try store.runs(task: nil, status: nil, batchID: "c").map(\.id) == [direct.id])

        // claim: the retry adopts the committed claim instead of claiming nothing.
        let me = WorkerIdentity.current
        store.loseCommitAnswers(1)
        let claim = try #require(try store.claim(worker: me, lease: 30))
        #expect(claim.runID == queued.id && claim.attempt == 1)
        try store.writeCheckpoint(Sample.checkpoints(queued.id)[0])  // the adopted token fences correctly

        // fail: counted once.
        store.loseCommitAnswers(1)
        #expect(try store.fail(runID: queued.id, error: "boom", maxFailures: 3) == false)
        let entry = try #require(try store.queueEntries(batchID: nil).first)
        #expect(entry.failures == 1 && entry.state == .queued)

        // hold: the retry finds its own live lease and succeeds.
        store.loseCommitAnswers(1)
        let hold = try store.hold(runID: direct.id)
        #expect(!hold.isLost)
        try store.writeCheckpoint(Sample.checkpoints(direct.id)[0])
        hold.release()
    }

    @Test("A claim retried after a lost connection (not a lost COMMIT answer) adopts nothing, even a live lease of a worker with the same host and pid")
    func sameIdentityIsNotAdopted() throws {
        let url = try TestPostgres.freshDatabase("sameid")
        let busy = try openStore(url), idle = try openStore(url)
        let first = try busy.enqueue(Sample.newRun(), document: Data("one".utf8))
        let second = try idle.enqueue(Sample.newRun(), document: Data("two".utf8))
        // Two containers with the host's name and the same pid.
        let twin = WorkerIdentity(host: "container", pid: 1)
        #expect(try busy.claim(worker: twin, lease: 30)?.runID == first.id)
        _ = try idle.queueEntries(batchID: nil)  // opens idle's connection, then a restart cuts it
        #expect(try TestPostgres.terminateBackends(url) >= 2)
        let claim = try #require(try idle.claim(worker: twin, lease: 30))
        #expect(claim.runID == second.id, "the retry must not adopt the other worker's run")
        let entries = try busy.queueEntries(batchID: nil)
        #expect(entries.map(\.attempts) == [1, 1])
    }

    @Test("A lease last renewed before the server started is not counted as a crash at takeover; one renewed after it is")
    func outageIsNotACrash() throws {
        let url = try TestPostgres.freshDatabase("outage")
        let store = try openStore(url, maxFailures: 3)
        store.startHeartbeatsAtClaim(false)
        let run = try store.enqueue(Sample.newRun(), document: Data("doc".utf8))
        _ = try #require(try store.claim(worker: WorkerIdentity(host: "a", pid: 1), lease: 30))
        // As if the lease ran out while the server was down: its last renewal predates the start.
        _ = try TestPostgres.psql(url, """
            UPDATE queue SET heartbeatAt = pg_postmaster_start_time() - interval '1 minute',
                leaseUntil = pg_postmaster_start_time() - interval '30 seconds' WHERE runID = '\(run.id)'
            """)
        let taken = try #require(try store.claim(worker: WorkerIdentity(host: "b", pid: 2), lease: 30))
        #expect(taken.runID == run.id && taken.attempt == 2)
        #expect(try store.queueEntries(batchID: nil).first?.failures == 0)
        // Renewed after the start, then silent: a crash, counted.
        _ = try TestPostgres.psql(url, "UPDATE queue SET leaseUntil = now() - interval '1 second' WHERE runID = '\(run.id)'")
        _ = try #require(try store.claim(worker: WorkerIdentity(host: "c", pid: 3), lease: 30))
        #expect(try store.queueEntries(batchID: nil).first?.failures == 1)
    }

    @Test("Concurrent direct holds of an unqueued run: one holds it, the others are refused as locked")
    func concurrentDirectHolds() throws {
        let url = try TestPostgres.freshDatabase("holds")
        let setup = try openStore(url)
        let stores = try (0 ..< 6).map { _ in try openStore(url) }
        for _ in 0 ..< 5 {
            let run = try setup.createRun(Sample.newRun())
            let results = Collected<(any RunHold)?>()
            onThreads(stores.count) { index in
                results.append(Result { try stores[index].hold(runID: run.id) })
            }
            var held: [any RunHold] = []
            for result in results.values {
                switch result {
                case .success(let hold): if let hold { held.append(hold) }
                case .failure(let error): #expect((error as? StoreError)?.code == .runLocked, "\(error)")
                }
            }
            #expect(held.count == 1)
            for hold in held { hold.release() }
        }
    }

    @Test("A hold dropped without release gives the lease back (its heartbeat does not keep it alive)")
    func droppedHoldReleases() throws {
        let url = try TestPostgres.freshDatabase("dropped")
        let store = try openStore(url, lease: 1)
        let run = try store.createRun(Sample.newRun())
        do {
            let hold = try store.hold(runID: run.id)
            _ = hold
        }
        // Released at once on deinit: a direct lease leaves the queue.
        let start = Date()
        while try !store.queueEntries(batchID: nil).isEmpty, Date().timeIntervalSince(start) < 3 { usleep(50_000) }
        #expect(try store.queueEntries(batchID: nil).isEmpty)
        let again = try store.hold(runID: run.id)
        again.release()
    }

    @Test("The heartbeat renews on its own connection: a main connection busy for 3 leases does not lose the lease")
    func heartbeatHasItsOwnConnection() throws {
        let url = try TestPostgres.freshDatabase("heartbeat")
        let lease: TimeInterval = 3
        let store = try openStore(url, lease: lease), other = try openStore(url, lease: lease)
        let run = try store.enqueue(Sample.newRun(), document: Data("doc".utf8))
        _ = try #require(try store.claim(worker: WorkerIdentity(host: "a", pid: 1), lease: lease))
        let hold = try store.hold(runID: run.id)
        defer { hold.release() }
        // A long read (or a reconnect backoff) keeps the main connection for 3 leases (leases of 3 s:
        // a loaded 2-core CI machine can stall a thread for most of a second).
        let busy = Thread { _ = try? store.withConnection("stay busy") { _ in usleep(9_000_000) } }
        busy.start()
        usleep(200_000)
        let start = Date()
        while Date().timeIntervalSince(start) < 9 {
            #expect(try other.claim(worker: WorkerIdentity(host: "b", pid: 2), lease: lease) == nil)
            usleep(200_000)
        }
        #expect(!hold.isLost)
        try store.writeCheckpoint(Sample.checkpoints(run.id)[0])
    }

    @Test("The heartbeat starts at the claim: a slow document fetch or model load before the hold keeps the lease; the hold adopts it")
    func heartbeatStartsAtClaim() throws {
        let url = try TestPostgres.freshDatabase("claimbeat")
        let lease: TimeInterval = 3
        let store = try openStore(url, lease: lease), other = try openStore(url, lease: lease)
        let run = try store.enqueue(Sample.newRun(), document: Data("doc".utf8))
        _ = try #require(try store.claim(worker: WorkerIdentity(host: "a", pid: 1), lease: lease))
        let start = Date()
        while Date().timeIntervalSince(start) < 7.5 {
            #expect(try other.claim(worker: WorkerIdentity(host: "b", pid: 2), lease: lease) == nil)
            usleep(200_000)
        }
        let hold = try store.hold(runID: run.id)
        #expect(!hold.isLost)
        try store.writeCheckpoint(Sample.checkpoints(run.id)[0])
        hold.release()
        #expect(try store.queueEntries(batchID: nil).map(\.state) == [.queued])
        #expect(try store.queueEntries(batchID: nil).map(\.failures) == [0])
    }

    @Test("A hold is lost when its lease is taken over, not when its run is finished")
    func holdLostOnlyWhenTakenOver() throws {
        let url = try TestPostgres.freshDatabase("holdlost")
        let store = try openStore(url, lease: 0.6)  // renewed every 0.2 s
        let finished = try store.createRun(Sample.newRun())
        let hold = try store.hold(runID: finished.id)
        try store.complete(runID: finished.id, keepCache: false)
        usleep(700_000)
        #expect(!hold.isLost)
        hold.release()
        let taken = try store.createRun(Sample.newRun())
        let other = try store.hold(runID: taken.id)
        _ = try TestPostgres.psql(url, "UPDATE queue SET leaseToken = leaseToken + 1 WHERE runID = '\(taken.id)'")
        let start = Date()
        while !other.isLost, Date().timeIntervalSince(start) < 3 { usleep(50_000) }
        #expect(other.isLost)
        #expect(storeError { try store.writeCheckpoint(Sample.checkpoints(taken.id)[0]) }?.code == .leaseLost)
        other.release()
    }

    @Test("Rows written again after a rewind replace the overlapped part of older K/V blocks (as on SQLite)")
    func rewrittenRowsTrimOlderBlocks() throws {
        let store = try openStore(try TestPostgres.freshDatabase("trim"))
        let run = try store.createRun(Sample.newRun())
        // 4 bytes a token; a block's bytes say which checkpoint wrote them.
        func block(_ first: Int64, _ count: Int64, _ writer: UInt8) -> KVBlock {
            KVBlock(firstToken: first, count: count, data: Data(repeating: writer, count: Int(count) * 4))
        }
        func checkpoint(at t: Int64, kv: [KVBlock]) -> CheckpointWrite {
            CheckpointWrite(runID: run.id, tokenIndex: t, byteOffset: t, tokenizerState: Data(count: 8), cacheState: Data(count: 8),
                            taskState: Data(), newKVBlocks: kv, liveRanges: [0 ..< 100],
                            progress: RunProgress(tokens: t, bytes: t, nllSum: 0))
        }
        try store.writeCheckpoint(checkpoint(at: 70, kv: [block(0, 64, 1), block(64, 6, 1)]))
        try store.writeCheckpoint(checkpoint(at: 100, kv: [block(70, 30, 2)]))
        // The stream rewinds to token 66 and goes on with other tokens to 90.
        try store.writeCheckpoint(checkpoint(at: 90, kv: [block(66, 24, 3)]))
        let blocks = try store.kvBlocks(runID: run.id)
        #expect(blocks.map(\.tokens) == [0 ..< 64, 64 ..< 66, 66 ..< 90, 90 ..< 100])
        #expect(blocks.map { $0.data.first } == [1, 1, 3, 2])
        #expect(blocks.allSatisfy { $0.data.count == Int($0.count) * 4 })
        #expect(blocks.allSatisfy { Set($0.data).count == 1 })
        // The same on SQLite, block for block.
        let dir = try Fixtures.temporaryDirectory("pg-trim")
        defer { try? FileManager.default.removeItem(at: dir) }
        let sqlite = try RunStore(path: dir.appendingPathComponent("runs.sqlite").path)
        let other = try sqlite.createRun(Sample.newRun())
        for write in [checkpoint(at: 70, kv: [block(0, 64, 1), block(64, 6, 1)]), checkpoint(at: 100, kv: [block(70, 30, 2)]),
                      checkpoint(at: 90, kv: [block(66, 24, 3)])] {
            var write = write
            write.runID = other.id
            try sqlite.writeCheckpoint(write)
        }
        #expect(try sqlite.kvBlocks(runID: other.id).map { var b = $0; b.runID = run.id; return b } == blocks)
    }
}
