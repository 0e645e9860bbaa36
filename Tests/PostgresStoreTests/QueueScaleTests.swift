import Foundation
import Testing
@testable import PostgresStore
import Store
import TestSupport

/// Many light simulated workers on one server over loopback: each claims a run, writes
/// checkpoints of a realistic size (one 8-token K/V block of a 30-layer model's rows is ~100 KB
/// at f16; here 64 KB plus losses), finishes it, and claims the next. Prints the claim and
/// checkpoint rates the README's "how many workers" estimate is based on.
@Suite("PostgresStore scale", .enabled(if: !TestPostgres.disabled, "SINKSTREAM_TEST_POSTGRES=off"), .serialized, .timeLimit(.minutes(3)))
struct QueueScaleTests {
    @Test("50 simulated workers: every run claimed exactly once; claim and checkpoint rates")
    func simulatedWorkers() throws {
        let workers = Int(ProcessInfo.processInfo.environment["SINKSTREAM_PG_SIM_WORKERS"] ?? "") ?? 50
        let runsPerWorker = 4, checkpointsPerRun = 5
        let url = try TestPostgres.freshDatabase("scale")
        let setup = try openStore(url)
        var runIDs: Set<String> = []
        for _ in 0 ..< workers * runsPerWorker {
            runIDs.insert(try setup.enqueue(Sample.newRun(batchID: "scale"), document: Data("x".utf8)).id)
        }
        let stores = try (0 ..< workers).map { _ in try openStore(url) }
        let claimed = Collected<[String]>()
        let claimTime = Collected<Double>()
        let checkpointTime = Collected<Double>()
        let payload = Sample.blob(3, count: 64 << 10)
        let start = Date()
        // One thread per worker (concurrentPerform would run only as many as there are cores).
        onThreads(workers) { index in
            claimed.append(Result {
                let store = stores[index]
                var mine: [String] = []
                var claimSeconds = 0.0, checkpointSeconds = 0.0
                while true {
                    let t0 = Date()
                    guard let claim = try store.claim(worker: WorkerIdentity(host: "sim", pid: Int32(index)), lease: 60) else { break }
                    claimSeconds += Date().timeIntervalSince(t0)
                    mine.append(claim.runID)
                    for step in 0 ..< checkpointsPerRun {
                        let first = Int64(step * 8)
                        let write = CheckpointWrite(
                            runID: claim.runID, tokenIndex: first + 8, byteOffset: (first + 8) * 4,
                            tokenizerState: Data(count: 32), cacheState: Data(count: 64), taskState: Data(),
                            newKVBlocks: [KVBlock(firstToken: first, count: 8, data: payload)],
                            newNLLBlocks: [NLLBlock(firstToken: first, nll: Array(repeating: 2.5, count: 8), byteOffsets: (0 ..< 8).map { first * 4 + $0 * 4 })],
                            liveRanges: [max(0, first - 16) ..< first + 8],
                            progress: RunProgress(tokens: first + 8, bytes: (first + 8) * 4, nllSum: 0))
                        let t1 = Date()
                        try store.writeCheckpoint(write)
                        checkpointSeconds += Date().timeIntervalSince(t1)
                    }
                    try store.finish(runID: claim.runID, keepCache: false)
                }
                claimTime.append(.success(claimSeconds))
                checkpointTime.append(.success(checkpointSeconds))
                return mine
            })
        }
        let elapsed = Date().timeIntervalSince(start)
        let all = try claimed.values.flatMap { try $0.get() }
        #expect(all.count == runIDs.count)
        #expect(Set(all) == runIDs)  // each exactly once
        let claims = Double(all.count), checkpoints = Double(all.count * checkpointsPerRun)
        let meanClaimMS = try claimTime.values.map { try $0.get() }.reduce(0, +) / claims * 1000
        let meanCheckpointMS = try checkpointTime.values.map { try $0.get() }.reduce(0, +) / checkpoints * 1000
        print(String(format: "pg-scale: %d workers, %.0f claims in %.2f s: %.0f claims/s, %.0f checkpoints/s (%.0f MB/s of K/V), mean claim %.1f ms, mean checkpoint %.1f ms",
                     workers, claims, elapsed, claims / elapsed, checkpoints / elapsed,
                     checkpoints * Double(payload.count) / elapsed / 1e6, meanClaimMS, meanCheckpointMS))
        for store in stores { store.close() }
    }
}

/// Runs `body(i)` for i in 0..<count, each on a thread of its own, and waits for all.
func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    let group = DispatchGroup()
    for index in 0 ..< count {
        group.enter()
        let thread = Thread {
            body(index)
            group.leave()
        }
        thread.start()
    }
    group.wait()
}
