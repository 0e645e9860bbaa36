import Foundation
import GRDB
import Testing
@testable import Store

@Suite("Checkpoints: round trip, K/V garbage collection, atomicity")
struct CheckpointTests {
    @Test("a checkpoint round-trips its blobs, blocks, metrics, outputs and progress")
    func roundTrip() throws {
        let dir = try TemporaryDirectory()
        let store = try RunStore(path: dir.databasePath)
        let run = try store.createRun(Sample.newRun())
        #expect(try store.latestCheckpoint(runID: run.id) == nil)
        #expect(try store.kvBlocks(runID: run.id).isEmpty)
        let metric = MetricRow(bucketStart: 0, bucketEnd: 1024, meanNLL: 2.5, ppl: 12.18, cumulativePPL: 12.18,
                               tokensPerSecond: 850.5, cacheFill: 1, peakMemoryBytes: 300_000_000)
        let output = OutputChunk(sequence: 0, kind: "section", byteStart: 0, byteEnd: 3072, text: "Résumé ✓")
        var write = Sample.checkpoint(run.id, at: 1024, kv: [Sample.kvBlock(0, 512), Sample.kvBlock(512, 512)],
                                      nll: [Sample.nllBlock(0, 1024)], live: [0 ..< 4, 4 ..< 1024], nllSum: 2560.25)
        write.rngState = Data([1, 2, 3])
        write.newMetrics = [metric]
        write.newOutputs = [output]
        try store.writeCheckpoint(write)

        let checkpoint = try #require(try store.latestCheckpoint(runID: run.id))
        #expect(checkpoint.sequence == 1)
        #expect(checkpoint.tokenIndex == 1024 && checkpoint.byteOffset == 3072)
        #expect(checkpoint.tokenizerState == write.tokenizerState)
        #expect(checkpoint.cacheState == write.cacheState)
        #expect(checkpoint.taskState == write.taskState)
        #expect(checkpoint.rngState == Data([1, 2, 3]))
        #expect(try checkpoint.liveRanges == [0 ..< 4, 4 ..< 1024])
        #expect(try store.kvBlocks(runID: run.id) == [Sample.kvBlock(0, 512), Sample.kvBlock(512, 512)].map {
            var block = $0
            block.runID = run.id
            return block
        })
        var expectedMetric = metric
        expectedMetric.runID = run.id
        #expect(try store.metrics(runID: run.id) == [expectedMetric])
        #expect(try store.outputs(runID: run.id).map(\.text) == ["Résumé ✓"])
        let stored = try #require(try store.run(id: run.id))
        #expect(stored.tokens == 1024 && stored.bytes == 3072 && stored.nllSum == 2560.25)
        #expect(stored.lastCheckpointAt != nil)
        #expect(try store.integrityCheck() == "ok")
    }

    @Test("moving live ranges delete evicted K/V blocks and keep live ones, including one straddling the sinks")
    func incrementalGC() throws {
        let dir = try TemporaryDirectory()
        let store = try RunStore(path: dir.databasePath)
        let run = try store.createRun(Sample.newRun())
        // Sink cache: sinks [0,4), recent window of 192 tokens, blocks of 64 tokens.
        func live(_ t: Int64) -> [Range<Int64>] { [0 ..< 4, max(4, t - 192) ..< t] }
        var t: Int64 = 0
        var sequence: Int64 = 0
        while t < 640 {
            try store.writeCheckpoint(Sample.checkpoint(run.id, at: t + 64, kv: [Sample.kvBlock(t, 64)], live: live(t + 64)))
            t += 64
            sequence += 1
            let firsts = try store.kvBlocks(runID: run.id).map(\.firstToken)
            let expected = stride(from: Int64(0), to: t, by: 64).filter { first in
                live(t).contains { $0.overlaps(first ..< first + 64) }
            }
            #expect(firsts == expected, "after checkpoint at \(t)")
        }
        // Block [0,64) straddles the sink range [0,4) and must survive; [448, 640) is the window.
        #expect(try store.kvBlocks(runID: run.id).map(\.firstToken) == [0, 448, 512, 576])
        let (kvRows, checkpoints) = try store.pool.read { db in
            (try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM kv_block") ?? -1,
             try Int64.fetchAll(db, sql: "SELECT sequence FROM checkpoint"))
        }
        #expect(kvRows == 4)
        #expect(checkpoints == [sequence])
        // A window boundary inside a block keeps that block.
        try store.writeCheckpoint(Sample.checkpoint(run.id, at: 640, live: [0 ..< 4, 600 ..< 640]))
        #expect(try store.kvBlocks(runID: run.id).map(\.firstToken) == [0, 576])
        // No live ranges: every block goes.
        try store.writeCheckpoint(Sample.checkpoint(run.id, at: 640, live: []))
        #expect(try store.pool.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM kv_block") } == 0)
    }

    @Test("rows written again after a rewind replace the overlapped part of older blocks; stored blocks never overlap")
    func rewrittenRowsTrimOlderBlocks() throws {
        let dir = try TemporaryDirectory()
        let store = try RunStore(path: dir.databasePath)
        let run = try store.createRun(Sample.newRun())
        // 4 bytes a token; a block's bytes say which checkpoint wrote them.
        func block(_ first: Int64, _ count: Int64, _ writer: UInt8) -> KVBlock {
            KVBlock(firstToken: first, count: count, data: Data(repeating: writer, count: Int(count) * 4))
        }
        try store.writeCheckpoint(Sample.checkpoint(run.id, at: 70, kv: [block(0, 64, 1), block(64, 6, 1)], live: [0 ..< 70]))
        try store.writeCheckpoint(Sample.checkpoint(run.id, at: 100, kv: [block(70, 30, 2)], live: [0 ..< 100]))
        // The stream rewinds to token 66 and goes on with other tokens to 90.
        try store.writeCheckpoint(Sample.checkpoint(run.id, at: 90, kv: [block(66, 24, 3)], live: [0 ..< 100]))
        let blocks = try store.kvBlocks(runID: run.id)
        #expect(blocks.map(\.tokens) == [0 ..< 64, 64 ..< 66, 66 ..< 90, 90 ..< 100])
        #expect(blocks.map { $0.data.first } == [1, 1, 3, 2])
        #expect(blocks.allSatisfy { $0.data.count == Int($0.count) * 4 })
        #expect(blocks.allSatisfy { Set($0.data).count == 1 })
    }

    @Test("a block's remainder outside written ranges keeps whole rows; a block of odd size keeps none")
    func blockRemainder() {
        let data = Data((0 ..< 40).map { UInt8($0) })
        let block = KVBlock(runID: "r", firstToken: 10, count: 10, data: data)
        let parts = block.remainder(outside: [12 ..< 14, 16 ..< 30])
        #expect(parts.map(\.tokens) == [10 ..< 12, 14 ..< 16])
        #expect(parts.map { Array($0.data) } == [Array(0 ..< 8), Array(16 ..< 24)])
        #expect(parts.allSatisfy { $0.runID == "r" })
        #expect(block.remainder(outside: []) == [block])
        #expect(block.remainder(outside: [0 ..< 100]).isEmpty)
        #expect(KVBlock(firstToken: 0, count: 3, data: Data(count: 10)).remainder(outside: [1 ..< 2]).isEmpty)
    }

    @Test("a checkpoint whose transaction fails leaves the previous checkpoint, blocks and run row unchanged")
    func failedTransactionRollsBack() throws {
        let dir = try TemporaryDirectory()
        let failing = RunStore.Hooks(beforeCheckpointCommit: { db in
            if try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM kv_block WHERE firstToken = 128") == 1 {
                // A real SQLite error (NOT NULL constraint) inside the transaction.
                try db.execute(sql: "INSERT INTO run (id) VALUES (NULL)")
            }
        })
        let store = try RunStore(path: dir.databasePath, readOnly: false, hooks: failing)
        let run = try store.createRun(Sample.newRun())
        try store.writeCheckpoint(Sample.checkpoint(run.id, at: 128, kv: [Sample.kvBlock(0, 64), Sample.kvBlock(64, 64)],
                                                    nll: [Sample.nllBlock(0, 128)], live: [64 ..< 128], nllSum: 12.5))
        let before = try #require(try store.run(id: run.id))
        let checkpointBefore = try #require(try store.latestCheckpoint(runID: run.id))

        var write = Sample.checkpoint(run.id, at: 192, kv: [Sample.kvBlock(128, 64)], nll: [Sample.nllBlock(128, 64)],
                                      live: [128 ..< 192], nllSum: 99)
        write.newOutputs = [OutputChunk(sequence: 0, kind: "note", byteStart: 0, byteEnd: 1, text: "lost")]
        let error = storeError { try store.writeCheckpoint(write) }
        #expect(error?.code == .sqlite)
        #expect(error?.runID == run.id)
        #expect(error?.description.contains("write checkpoint at token 192") == true)

        #expect(try store.run(id: run.id) == before)
        #expect(try store.latestCheckpoint(runID: run.id) == checkpointBefore)
        #expect(try store.kvBlocks(runID: run.id).map(\.firstToken) == [64])
        #expect(try store.nll(runID: run.id, range: 0 ..< 1000).tokens == 0 ..< 128)
        #expect(try store.outputs(runID: run.id).isEmpty)
        #expect(try store.pool.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM kv_block") } == 1)
    }

    @Test("bad input is refused before any write")
    func invalidArguments() throws {
        let dir = try TemporaryDirectory()
        let store = try RunStore(path: dir.databasePath)
        let run = try store.createRun(Sample.newRun())
        let mismatched = NLLBlock(firstToken: 0, nll: [1, 2], byteOffsets: [0])
        #expect(storeError { try store.writeCheckpoint(Sample.checkpoint(run.id, at: 2, nll: [mismatched], live: [])) }?.code == .invalidArgument)
        #expect(storeError { try store.writeCheckpoint(Sample.checkpoint(run.id, at: 2, live: [-4 ..< 2])) }?.code == .invalidArgument)
        #expect(storeError { try store.writeCheckpoint(Sample.checkpoint("rnothere", at: 2, live: [])) }?.code == .runNotFound)
        #expect(try store.latestCheckpoint(runID: run.id) == nil)
    }

    @Test("a full disk (max_page_count) fails with .diskFull and keeps the previous checkpoint")
    func diskFull() throws {
        let dir = try TemporaryDirectory()
        let store = try RunStore(path: dir.databasePath, readOnly: false, hooks: RunStore.Hooks(maxPageCount: 80))
        let run = try store.createRun(Sample.newRun())
        try store.writeCheckpoint(Sample.checkpoint(run.id, at: 64, kv: [Sample.kvBlock(0, 64, bytes: 8_000)], live: [0 ..< 64], nllSum: 3))
        let before = try #require(try store.run(id: run.id))
        let checkpointBefore = try #require(try store.latestCheckpoint(runID: run.id))

        let huge = Sample.checkpoint(run.id, at: 128, kv: [Sample.kvBlock(64, 64, bytes: 1_000_000)], live: [0 ..< 128], nllSum: 6)
        let error = storeError { try store.writeCheckpoint(huge) }
        #expect(error?.code == .diskFull)
        #expect(error?.sqliteCode == 13)
        #expect(error?.description.contains("previous checkpoint is intact") == true)
        #expect(try store.run(id: run.id) == before)
        #expect(try store.latestCheckpoint(runID: run.id) == checkpointBefore)
        #expect(try store.kvBlocks(runID: run.id).map(\.firstToken) == [0])
        #expect(try store.integrityCheck() == "ok")
        // Small enough checkpoints still go through afterwards.
        try store.writeCheckpoint(Sample.checkpoint(run.id, at: 128, kv: [Sample.kvBlock(64, 64, bytes: 8_000)], live: [0 ..< 128]))
        #expect(try store.latestCheckpoint(runID: run.id)?.sequence == 2)
    }

    @Test("bench: checkpoint with 64 new K/V blocks of 46 KB (prints timing)")
    func benchCheckpoint() throws {
        let dir = try TemporaryDirectory()
        let store = try RunStore(path: dir.databasePath)
        let run = try store.createRun(Sample.newRun())
        let blockBytes = 46 * 1024
        let template = Sample.blob(1, count: blockBytes)
        var timings = [Double]()
        for round in 0 ..< 4 {
            let first = Int64(round) * 64 * 16
            let blocks = (0 ..< 64).map { KVBlock(firstToken: first + Int64($0) * 16, count: 16, data: template) }
            let end = first + 64 * 16
            let write = Sample.checkpoint(run.id, at: end, kv: blocks, nll: [Sample.nllBlock(first, 1024)],
                                          live: [0 ..< 4, max(4, end - 1020) ..< end])
            let start = DispatchTime.now().uptimeNanoseconds
            try store.writeCheckpoint(write)
            timings.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
        }
        let fileSize = (try FileManager.default.attributesOfItem(atPath: dir.databasePath)[.size] as? Int) ?? 0
        print("bench: checkpoint with 64 x 46 KB K/V blocks (2.9 MB): \(timings.map { String(format: "%.1f ms", $0) }.joined(separator: ", ")); db file \(fileSize / 1024) KB")
        #expect(try store.kvBlocks(runID: run.id).count == 65)
    }
}
