#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import PostgresNIO
import Store

/// Runs, checkpoints and the work queue in a PostgreSQL database, shared by any number of
/// workers on any number of machines.
///
/// The same logical schema as ``RunStore`` (SQLite), plus the queue (`queue`: one row per run
/// submitted for workers, with its lease) and the documents the work needs (`document`,
/// `document_chunk`, content-addressed by SHA-256). The engine's checkpoint path is synchronous,
/// so this is a synchronous façade over postgres-nio's connection: one connection per store for
/// every transaction, under a lock, plus one for lease renewals only (opened at the first
/// renewal); futures are waited for on the caller's thread.
///
/// A lost connection (server restarted, connection terminated, network gone) is re-opened
/// with exponential backoff for up to `retryWindow` seconds and the interrupted transaction run
/// again from the start; nothing of a transaction that did not commit remains.
public final class PostgresStore: @unchecked Sendable {
    /// The database, without its password.
    public let url: PostgresURL
    /// How long an operation keeps reconnecting before it reports the server unreachable.
    public let retryWindow: TimeInterval
    /// How long one statement may take before the connection is given up as lost (a server
    /// that vanished without closing the connection, e.g. a cut network).
    public let statementTimeout: TimeInterval
    /// Fault injection for crash tests: every checkpoint transaction is held open this long.
    let checkpointCommitDelay: TimeInterval?
    /// Fault injection for tests: the answers of this many next COMMITs are "lost" (the
    /// transaction committed, then the connection is given up as if cut before the answer came).
    private var lostCommitAnswers = 0

    /// Fault injection for tests: the answers of the next `count` COMMITs are lost.
    func loseCommitAnswers(_ count: Int) {
        leaseLock.lock(); lostCommitAnswers = count; leaseLock.unlock()
    }

    private let group: MultiThreadedEventLoopGroup
    private let configuration: PostgresConnection.Configuration
    private let logger: Logger
    /// The connection of every operation but the heartbeat.
    private let main = ConnectionSlot()
    /// The connection lease renewals use (``renewLease(runID:lease:)``), so that a heartbeat never
    /// waits behind a long read, a checkpoint's transfer or a reconnect backoff on the main one.
    let heartbeatSlot = ConnectionSlot()
    private var nextConnectionID = 1
    /// The runs this store holds a lease on, with the lease's token (fencing: checkpoint
    /// writes of a run check that the token is still the queue row's).
    var leases: [String: Int64] = [:]
    /// Runs whose lease this store lost (see `checkLease`).
    var fenced: Set<String> = []
    /// Heartbeats of claimed runs not yet held (``startClaimHeartbeat(runID:lease:)``), under `leaseLock`.
    var claimHeartbeats: [String: (heartbeat: Heartbeat, lease: TimeInterval)] = [:]
    /// Whether claims start a heartbeat (a test hook turns it off), under `leaseLock`.
    var heartbeatsAtClaim = true
    /// How long a lease taken by ``hold(runID:)`` lasts unless renewed.
    public let leaseLength: TimeInterval
    /// After this many failed attempts in a row a submitted run is failed for good (an attempt
    /// whose worker stopped renewing its lease counts too: see ``claim(worker:lease:batchID:)``).
    ///
    /// Set in `init`; the setter remains (read and written under a lock) only for callers that
    /// still assign it after opening the store.
    public var maxFailures: Int {
        get { leaseLock.lock(); defer { leaseLock.unlock() }; return storedMaxFailures }
        set { leaseLock.lock(); storedMaxFailures = max(1, newValue); leaseLock.unlock() }
    }
    private var storedMaxFailures: Int
    let leaseLock = NSLock()

    /// Opens (and if needed migrates) the run store in the database at `url`.
    ///
    /// - Parameters:
    ///   - url: The database.
    ///   - readOnly: Only read: the schema must exist and be current.
    ///   - retryWindow: How long to keep reconnecting to a server that cannot be reached.
    ///   - leaseLength: How long a lease taken by ``hold(runID:)`` lasts unless renewed; it also
    ///     bounds how long the server lets a session of this store sit idle inside a transaction
    ///     (``sessionSettings(leaseLength:statementTimeout:)``).
    ///   - maxFailures: Failed attempts in a row after which a submitted run is failed for good.
    ///   - checkpointCommitDelay: Fault injection (nil: off).
    /// - Throws: `StoreError` `.unreachable`, `.authentication`, `.foreignDatabase`,
    ///   `.newerSchema`, `.notInitialized`, `.postgres`, `.invalidArgument`.
    public init(url: PostgresURL, readOnly: Bool = false, retryWindow: TimeInterval = 30,
                statementTimeout: TimeInterval = 120, leaseLength: TimeInterval = PostgresStore.defaultLease,
                maxFailures: Int = 3, checkpointCommitDelay: TimeInterval? = nil) throws {
        guard maxFailures >= 1 else {
            throw StoreError(code: .invalidArgument, path: url.description,
                             message: "The maximum number of failed attempts for \(url) must be at least 1; got \(maxFailures).")
        }
        self.leaseLength = leaseLength
        storedMaxFailures = maxFailures
        self.url = url
        self.retryWindow = retryWindow
        self.statementTimeout = statementTimeout
        self.checkpointCommitDelay = checkpointCommitDelay
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var logger = Logger(label: "sinkstream.postgres")
        logger.logLevel = .critical
        self.logger = logger
        var tls = PostgresConnection.Configuration.TLS.disable
        do {
            switch url.sslMode {
            case .disable:
                tls = .disable
            case .allow, .prefer, .require, .verifyCA, .verifyFull:
                // allow: postgres-nio cannot fall back from plaintext to TLS, so TLS is tried
                // first (prefer) and plaintext after; a hostssl-only server then works.
                var config = TLSConfiguration.makeClientConfiguration()
                if url.sslMode != .verifyFull && url.sslMode != .verifyCA { config.certificateVerification = .none }
                if url.sslMode == .verifyCA { config.certificateVerification = .noHostnameVerification }
                let context = try NIOSSLContext(configuration: config)
                tls = url.sslMode == .prefer || url.sslMode == .allow ? .prefer(context) : .require(context)
            }
        } catch {
            try? group.syncShutdownGracefully()
            throw StoreError(code: .invalidArgument, path: url.description,
                             message: "Cannot set up TLS for \(url) (\(error)); check sslmode.")
        }
        var configuration = PostgresConnection.Configuration(
            host: url.host, port: url.port, username: url.user, password: url.password,
            database: url.database, tls: tls)
        configuration.options.connectTimeout = .seconds(5)
        self.configuration = configuration
        do {
            try migrate(readOnly: readOnly)
        } catch {
            close()
            throw error
        }
    }

    deinit { close() }

    /// Closes the connection and its event loop; the store cannot be used afterwards.
    public func close() {
        // Runs claimed but never held go back to the queue (their heartbeats stop).
        leaseLock.lock()
        let claimed = claimHeartbeats
        claimHeartbeats = [:]
        leaseLock.unlock()
        for (runID, entry) in claimed {
            entry.heartbeat.stop()
            try? releaseLease(runID: runID)
        }
        for slot in [main, heartbeatSlot] {
            slot.lock.lock()
            let connection = slot.connection
            slot.connection = nil
            slot.lock.unlock()
            try? connection?.close().wait()
        }
        try? group.syncShutdownGracefully()
    }

    /// Runs `body` on the connection of `slot` (the main one unless given; opened if needed)
    /// under the slot's lock, retrying from the start on a lost connection until `retryWindow`
    /// has passed.
    func withConnection<T>(_ operation: String, runID: String? = nil, slot given: ConnectionSlot? = nil,
                           _ body: (PostgresConnection) throws -> T) throws -> T {
        let slot = given ?? main
        slot.lock.lock()
        defer { slot.lock.unlock() }
        let deadline = Date().addingTimeInterval(retryWindow)
        var delay = 0.05
        var transientTries = 0
        while true {
            do {
                let connection = try slot.connection ?? open()
                slot.connection = connection
                return try body(connection)
            } catch {
                let mapped = map(error, operation: operation, runID: runID)
                if Self.isTransient(error) {
                    // A deadlock victim, a serialization failure or a lock wait that timed out:
                    // the transaction was rolled back and the connection is fine; run it again
                    // after a short, jittered pause (bounded by tries and the retry window).
                    transientTries += 1
                    if transientTries >= Self.maxTransientTries || Date() > deadline { throw mapped }
                    usleep(UInt32(Double.random(in: 0.01 ... 0.05 * Double(transientTries)) * 1_000_000))
                    continue
                }
                guard mapped.code == .unreachable else { throw mapped }
                try? slot.connection?.close().wait()
                slot.connection = nil
                if Date().addingTimeInterval(delay) > deadline { throw mapped }
                usleep(UInt32(delay * 1_000_000))
                delay = min(delay * 2, 2)
            }
        }
    }

    /// How often a transaction is run again after a transient server error (see ``isTransient``).
    static let maxTransientTries = 10

    /// SQLSTATEs after which the server rolled the transaction back and running it again is
    /// expected to succeed: deadlock detected, serialization failure, lock not available
    /// (`lock_timeout`).
    static let transientStates: Set<String> = ["40P01", "40001", "55P03"]

    /// Whether `error` is a server error in ``transientStates``.
    static func isTransient(_ error: any Error) -> Bool {
        guard let error = error as? PSQLError, error.code == .server,
              let state = error.serverInfo?[.sqlState] else { return false }
        return transientStates.contains(state)
    }

    /// Runs `body` in one transaction (`BEGIN` … `COMMIT`, rolled back if it throws).
    func transaction<T>(_ operation: String, runID: String? = nil, _ body: (PostgresConnection) throws -> T) throws -> T {
        try transaction(operation, runID: runID, knowingDoubt: { connection, _ in try body(connection) })
    }

    /// ``transaction(_:runID:_:)``, telling `body` whether an earlier try of this transaction
    /// may have committed: its COMMIT was sent and no answer came (the connection was lost at
    /// that moment). Only then may a retry adopt what that try left (a lease of this worker); a
    /// try that failed earlier committed nothing.
    func transaction<T>(_ operation: String, runID: String? = nil,
                        knowingDoubt body: (PostgresConnection, _ earlierCommitInDoubt: Bool) throws -> T) throws -> T {
        var inDoubt = false
        return try withConnection(operation, runID: runID) { connection in
            try waitFor(connection.query("BEGIN", logger: logger), on: connection)
            do {
                let result = try body(connection, inDoubt)
                inDoubt = true
                try waitFor(connection.query("COMMIT", logger: logger), on: connection)
                if takeLostCommitAnswer() { throw ConnectionLost(timedOut: true) }
                return result
            } catch {
                _ = try? waitFor(connection.query("ROLLBACK", logger: logger), on: connection)
                throw error
            }
        }
    }

    private func takeLostCommitAnswer() -> Bool {
        leaseLock.lock()
        defer { leaseLock.unlock() }
        if lostCommitAnswers <= 0 { return false }
        lostCommitAnswers -= 1
        return true
    }

    /// Runs one statement and returns its rows.
    @discardableResult
    func query(_ connection: PostgresConnection, _ query: PostgresQuery) throws -> [PostgresRandomAccessRow] {
        try waitFor(connection.query(query, logger: logger), on: connection).rows.map { $0.makeRandomAccess() }
    }

    /// Waits for `future` on the caller's thread (never an event loop's), giving up when the
    /// connection closes under it or after `statementTimeout`.
    ///
    /// postgres-nio writes a query to its channel without a promise for the write, so a query
    /// issued on a connection the server has just closed (pg_terminate_backend, a restart) is
    /// never answered; a plain `wait()` would then block forever. Here it fails as a lost
    /// connection instead, and `withConnection` reconnects and runs the transaction again.
    @discardableResult
    func waitFor<T: Sendable>(_ future: EventLoopFuture<T>, on connection: PostgresConnection) throws -> T {
        let done = DispatchSemaphore(value: 0)
        let box = ResultBox<T>()
        future.whenComplete { result in
            box.set(result)
            done.signal()
        }
        let deadline = Date().addingTimeInterval(statementTimeout)
        while done.wait(timeout: .now() + .milliseconds(200)) == .timedOut {
            if connection.isClosed || Date() > deadline {
                // Closing fails whatever the connection still has pending; the result box then
                // holds that failure, or nothing if postgres-nio lost the query.
                let closing: EventLoopFuture<Void> = connection.close()
                _ = closing
                if done.wait(timeout: .now() + .seconds(1)) == .success, let result = box.get() { return try result.get() }
                throw ConnectionLost(timedOut: !connection.isClosed || Date() > deadline)
            }
        }
        guard let result = box.get() else { throw ConnectionLost(timedOut: false) }
        return try result.get()
    }

    private func open() throws -> PostgresConnection {
        leaseLock.lock()
        let id = nextConnectionID
        nextConnectionID += 1
        leaseLock.unlock()
        let connection = try PostgresConnection.connect(
            on: group.next(), configuration: configuration, id: id, logger: logger).wait()
        do {
            var bindings = PostgresBindings()
            var calls: [String] = []
            for (name, value) in Self.sessionSettings(leaseLength: leaseLength, statementTimeout: statementTimeout) {
                bindings.append(name)
                bindings.append(value)
                calls.append("set_config($\(bindings.count - 1), $\(bindings.count), false)")
            }
            let settings = PostgresQuery(unsafeSQL: "SELECT " + calls.joined(separator: ", "), binds: bindings)
            try waitFor(connection.query(settings, logger: logger), on: connection)
        } catch {
            try? connection.close().wait()
            throw error
        }
        return connection
    }

    /// The session settings every connection of a store gets right after connecting, so that a
    /// worker that dies or loses the network inside a transaction cannot keep its queue and run
    /// rows locked past its lease (workers claim with `SKIP LOCKED` and would skip a locked row
    /// until the server noticed the dead peer, about 2 h with Linux's TCP defaults):
    ///
    /// - `idle_in_transaction_session_timeout`: half the lease, at least 3 s: the server ends a
    ///   session that sits idle inside a transaction that long, releasing its locks.
    /// - `tcp_keepalives_idle/interval/count` (5 s, 2 s, 3): a peer that vanished mid-statement
    ///   is detected in about 11 s.
    /// - `lock_timeout`: half the lease, at least 3 s; a wait that long fails (55P03) and the
    ///   transaction is run again (``isTransient(_:)``).
    /// - `statement_timeout`: the client's `statementTimeout`, so that the server never goes on
    ///   with a statement (holding locks) that the client has given up on.
    static func sessionSettings(leaseLength: TimeInterval, statementTimeout: TimeInterval) -> [(String, String)] {
        func ms(_ seconds: TimeInterval) -> String { String(Int64(min(seconds, 86_400) * 1000)) }
        let half = max(3, leaseLength / 2)
        return [
            ("idle_in_transaction_session_timeout", ms(half)),
            ("lock_timeout", ms(half)),
            ("statement_timeout", ms(max(1, statementTimeout))),
            ("tcp_keepalives_idle", "5"),
            ("tcp_keepalives_interval", "2"),
            ("tcp_keepalives_count", "3"),
        ]
    }

    /// Translates a postgres-nio or NIO error into a `StoreError` that names the database
    /// (without its password) and says what to do.
    func map(_ error: any Error, operation: String, runID: String?) -> StoreError {
        if let error = error as? StoreError { return error }
        let at = url.description
        if let error = error as? PSQLError {
            switch error.code {
            case .server:
                let state = error.serverInfo?[.sqlState] ?? ""
                let message = error.serverInfo?[.message] ?? "no message"
                switch state {
                case "28P01":
                    return StoreError(code: .authentication, path: at, message: "The PostgreSQL server at \(at) refused the credentials of user \(url.user) (\(message)); check the password in the URL, PGPASSWORD or ~/.pgpass.", runID: runID)
                case "28000":
                    return StoreError(code: .authentication, path: at, message: "The PostgreSQL server at \(at) refused the connection of user \(url.user) (\(message)); check the password in the URL, PGPASSWORD or ~/.pgpass, and whether the server requires TLS (sslmode) or allows this host (pg_hba.conf).", runID: runID)
                case "3D000":
                    return StoreError(code: .notInitialized, path: at, message: "The PostgreSQL server at \(url.host):\(url.port) has no database \(url.database); create it (createdb \(url.database)) or fix the URL.", runID: runID)
                case "57P01", "57P02", "57P03", "08000", "08003", "08006", "25P03":
                    return StoreError(code: .unreachable, path: at, message: "The PostgreSQL server at \(at) closed the connection while trying to \(operation) (\(message)); it is retried with backoff.", runID: runID)
                case "40P01", "40001", "55P03":
                    return StoreError(code: .busy, path: at, message: "The PostgreSQL server at \(at) rolled back the transaction to \(operation) (\(message), SQLSTATE \(state)) \(Self.maxTransientTries) times in a row; other workers hold the same rows. Try again, or run fewer workers.", runID: runID)
                case "57014":
                    // statement_timeout: a statement slower than the client waits for (a large
                    // transfer on a slow link) is the link's doing, not the run's.
                    return StoreError(code: .busy, path: at, message: "The PostgreSQL server at \(at) cancelled a statement to \(operation) after the statement timeout (\(message)); the link or the server is too slow for it. Try again.", runID: runID)
                case "53300":
                    return StoreError(code: .busy, path: at, message: "The PostgreSQL server at \(at) has too many connections (\(message)); raise max_connections or run fewer workers.", runID: runID)
                default:
                    return StoreError(code: .postgres, path: at, message: "Could not \(operation) in the run store \(at): \(message) (SQLSTATE \(state)).", runID: runID)
                }
            case .sslUnsupported:
                // A configuration error, not an outage: not retried.
                return StoreError(code: .authentication, path: at, message: "The PostgreSQL server at \(at) does not offer TLS but sslmode=\(url.sslMode.rawValue) requires it; enable ssl on the server or use sslmode=prefer.", runID: runID)
            case .authMechanismRequiresPassword:
                return StoreError(code: .authentication, path: at, message: "The PostgreSQL server at \(at) wants a password for user \(url.user) and none was given; put it in PGPASSWORD, ~/.pgpass or the URL.", runID: runID)
            case .unsupportedAuthMechanism, .saslError:
                return StoreError(code: .authentication, path: at, message: "Could not authenticate to the PostgreSQL server at \(at) as \(url.user); check the password in the URL, PGPASSWORD or ~/.pgpass.", runID: runID)
            case .connectionError, .serverClosedConnection, .uncleanShutdown, .clientClosedConnection:
                let cause = error.underlying.map { " (\(Self.describe($0)))" } ?? ""
                if let underlying = error.underlying, "\(underlying)".contains("CERTIFICATE_VERIFY_FAILED") {
                    // A configuration error, not an outage: not retried.
                    return StoreError(code: .authentication, path: at, message: "The PostgreSQL server at \(at) presented a TLS certificate that could not be verified (sslmode=\(url.sslMode.rawValue) checks it against the system's trusted CAs and the host name); install its CA certificate in the system's trust store, or use sslmode=require to encrypt without verifying.", runID: runID)
                }
                return StoreError(code: .unreachable, path: at, message: "Cannot reach the PostgreSQL server at \(at) to \(operation)\(cause); start it, or check the host and port in --db / SINKSTREAM_DB.", runID: runID)
            default:
                return StoreError(code: .postgres, path: at, message: "Could not \(operation) in the run store \(at) (\(error.code)).", runID: runID)
            }
        }
        if error is ConnectionLost || error is ChannelError || error is IOError || error is NIOConnectionError {
            return StoreError(code: .unreachable, path: at, message: "Cannot reach the PostgreSQL server at \(at) to \(operation) (\(Self.describe(error))); start it, or check the host and port in --db / SINKSTREAM_DB.", runID: runID)
        }
        if let error = error as? PostgresDecodingError {
            return StoreError(code: .invalidData, path: at, message: "The run store \(at) holds a value of an unexpected type in column \(error.columnName) while trying to \(operation).", runID: runID)
        }
        return StoreError(code: .postgres, path: at, message: "Could not \(operation) in the run store \(at) (\(Self.describe(error))).", runID: runID)
    }

    private static func describe(_ error: any Error) -> String {
        if let error = error as? NIOConnectionError {
            return error.connectionErrors.first.map { "\($0.error)" } ?? "connection failed"
        }
        return "\(error)"
    }
}

/// One connection of a store and the lock its users take turns under.
final class ConnectionSlot: @unchecked Sendable {
    let lock = NSLock()
    /// Read and written under `lock` only.
    var connection: PostgresConnection?
}

/// A connection that closed (or stopped answering) while a statement was pending.
struct ConnectionLost: Error, CustomStringConvertible {
    var timedOut: Bool
    var description: String { timedOut ? "no answer from the server in time" : "the connection was closed" }
}

/// One result, set on an event loop and read on the waiting thread.
final class ResultBox<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var result: Result<T, any Error>?
    func set(_ value: Result<T, any Error>) { lock.lock(); result = value; lock.unlock() }
    func get() -> Result<T, any Error>? { lock.lock(); defer { lock.unlock() }; return result }
}
