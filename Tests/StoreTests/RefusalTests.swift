import Foundation
import GRDB
import Testing
@testable import Store

@Suite("Refusing databases and locations that are not usable")
struct RefusalTests {
    @Test("another program's SQLite database is refused and left untouched")
    func foreignDatabase() throws {
        let dir = try TemporaryDirectory()
        do {
            let queue = try DatabaseQueue(path: dir.databasePath)
            try queue.write { db in
                try db.execute(sql: "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
            }
        }
        let error = storeError { _ = try RunStore(path: dir.databasePath) }
        #expect(error?.code == .foreignDatabase)
        #expect(error?.path == dir.databasePath)
        #expect(error?.description.contains("notes") == true)
        // Not switched to WAL, no tables of ours added.
        let queue = try DatabaseQueue(path: dir.databasePath)
        let (journal, tables) = try queue.read { db in
            (try String.fetchOne(db, sql: "PRAGMA journal_mode"),
             try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table'"))
        }
        #expect(journal == "delete")
        #expect(tables == ["notes"])
    }

    @Test("a database with another application id is refused even when empty")
    func otherApplicationID() throws {
        let dir = try TemporaryDirectory()
        do {
            let queue = try DatabaseQueue(path: dir.databasePath)
            try queue.write { db in try db.execute(sql: "PRAGMA application_id = 1234") }
        }
        let error = storeError { _ = try RunStore(path: dir.databasePath) }
        #expect(error?.code == .foreignDatabase)
        #expect(error?.description.contains("0x000004D2") == true)
        let queue = try DatabaseQueue(path: dir.databasePath)
        #expect(try queue.read { try String.fetchOne($0, sql: "PRAGMA journal_mode") } == "delete")
        #expect(try queue.read { try Int32.fetchOne($0, sql: "PRAGMA application_id") } == 1234)
    }

    @Test("a database migrated by a newer build is refused with the unknown version named")
    func newerSchema() throws {
        let dir = try TemporaryDirectory()
        do {
            let store = try RunStore(path: dir.databasePath)
            try store.pool.write { db in
                try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v2-from-the-future')")
            }
        }
        let error = storeError { _ = try RunStore(path: dir.databasePath) }
        #expect(error?.code == .newerSchema)
        #expect(error?.description.contains("v2-from-the-future") == true)
        #expect(storeError { _ = try RunStore(path: dir.databasePath, readOnly: true) }?.code == .newerSchema)
    }

    @Test("a file of random bytes is refused as corrupt and not modified")
    func corruptFile() throws {
        let dir = try TemporaryDirectory()
        let garbage = Sample.blob(42, count: 8192)
        try garbage.write(to: URL(fileURLWithPath: dir.databasePath))
        let error = storeError { _ = try RunStore(path: dir.databasePath) }
        #expect(error?.code == .corruptDatabase)
        #expect(error?.sqliteCode == 26)
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir.databasePath)) == garbage)
    }

    @Test("a database whose pages were overwritten fails the integrity check or is refused")
    func damagedPages() throws {
        let dir = try TemporaryDirectory()
        do {
            let store = try RunStore(path: dir.databasePath)
            let run = try store.createRun(Sample.newRun())
            try store.writeCheckpoint(Sample.checkpoint(run.id, at: 64, kv: [Sample.kvBlock(0, 64, bytes: 20_000)], live: [0 ..< 64]))
            _ = try store.pool.writeWithoutTransaction { db in try db.checkpoint(.truncate) }
        }
        // Keep the header (first page) and smash the rest.
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: dir.databasePath))
        try handle.seek(toOffset: 4096)
        try handle.write(contentsOf: Sample.blob(7, count: 16_384))
        try handle.close()
        do {
            let store = try RunStore(path: dir.databasePath)
            let report = try store.integrityCheck()
            print("damagedPages: integrity_check said: \(report.prefix(120))")
            #expect(report != "ok")
        } catch let error as StoreError {
            print("damagedPages: refused: \(error)")
            #expect(error.code == .corruptDatabase)
        }
    }

    @Test("a directory that does not exist, or is a file, is refused")
    func missingDirectory() throws {
        let dir = try TemporaryDirectory()
        let error = storeError { _ = try RunStore(path: dir.path + "/nope/runs.sqlite") }
        #expect(error?.code == .missingDirectory)
        try Data("x".utf8).write(to: URL(fileURLWithPath: dir.path + "/file"))
        #expect(storeError { _ = try RunStore(path: dir.path + "/file/runs.sqlite") }?.code == .missingDirectory)
        #expect(storeError { _ = try RunStore(path: dir.path + "/absent.sqlite", readOnly: true) }?.code == .notInitialized)
    }

    @Test("a read-only directory is refused cleanly, naming the directory")
    func readOnlyDirectory() throws {
        let dir = try TemporaryDirectory()
        let locked = dir.path + "/ro"
        try FileManager.default.createDirectory(atPath: locked, withIntermediateDirectories: true)
        var mounted = false
        if geteuid() == 0 {
            // Root ignores permission bits: use a read-only tmpfs instead.
            mounted = run("/bin/mount", ["-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", locked]) == 0
            guard mounted else {
                print("readOnlyDirectory: running as root and cannot mount a read-only tmpfs; skipped")
                return
            }
        } else {
            try FileManager.default.setAttributes([.posixPermissions: 0o555], ofItemAtPath: locked)
        }
        defer {
            if mounted { _ = run("/bin/umount", [locked]) }
            try? FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: locked)
        }
        let error = storeError { _ = try RunStore(path: locked + "/runs.sqlite") }
        #expect(error?.code == .readOnlyLocation)
        #expect(error?.description.contains(locked) == true)
        #expect(!FileManager.default.fileExists(atPath: locked + "/runs.sqlite"))
    }

    private func run(_ tool: String, _ arguments: [String]) -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        process.standardError = FileHandle.nullDevice
        do {
            try process.run()
            process.waitUntilExit()
            return process.terminationStatus
        } catch {
            return -1
        }
    }
}
