import Foundation
import GRDB
import Testing
@testable import Store

@Suite("Run states derived from the stored status and the lock")
struct RunStateTests {
    @Test("stored running: running while another handle holds the lock, interrupted once nobody does")
    func runningVersusInterrupted() throws {
        let dir = try TemporaryDirectory()
        let store = try RunStore(path: dir.databasePath)
        let run = try store.createRun(Sample.newRun())
        let lockFile = store.lockPath(runID: run.id)

        // No lock file at all: the process that stored `running` is gone. Probing creates nothing.
        #expect(store.state(of: run) == .interrupted)
        #expect(store.lockState(runID: run.id) == .absent)
        #expect(!FileManager.default.fileExists(atPath: lockFile))
        #expect(!FileManager.default.fileExists(atPath: store.lockDirectory))

        // Held by another RunLock handle (as a live `score` would): running, naming the holder.
        let lock = try store.lock(runID: run.id)
        let held = store.stateAndHolder(of: run)
        #expect(held.state == .running)
        #expect(held.holderPID == getpid())
        #expect(store.lockState(runID: run.id) == .held(pid: getpid()))
        // The probe does not disturb the holder.
        #expect(lock.isHeld)
        #expect(try String(contentsOfFile: lockFile, encoding: .utf8) == "\(getpid())\n")

        // Released cleanly: the lock file goes with it, the stored `running` is now a dead run.
        lock.release()
        #expect(!FileManager.default.fileExists(atPath: lockFile))
        #expect(store.state(of: run) == .interrupted)

        // Left behind by a holder killed with kill -9: the file names a dead pid, nobody holds it.
        let stale = try leaveStaleLockFile(store, runID: run.id)
        #expect(store.lockState(runID: run.id) == .free)
        #expect(store.state(of: run) == .interrupted)
        #expect(FileManager.default.fileExists(atPath: stale), "probing leaves the file as it was")
        // And the next locker takes it over without calling the run busy.
        let next = try store.lock(runID: run.id)
        #expect(store.state(of: run) == .running)
        next.release()
    }

    @Test("paused, failed and completed come from the store; a held paused run is running")
    func storedStates() throws {
        let dir = try TemporaryDirectory()
        let store = try RunStore(path: dir.databasePath)
        let paused = try store.createRun(Sample.newRun())
        try store.setStatus(runID: paused.id, .paused)
        let failed = try store.createRun(Sample.newRun())
        try store.setStatus(runID: failed.id, .failed, error: "disk on fire")
        let completed = try store.createRun(Sample.newRun())
        try store.setStatus(runID: completed.id, .completed)
        func state(_ id: String) throws -> RunState { store.state(of: try #require(try store.run(id: id))) }
        #expect(try state(paused.id) == .paused)
        #expect(try state(failed.id) == .failed)
        #expect(try state(completed.id) == .completed)
        // A resume holds the lock before it stores `running` again.
        let resuming = try store.lock(runID: paused.id)
        #expect(try state(paused.id) == .running)
        resuming.release()
        let finishing = try store.lock(runID: completed.id)
        #expect(try state(completed.id) == .completed)
        finishing.release()
    }

    @Test("runs(state:) filters by the derived state, the same way for every caller")
    func filter() throws {
        let dir = try TemporaryDirectory()
        let store = try RunStore(path: dir.databasePath)
        let live = try store.createRun(Sample.newRun())
        let dead = try store.createRun(Sample.newRun())
        let paused = try store.createRun(Sample.newRun())
        try store.setStatus(runID: paused.id, .paused)
        let failed = try store.createRun(Sample.newRun())
        try store.setStatus(runID: failed.id, .failed)
        let done = try store.createRun(Sample.newRun(task: .translate))
        try store.setStatus(runID: done.id, .completed)
        let lock = try store.lock(runID: live.id)
        _ = try leaveStaleLockFile(store, runID: dead.id)

        #expect(try store.runs(state: .running).map(\.record.id) == [live.id])
        #expect(try store.runs(state: .running).first?.holderPID == getpid())
        #expect(try store.runs(state: .interrupted).map(\.record.id) == [dead.id])
        #expect(try store.runs(state: .paused).map(\.record.id) == [paused.id])
        #expect(try store.runs(state: .failed).map(\.record.id) == [failed.id])
        #expect(try store.runs(state: .completed).map(\.record.id) == [done.id])
        #expect(try store.runs(task: .translate, state: .completed).map(\.record.id) == [done.id])
        #expect(try store.runs(task: .score, state: .completed).isEmpty)
        let all = try store.runs(state: nil)
        #expect(all.map(\.record.id) == [live.id, dead.id, paused.id, failed.id, done.id])
        #expect(all.map(\.state) == [.running, .interrupted, .paused, .failed, .completed])
        lock.release()
        #expect(try store.runs(state: .interrupted).map(\.record.id) == [live.id, dead.id])
        #expect(try store.runs(state: .running).isEmpty)
    }
}
