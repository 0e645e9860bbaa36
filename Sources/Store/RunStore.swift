import Foundation
import GRDB

/// The persistent store of Sinkstream runs: one SQLite database in WAL mode.
///
/// The store owns the schema, transactions, integrity and locking; the engine hands it
/// opaque blobs. Several processes may open the same database: writers wait up to
/// `busyTimeout` for each other. A run being processed is protected by `lock(runID:)`.
public final class RunStore: Sendable {
    /// The database file.
    public let path: String
    /// Whether the store was opened read-only.
    public let isReadOnly: Bool
    /// How long a write waits for another connection's write to finish.
    public static let busyTimeout: TimeInterval = 5

    let pool: DatabasePool
    let hooks: Hooks

    /// Test hooks, set only by the tests.
    struct Hooks: Sendable {
        /// `PRAGMA max_page_count` on every connection, to simulate a full disk.
        var maxPageCount: Int?
        /// Runs inside the checkpoint transaction, after every row is written, before commit.
        var beforeCheckpointCommit: (@Sendable (Database) throws -> Void)?

        init(maxPageCount: Int? = nil, beforeCheckpointCommit: (@Sendable (Database) throws -> Void)? = nil) {
            self.maxPageCount = maxPageCount
            self.beforeCheckpointCommit = beforeCheckpointCommit
        }
    }

    /// Opens (and if needed creates and migrates) the run store at `path`.
    ///
    /// - Parameters:
    ///   - path: The database file. Its directory must exist (see `defaultPath(environment:)`).
    ///   - readOnly: Open without writing anything; the database must already exist.
    ///   - checkpointCommitDelay: fault injection for crash tests (nil: off): every checkpoint
    ///     transaction is held open this many seconds before it commits, so that a test can kill
    ///     the process in the middle of one (the command line sets it from
    ///     `SINKSTREAM_FAULT_CHECKPOINT_DELAY_MS`).
    /// - Throws: `StoreError` with code `.foreignDatabase` (another program's database),
    ///   `.newerSchema` (written by a newer Sinkstream), `.corruptDatabase`,
    ///   `.readOnlyLocation`, `.missingDirectory`, `.notInitialized`, `.diskFull` or `.sqlite`.
    public convenience init(path: String, readOnly: Bool = false, checkpointCommitDelay: Double? = nil) throws {
        var hooks = Hooks()
        if let delay = checkpointCommitDelay, delay > 0 {
            let microseconds = UInt32(min(delay, 3600) * 1_000_000)
            hooks.beforeCheckpointCommit = { _ in usleep(microseconds) }
        }
        try self.init(path: path, readOnly: readOnly, hooks: hooks)
    }

    init(path: String, readOnly: Bool, hooks: Hooks) throws {
        self.path = path
        self.isReadOnly = readOnly
        self.hooks = hooks
        try Self.checkLocation(path: path, readOnly: readOnly)

        var config = Configuration()
        config.label = "Sinkstream.RunStore"
        config.readonly = readOnly
        config.foreignKeysEnabled = true
        config.busyMode = .timeout(Self.busyTimeout)
        config.prepareDatabase { db in
            // Runs on every new connection, before GRDB switches the file to WAL mode,
            // so that another program's database is never touched.
            try Self.checkOwnership(db, path: path)
            if let pages = hooks.maxPageCount {
                try db.execute(sql: "PRAGMA max_page_count = \(pages)")
            }
        }
        do {
            if !readOnly { try Self.prepareNewFile(path: path) }
            pool = try DatabasePool(path: path, configuration: config)
        } catch {
            throw StoreError.wrap(error, operation: "open the database", path: path)
        }
        try Self.migrate(pool, path: path, readOnly: readOnly)
    }

    /// Refuses a missing or unwritable directory, a missing file in read-only mode, and an
    /// unwritable file, before SQLite gets a chance to fail with a vaguer error.
    private static func checkLocation(path: String, readOnly: Bool) throws {
        let directory = (path as NSString).deletingLastPathComponent.isEmpty
            ? "." : (path as NSString).deletingLastPathComponent
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw StoreError(
                code: .missingDirectory, path: path,
                message: "The directory \(directory) for the run store \(path) does not exist or is not a directory.")
        }
        let fileExists = FileManager.default.fileExists(atPath: path)
        if readOnly {
            guard fileExists else {
                throw StoreError(
                    code: .notInitialized, path: path,
                    message: "There is no run store at \(path) to open read-only.")
            }
            return
        }
        if access(directory, W_OK) != 0 {
            let reason = String(cString: strerror(errno))
            throw StoreError(
                code: .readOnlyLocation, path: path,
                message: "The run store \(path) cannot be written because its directory \(directory) is not writable (\(reason)). Choose another location with SINKSTREAM_DB or open it read-only.")
        }
        if fileExists, access(path, W_OK) != 0 {
            let reason = String(cString: strerror(errno))
            throw StoreError(
                code: .readOnlyLocation, path: path,
                message: "The run store \(path) is not writable (\(reason)). Fix its permissions or open it read-only.")
        }
    }

    /// Sets up a new store file, its first page (with our application id) and then WAL mode,
    /// through one rollback-journal connection, before the pool opens it.
    ///
    /// This closes two races between processes that open one new store at the same moment:
    /// - In WAL mode a new database's first pages live only in the `-wal` file until a
    ///   checkpoint, and SQLite deletes the `-wal` file of a database whose main file is empty
    ///   when it opens it. A second opener would throw away what the first had written (its
    ///   application id, its migration table) and then refuse the file as another program's.
    /// - Switching a file to WAL needs the other connections to let go of it, and SQLite then
    ///   answers `SQLITE_BUSY` at once, without waiting; GRDB's pool does not retry that.
    ///   Here it is retried until `busyTimeout`.
    ///
    /// Files already in WAL mode, files that are not SQLite databases and other programs'
    /// databases are left untouched (the pool then reports what is wrong with them).
    private static func prepareNewFile(path: String) throws {
        guard try needsPreparation(path: path) else { return }
        var config = Configuration()
        config.label = "Sinkstream.RunStore.create"
        config.busyMode = .timeout(Self.busyTimeout)
        config.journalMode = .default  // keep the file's mode: rollback journal for a new file
        let queue = try DatabaseQueue(path: path, configuration: config)
        defer { try? queue.close() }
        let deadline = ContinuousClock.now + .milliseconds(Int(Self.busyTimeout * 1000))
        while true {
            do {
                // Read first: another program's database is left alone, not even write-locked.
                let (applicationID, tables) = try queue.read { db in
                    (try Int32.fetchOne(db, sql: "PRAGMA application_id") ?? 0, try userTables(db, limit: 1))
                }
                if applicationID != RunStore.applicationID {
                    guard applicationID == 0 && tables.isEmpty else { return }  // `checkOwnership` refuses it
                    try queue.inDatabase { db in
                        try db.inTransaction(.immediate) {
                            // Claim it unless someone else wrote to it in between.
                            if try Int32.fetchOne(db, sql: "PRAGMA application_id") == 0, try userTables(db, limit: 1).isEmpty {
                                try db.execute(sql: "PRAGMA application_id = \(RunStore.applicationID)")
                            }
                            return .commit
                        }
                    }
                    if ContinuousClock.now >= deadline { return }  // the pool reports what is wrong
                    continue  // read again: ours now, or someone else's
                }
                try queue.inDatabase { db in
                    _ = try String.fetchOne(db, sql: "PRAGMA journal_mode = WAL")
                }
                return
            } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY && ContinuousClock.now < deadline {
                usleep(2_000)
            }
        }
    }

    /// Whether `path` is missing, empty, or an SQLite database not yet in WAL mode
    /// (header bytes 18 and 19, the file format versions, are 2 in WAL mode).
    private static func needsPreparation(path: String) throws -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { return true }
        defer { try? handle.close() }
        let header = [UInt8](try handle.read(upToCount: 20) ?? Data())
        if header.isEmpty { return true }
        guard header.count == 20, header.starts(with: Array("SQLite format 3\0".utf8)) else { return false }
        return header[18] != 2 || header[19] != 2
    }

    /// Names of the database's own tables (not SQLite's), in order, at most `limit`: a database
    /// with none and no application id counts as empty.
    private static func userTables(_ db: Database, limit: Int) throws -> [String] {
        try String.fetchAll(db, sql: """
            SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name LIMIT ?
            """, arguments: [limit])
    }

    /// Throws `.foreignDatabase` unless the database is empty or carries our application id.
    private static func checkOwnership(_ db: Database, path: String) throws {
        let applicationID = try Int32.fetchOne(db, sql: "PRAGMA application_id") ?? 0
        if applicationID == RunStore.applicationID { return }
        let tables = try userTables(db, limit: 5)
        if applicationID == 0 && tables.isEmpty { return }
        let owner = applicationID == 0
            ? "it has no application id"
            : String(format: "its application id is 0x%08X", UInt32(bitPattern: applicationID))
        let listed = tables.isEmpty ? "" : " and holds tables (\(tables.joined(separator: ", ")))"
        throw StoreError(
            code: .foreignDatabase, path: path,
            message: "The file \(path) is an SQLite database of another program (\(owner)\(listed)); refusing to use it as a run store. Choose another path with SINKSTREAM_DB.")
    }

    /// Refuses databases from newer builds, then applies missing migrations.
    private static func migrate(_ pool: DatabasePool, path: String, readOnly: Bool) throws {
        do {
            let (superseded, complete, applied) = try pool.read { db in
                (try migrator.hasBeenSuperseded(db), try migrator.hasCompletedMigrations(db),
                 try migrator.appliedIdentifiers(db))
            }
            if superseded {
                let unknown = applied.subtracting(migrator.migrations).sorted()
                throw StoreError(
                    code: .newerSchema, path: path,
                    message: "The run store \(path) was written by a newer Sinkstream (unknown schema versions: \(unknown.joined(separator: ", "))); upgrade Sinkstream to use it.")
            }
            if complete { return }
            if readOnly {
                throw StoreError(
                    code: .notInitialized, path: path,
                    message: "The run store \(path) has not been set up (or needs an upgrade); open it once without read-only mode.")
            }
            // Claim an empty database (one another tool made; new files were claimed when their
            // header was written) before the migrator creates its bookkeeping table outside any
            // migration: another process opening it meanwhile then sees a run store, not a
            // database of another program.
            try pool.writeWithoutTransaction { db in
                if try Int32.fetchOne(db, sql: "PRAGMA application_id") == 0 {
                    try db.execute(sql: "PRAGMA application_id = \(RunStore.applicationID)")
                }
            }
            do {
                try migrator.migrate(pool)
            } catch {
                // Two processes creating one store both run the migrations; the one that loses
                // the race fails on tables the other has just made, and finds them complete.
                if try pool.read({ try migrator.hasCompletedMigrations($0) }) { return }
                throw error
            }
        } catch {
            throw StoreError.wrap(error, operation: "set up the schema", path: path)
        }
    }

    /// The result of `PRAGMA integrity_check`: `"ok"` for a healthy database.
    ///
    /// - Throws: `StoreError` if the check itself cannot run.
    public func integrityCheck() throws -> String {
        try read("check integrity") { db in
            try String.fetchAll(db, sql: "PRAGMA integrity_check").joined(separator: "\n")
        }
    }

    /// Runs a read, translating errors.
    func read<T: Sendable>(_ operation: String, runID: String? = nil, _ body: @Sendable (Database) throws -> T) throws -> T {
        do {
            return try pool.read(body)
        } catch {
            throw StoreError.wrap(error, operation: operation, path: path, runID: runID)
        }
    }

    /// Runs `body` in an IMMEDIATE transaction (so that the busy timeout applies from the
    /// start), translating errors. Nothing of `body` remains if it throws.
    func write<T: Sendable>(_ operation: String, runID: String? = nil, _ body: @Sendable (Database) throws -> T) throws -> T {
        do {
            return try pool.writeWithoutTransaction { db in
                var result: T?
                try db.inTransaction(.immediate) {
                    result = try body(db)
                    return .commit
                }
                guard let result else {
                    throw StoreError(code: .sqlite, path: path, message: "The transaction to \(operation) produced no result.")
                }
                return result
            }
        } catch {
            throw StoreError.wrap(error, operation: operation, path: path, runID: runID)
        }
    }
}
