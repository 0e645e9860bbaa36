import Foundation
import Store

/// A `postgres://user[:password]@host[:port]/dbname?sslmode=…` URL, with the password looked up
/// in the URL, then `PGPASSWORD`, then `~/.pgpass` (libpq's order), and a description that
/// never shows it.
public struct PostgresURL: Sendable, Equatable, CustomStringConvertible {
    /// TLS as libpq's `sslmode` asks for it.
    public enum SSLMode: String, Sendable, CaseIterable {
        case disable, allow, prefer, require
        case verifyCA = "verify-ca"
        case verifyFull = "verify-full"
    }

    public var user: String
    public var host: String
    public var port: Int
    public var database: String
    public var sslMode: SSLMode
    /// The password (from the URL, `PGPASSWORD` or `~/.pgpass`), nil when there is none.
    public var password: String?

    /// Whether `text` names a PostgreSQL database rather than an SQLite file.
    public static func isPostgres(_ text: String) -> Bool {
        text.hasPrefix("postgres://") || text.hasPrefix("postgresql://")
    }

    /// Parses `text`; `environment` supplies `PGPASSWORD`, `PGUSER`, `HOME` (for `~/.pgpass`).
    /// - Throws: `StoreError` `.invalidArgument` naming what is wrong (never the password).
    public init(_ text: String, environment: [String: String]) throws {
        func fail(_ why: String) -> StoreError {
            StoreError.invalidArgument(
                "The database URL \(Self.redact(text)) \(why); write it as postgres://USER@HOST:PORT/DBNAME?sslmode=disable|prefer|require|verify-full.",
                runID: nil, path: Self.redact(text))
        }
        guard Self.isPostgres(text), let components = URLComponents(string: text) else { throw fail("cannot be read") }
        guard let host = components.host, !host.isEmpty else { throw fail("names no host") }
        let database = String(components.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty, !database.contains("/") else { throw fail("names no database (the path after the host)") }
        self.host = host
        self.port = components.port ?? 5432
        self.database = database.removingPercentEncoding ?? database
        self.user = components.user?.removingPercentEncoding ?? environment["PGUSER"] ?? environment["USER"] ?? "postgres"
        var mode = SSLMode.prefer
        for item in components.queryItems ?? [] {
            switch item.name {
            case "sslmode":
                guard let value = item.value, let parsed = SSLMode(rawValue: value) else {
                    throw fail("has sslmode=\(item.value ?? "") (allowed: \(SSLMode.allCases.map(\.rawValue).joined(separator: ", ")))")
                }
                mode = parsed
            default:
                throw fail("has the unknown parameter \(item.name)")
            }
        }
        self.sslMode = mode
        if let password = components.password {
            self.password = password.removingPercentEncoding ?? password
        } else if let password = environment["PGPASSWORD"] {
            self.password = password
        } else {
            let file = environment["PGPASSFILE"] ?? ((environment["HOME"] ?? NSHomeDirectory()) + "/.pgpass")
            self.password = Self.pgpass(file: file, host: host, port: port, database: self.database, user: user)
        }
    }

    /// The URL without its password, for messages, logs and `runs show`.
    public var description: String {
        let mode = sslMode == .prefer ? "" : "?sslmode=\(sslMode.rawValue)"
        return "postgres://\(user)@\(host):\(port)/\(database)\(mode)"
    }

    /// `text` with any password between `://user:` and `@` replaced by `***` (for URLs that
    /// could not be parsed).
    public static func redact(_ text: String) -> String {
        guard let scheme = text.range(of: "://") else { return text }
        let rest = text[scheme.upperBound...]
        guard let at = rest.lastIndex(of: "@") else { return text }
        let credentials = rest[..<at]
        guard let colon = credentials.firstIndex(of: ":") else { return text }
        return String(text[..<colon]) + ":***" + String(rest[at...])
    }

    /// The password for this connection in a `.pgpass` file (`host:port:db:user:password`,
    /// `*` matching anything, `\:` and `\\` escaped), or nil.
    static func pgpass(file: String, host: String, port: Int, database: String, user: String) -> String? {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            var fields: [String] = [""]
            var escaped = false
            for character in line {
                if escaped { fields[fields.count - 1].append(character); escaped = false }
                else if character == "\\" { escaped = true }
                else if character == ":" && fields.count < 5 { fields.append("") }
                else { fields[fields.count - 1].append(character) }
            }
            guard fields.count == 5 else { continue }
            let wanted = [host, String(port), database, user]
            if zip(fields.prefix(4), wanted).allSatisfy({ $0 == "*" || $0 == $1 }) { return fields[4] }
        }
        return nil
    }
}
