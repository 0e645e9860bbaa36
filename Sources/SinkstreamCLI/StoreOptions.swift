import ArgumentParser
import Foundation
import PostgresStore
import Store

/// Where runs are stored: an SQLite file (the embedded default) or a PostgreSQL database
/// (`postgres://…`, shared by `sinkstream worker`s on many machines).
struct StoreOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The run database: an SQLite file, or postgres://USER@HOST:PORT/DBNAME?sslmode=disable|prefer|require|verify-full (password from PGPASSWORD or ~/.pgpass) (default: $SINKSTREAM_DB, else $XDG_DATA_HOME/sinkstream/runs.sqlite).", valueName: "path|url"))
    var db: String?

    /// The database in use: a file path or a PostgreSQL URL (which may hold a password: never
    /// print it, print `location`).
    var path: String { db ?? RunStore.defaultPath(environment: processEnvironment) }

    /// Whether the store is a PostgreSQL database.
    var isPostgres: Bool { PostgresURL.isPostgres(path) }

    /// The store for messages: the path, or the URL without its password.
    var location: String { isPostgres ? PostgresURL.redact(path) : path }

    /// Whether the database exists yet (a server is asked when it is opened).
    var exists: Bool { isPostgres || FileManager.default.fileExists(atPath: path) }

    /// A folder for files the store's runs read (documents from standard input): next to an
    /// SQLite file, else in the default data folder.
    var dataDirectory: String {
        let file = isPostgres ? RunStore.defaultPath(environment: processEnvironment.filter { $0.key != "SINKSTREAM_DB" }) : path
        return (file as NSString).deletingLastPathComponent
    }

    func open(readOnly: Bool = false) throws -> any RunStoring {
        if isPostgres { return try openPostgres(readOnly: readOnly) }
        return try openSQLite(readOnly: readOnly)
    }

    /// The PostgreSQL store; an SQLite path is refused by `command`, which needs the queue.
    func openPostgres(readOnly: Bool = false, lease: TimeInterval = PostgresStore.defaultLease, for command: String? = nil) throws -> PostgresStore {
        guard isPostgres else {
            throw InputError("`sinkstream \(command ?? "")` needs a PostgreSQL run store (the work queue lives there): give --db postgres://USER@HOST:PORT/DBNAME or set SINKSTREAM_DB; \(path) is an SQLite file.", status: .usage)
        }
        let url = try PostgresURL(path, environment: processEnvironment)
        let delay = processEnvironment["SINKSTREAM_FAULT_CHECKPOINT_DELAY_MS"].flatMap(Double.init).map { $0 / 1000 }
        let retry = processEnvironment["SINKSTREAM_PG_RETRY_SECONDS"].flatMap(Double.init) ?? 30
        return try PostgresStore(url: url, readOnly: readOnly, retryWindow: retry, leaseLength: lease, checkpointCommitDelay: delay)
    }

    /// The SQLite store; a PostgreSQL URL is refused by `command`, which works on files only.
    func openSQLite(readOnly: Bool = false, for command: String? = nil) throws -> RunStore {
        guard !isPostgres else {
            throw InputError("`sinkstream \(command ?? "")` works on an SQLite run store only; on PostgreSQL (\(location)) use the database's own tools (psql, VACUUM).", status: .usage)
        }
        // Fault injection for the crash tests: hold each checkpoint transaction open N ms.
        let delay = processEnvironment["SINKSTREAM_FAULT_CHECKPOINT_DELAY_MS"].flatMap(Double.init).map { $0 / 1000 }
        return try RunStore(path: path, readOnly: readOnly, checkpointCommitDelay: delay)
    }
}
