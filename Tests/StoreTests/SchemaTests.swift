import Foundation
import GRDB
import Synchronization
import Testing
@testable import Store

@Suite("Schema and opening")
struct SchemaTests {
    @Test("a new store has every table, our application id, WAL mode and a clean integrity check")
    func migrationsCreateSchema() throws {
        let dir = try TemporaryDirectory()
        let store = try RunStore(path: dir.databasePath)
        #expect(try store.integrityCheck() == "ok")
        let (tables, appID, journal, foreignKeys, applied) = try store.pool.read { db in
            (try String.fetchSet(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table'"),
             try Int32.fetchOne(db, sql: "PRAGMA application_id"),
             try String.fetchOne(db, sql: "PRAGMA journal_mode"),
             try Int.fetchOne(db, sql: "PRAGMA foreign_keys"),
             try RunStore.migrator.appliedIdentifiers(db))
        }
        for table in RunStore.tableNames {
            #expect(tables.contains(table), "missing table \(table)")
        }
        #expect(appID == 0x534B_5354)
        #expect(journal == "wal")
        #expect(foreignKeys == 1)
        #expect(applied == ["v1"])
    }

    @Test("several openers creating one new store at the same moment all succeed")
    func concurrentCreation() throws {
        // Regressions: (1) the migrator creates its bookkeeping table before the migration that
        // sets the application id, and a second opener in between refused the file as "a
        // database of another program" (StoreFaultTests.concurrentRuns, 4 times in 20);
        // (2) a second opener of a new file whose pages were still only in the `-wal` file made
        // SQLite delete that log, with the same refusal (the last CI run; 4 of 6 local runs);
        // (3) switching to WAL mode failed at once with "database is locked" (4 runs in 12
        // after (2) was fixed).
        for round in 0..<25 {
            let dir = try TemporaryDirectory()
            let failures = Atomic<Int>(0)
            let opened = Atomic<Int>(0)
            DispatchQueue.concurrentPerform(iterations: 4) { _ in
                do {
                    let store = try RunStore(path: dir.databasePath)
                    _ = try store.runs(task: nil, status: nil, batchID: nil)
                    opened.add(1, ordering: .relaxed)
                } catch {
                    failures.add(1, ordering: .relaxed)
                    Issue.record("round \(round): \(error)")
                }
            }
            #expect(opened.load(ordering: .relaxed) == 4 && failures.load(ordering: .relaxed) == 0)
        }
    }

    @Test("reopening an existing store (also read-only) keeps its runs")
    func reopen() throws {
        let dir = try TemporaryDirectory()
        let id = try RunStore(path: dir.databasePath).createRun(Sample.newRun()).id
        let again = try RunStore(path: dir.databasePath)
        #expect(try again.run(id: id)?.id == id)
        let readOnly = try RunStore(path: dir.databasePath, readOnly: true)
        #expect(try readOnly.runs().map(\.id) == [id])
        let error = storeError { _ = try readOnly.createRun(Sample.newRun()) }
        #expect(error?.code == .readOnlyLocation)
    }

    @Test("two store handles on one database both write (busy timeout, WAL)")
    func twoWriters() throws {
        let dir = try TemporaryDirectory()
        let a = try RunStore(path: dir.databasePath)
        let b = try RunStore(path: dir.databasePath)
        DispatchQueue.concurrentPerform(iterations: 2) { which in
            let store = which == 0 ? a : b
            for _ in 0 ..< 20 {
                _ = try? store.createRun(Sample.newRun())
            }
        }
        #expect(try a.runs().count == 40)
    }

    @Test("defaultPath prefers SINKSTREAM_DB, then XDG_DATA_HOME, then HOME/.local/share, and creates the directory")
    func defaultPath() throws {
        let dir = try TemporaryDirectory()
        #expect(RunStore.defaultPath(environment: ["SINKSTREAM_DB": dir.path + "/x/my.db"]) == dir.path + "/x/my.db")
        #expect(FileManager.default.fileExists(atPath: dir.path + "/x"))
        let xdg = RunStore.defaultPath(environment: ["XDG_DATA_HOME": dir.path + "/data", "HOME": "/nonexistent"])
        #expect(xdg == dir.path + "/data/sinkstream/runs.sqlite")
        #expect(FileManager.default.fileExists(atPath: dir.path + "/data/sinkstream"))
        let home = RunStore.defaultPath(environment: ["HOME": dir.path, "SINKSTREAM_DB": ""])
        #expect(home == dir.path + "/.local/share/sinkstream/runs.sqlite")
    }
}
