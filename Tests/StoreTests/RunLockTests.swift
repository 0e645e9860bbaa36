import Foundation
import Testing
@testable import Store

@Suite("Run locks")
struct RunLockTests {
    @Test("a second lock in the same process is refused naming our pid; release frees it")
    func sameProcess() throws {
        let dir = try TemporaryDirectory()
        let store = try RunStore(path: dir.databasePath)
        let lock = try store.lock(runID: "rabc123")
        #expect(lock.isHeld)
        let contents = try String(contentsOfFile: lock.path, encoding: .utf8)
        #expect(contents == "\(getpid())\n")
        let error = storeError { _ = try store.lock(runID: "rabc123") }
        #expect(error?.code == .runLocked)
        #expect(error?.holderPID == getpid())
        #expect(error?.description.contains("rabc123") == true)
        #expect(error?.description.contains("process \(getpid())") == true)
        // Other runs are independent.
        let other = try store.lock(runID: "rother1")
        other.release()
        lock.release()
        #expect(!lock.isHeld)
        let again = try store.lock(runID: "rabc123")
        #expect(again.isHeld)
        #expect(storeError { _ = try store.lock(runID: "../evil") }?.code == .invalidArgument)
    }

    @Test("the lock is released on deinit")
    func deinitReleases() throws {
        let dir = try TemporaryDirectory()
        let store = try RunStore(path: dir.databasePath)
        do { _ = try store.lock(runID: "rdeinit") }
        #expect(try store.lock(runID: "rdeinit").isHeld)
    }

    @Test("another process sees the lock, and kill -9 of a holder frees it")
    func otherProcess() throws {
        let dir = try TemporaryDirectory()
        let store = try RunStore(path: dir.databasePath)
        let lock = try store.lock(runID: "rproc01")
        #expect(shell("flock -n '\(lock.path)' true") == 1)
        lock.release()
        #expect(shell("flock -n '\(lock.path)' true") == 0)

        // A child holds the lock and writes its pid, like another sinkstream would.
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/bin/sh")
        holder.arguments = ["-c", "exec flock -n '\(lock.path)' sh -c 'echo $$ > \"$0\"; exec sleep 30' '\(lock.path)'"]
        try holder.run()
        var written: Int32?
        for _ in 0 ..< 200 where written == nil {
            usleep(25_000)
            written = (try? String(contentsOfFile: lock.path, encoding: .utf8)).flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        }
        let childPID = try #require(written)
        let error = storeError { _ = try store.lock(runID: "rproc01") }
        #expect(error?.code == .runLocked)
        #expect(error?.holderPID == childPID)
        #expect(error?.description.contains("process \(childPID)") == true)

        // The named process (the command flock runs, which holds the descriptor) dies hard.
        kill(childPID, SIGKILL)
        holder.waitUntilExit()
        let taken = try store.lock(runID: "rproc01")
        #expect(taken.isHeld)
    }

    private func shell(_ command: String) -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        do {
            try process.run()
            process.waitUntilExit()
            return process.terminationStatus
        } catch {
            return -1
        }
    }
}
