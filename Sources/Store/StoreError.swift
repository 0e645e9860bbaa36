import Foundation

/// An error from the run store, with a stable code, the database path and a full sentence.
///
/// The `code` is meant for programs (exit codes, tests); `description` is meant for people.
public struct StoreError: Error, CustomStringConvertible, LocalizedError, Sendable, Equatable {
    /// The stable kind of a store error.
    public enum Code: String, Sendable, CaseIterable {
        /// The file is an SQLite database that belongs to another program.
        case foreignDatabase = "foreign-database"
        /// The database was migrated by a newer build of Sinkstream.
        case newerSchema = "newer-schema"
        /// The database has not been set up yet and was opened read-only.
        case notInitialized = "not-initialized"
        /// The file is not a database, or its pages are damaged.
        case corruptDatabase = "corrupt-database"
        /// The database or its directory cannot be written (permissions, read-only file system).
        case readOnlyLocation = "read-only-location"
        /// The directory that should hold the database cannot be created or is missing.
        case missingDirectory = "missing-directory"
        /// The disk (or the database's size limit) is full; the transaction was rolled back.
        case diskFull = "disk-full"
        /// Another connection kept the database locked beyond the busy timeout.
        case busy = "busy"
        /// No run with the given id exists.
        case runNotFound = "run-not-found"
        /// Another process (or another handle in this process) holds the run's lock.
        case runLocked = "run-locked"
        /// The caller passed inconsistent data (mismatched lengths, bad ranges).
        case invalidArgument = "invalid-argument"
        /// Stored data could not be decoded or is inconsistent (a gap in the losses, a short blob).
        case invalidData = "invalid-data"
        /// A file-system call on the lock file failed.
        case lockFailed = "lock-failed"
        /// Any other SQLite error; the message names the failing operation.
        case sqlite = "sqlite"
        /// The database server cannot be reached (down, refused, timed out, connection lost).
        case unreachable = "unreachable"
        /// The database server refused the credentials (wrong password, unknown user).
        case authentication = "authentication"
        /// The worker's lease on a run was taken over by another worker: it must stop writing.
        case leaseLost = "lease-lost"
        /// Any other error reported by a PostgreSQL server.
        case postgres = "postgres"
    }

    /// The kind of error.
    public let code: Code
    /// The database path the error is about.
    public let path: String
    /// A full sentence describing what went wrong.
    public let message: String
    /// The run the error is about, if any.
    public let runID: String?
    /// For `.runLocked`: the pid written in the lock file by the holder, if it could be read.
    public let holderPID: Int32?
    /// For SQLite errors: the extended SQLite result code.
    public let sqliteCode: Int32?

    /// Creates a store error.
    public init(
        code: Code, path: String, message: String,
        runID: String? = nil, holderPID: Int32? = nil, sqliteCode: Int32? = nil
    ) {
        self.code = code
        self.path = path
        self.message = message
        self.runID = runID
        self.holderPID = holderPID
        self.sqliteCode = sqliteCode
    }

    public var description: String { message }
    public var errorDescription: String? { message }

    /// The run is locked by another holder.
    public static func runLocked(runID: String, holderPID: Int32?, path: String) -> StoreError {
        let who = holderPID.map { "process \($0)" } ?? "another process"
        return StoreError(
            code: .runLocked, path: path,
            message: "Run \(runID) is in use by \(who) (lock file \(path)); wait for it to finish or stop it first.",
            runID: runID, holderPID: holderPID)
    }

    /// No run has this id.
    public static func runNotFound(_ runID: String, path: String) -> StoreError {
        StoreError(
            code: .runNotFound, path: path,
            message: "There is no run \(runID) in the run store at \(path).", runID: runID)
    }

    /// The caller passed bad data.
    public static func invalidArgument(_ sentence: String, runID: String?, path: String) -> StoreError {
        StoreError(code: .invalidArgument, path: path, message: sentence, runID: runID)
    }

    /// Stored data is unreadable or inconsistent.
    public static func invalidData(_ sentence: String, runID: String?, path: String) -> StoreError {
        StoreError(code: .invalidData, path: path, message: sentence, runID: runID)
    }
}
