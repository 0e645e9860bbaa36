import Foundation
@testable import Store

/// A fresh temporary directory, removed when the value is released.
final class TemporaryDirectory: Sendable {
    let path: String

    init() throws {
        let base = FileManager.default.temporaryDirectory.path + "/storetests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        path = base
    }

    /// The path of a database file inside the directory.
    var databasePath: String { path + "/runs.sqlite" }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// Sample values shared by the store tests.
enum Sample {
    static func newRun(task: RunTask = .score, batchID: String? = nil, document: String = "/docs/book.txt") -> NewRun {
        NewRun(
            batchID: batchID, task: task, documentPath: document,
            documentSHA256: String(repeating: "ab", count: 32), documentSize: 1_234_567,
            modelPath: "/models/smollm2.gguf", modelSHA256: String(repeating: "cd", count: 32),
            config: #"{"mode":"sink","sinks":4,"window":1020}"#, mode: "sink(4,1020) batch:256")
    }

    /// Deterministic bytes, different for each seed.
    static func blob(_ seed: Int, count: Int) -> Data {
        var state = UInt64(truncatingIfNeeded: seed) &* 0x9E37_79B9_7F4A_7C15 | 1
        var data = Data(count: count)
        for index in 0 ..< count {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            data[index] = UInt8(truncatingIfNeeded: state)
        }
        return data
    }

    /// A K/V block of `count` tokens whose data identifies it.
    static func kvBlock(_ first: Int64, _ count: Int64, bytes: Int = 256) -> KVBlock {
        KVBlock(firstToken: first, count: count, data: blob(Int(first) * 7 + Int(count), count: bytes))
    }

    /// A loss block with nll[t] = t / 1000 and byte offset 3 t + 1.
    static func nllBlock(_ first: Int64, _ count: Int64) -> NLLBlock {
        let tokens = first ..< first + count
        return NLLBlock(
            firstToken: first,
            nll: tokens.map { Float($0) / 1000 },
            byteOffsets: tokens.map { 3 * $0 + 1 })
    }

    /// A checkpoint at token `t` with the given new blocks and live ranges.
    static func checkpoint(
        _ runID: String, at t: Int64, kv: [KVBlock] = [], nll: [NLLBlock] = [],
        live: [Range<Int64>], nllSum: Double = 0
    ) -> CheckpointWrite {
        CheckpointWrite(
            runID: runID, tokenIndex: t, byteOffset: 3 * t,
            tokenizerState: blob(Int(t) + 1, count: 40), cacheState: blob(Int(t) + 2, count: 64),
            taskState: blob(Int(t) + 3, count: 16), rngState: nil,
            newKVBlocks: kv, newNLLBlocks: nll, liveRanges: live,
            progress: RunProgress(tokens: t, bytes: 3 * t, nllSum: nllSum))
    }
}

/// Runs `body` and returns the StoreError it throws, or nil if it throws nothing.
func storeError(_ body: () throws -> Void) -> StoreError? {
    do {
        try body()
        return nil
    } catch let error as StoreError {
        return error
    } catch {
        return StoreError(code: .sqlite, path: "", message: "unexpected error type: \(error)")
    }
}

/// The pid of a process that has exited (a lock file naming it was left by a dead holder).
func deadPID() throws -> Int32 {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/true")
    try process.run()
    process.waitUntilExit()
    return process.processIdentifier
}

/// Writes the lock file a holder killed with `kill -9` leaves behind: its pid, nobody holding it.
func leaveStaleLockFile(_ store: RunStore, runID: String) throws -> String {
    try FileManager.default.createDirectory(atPath: store.lockDirectory, withIntermediateDirectories: true)
    let path = store.lockPath(runID: runID)
    try Data("\(try deadPID())\n".utf8).write(to: URL(fileURLWithPath: path))
    return path
}
