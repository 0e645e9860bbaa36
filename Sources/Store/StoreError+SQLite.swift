import Foundation
import GRDB

extension StoreError {
    /// Translates any error thrown while performing `operation` on the database at `path`.
    ///
    /// Store errors pass through unchanged; SQLite errors are classified by result code.
    static func wrap(_ error: any Error, operation: String, path: String, runID: String? = nil) -> StoreError {
        if let storeError = error as? StoreError { return storeError }
        guard let dbError = error as? DatabaseError else {
            return StoreError(
                code: .sqlite, path: path,
                message: "Could not \(operation) in the run store at \(path): \(error).", runID: runID)
        }
        let detail = dbError.message ?? "SQLite error \(dbError.extendedResultCode.rawValue)"
        let code = dbError.extendedResultCode.rawValue
        let message: String
        let kind: Code
        switch dbError.resultCode {
        case .SQLITE_NOTADB:
            kind = .corruptDatabase
            message = "The file \(path) is not an SQLite database (or is encrypted); refusing to \(operation). Move it away or choose another path with SINKSTREAM_DB."
        case .SQLITE_CORRUPT:
            kind = .corruptDatabase
            message = "The run store at \(path) is damaged (\(detail)) and could not \(operation). Restore it from a backup or move it away."
        case .SQLITE_FULL:
            kind = .diskFull
            message = "The disk holding \(path) is full; could not \(operation). Nothing of this operation was saved and the previous checkpoint is intact. Free some space and resume."
        case .SQLITE_READONLY, .SQLITE_PERM:
            kind = .readOnlyLocation
            message = "The run store at \(path) cannot be written (\(detail)); could not \(operation). Check the permissions of the file and its directory, or choose another path with SINKSTREAM_DB."
        case .SQLITE_CANTOPEN:
            kind = .readOnlyLocation
            message = "The run store at \(path) cannot be opened (\(detail)); could not \(operation). Check that its directory exists and is writable, or choose another path with SINKSTREAM_DB."
        case .SQLITE_BUSY, .SQLITE_LOCKED:
            kind = .busy
            message = "The run store at \(path) stayed locked by another connection; could not \(operation) (\(detail)). Try again when the other process is done."
        case .SQLITE_IOERR where code == ResultCode.SQLITE_IOERR_WRITE.rawValue || code == ResultCode.SQLITE_IOERR_FSYNC.rawValue:
            kind = .sqlite
            message = "Writing the run store at \(path) failed with an I/O error (\(detail)); could not \(operation). The previous checkpoint is intact."
        default:
            kind = .sqlite
            let sql = dbError.sql.map { " while running `\($0)`" } ?? ""
            message = "Could not \(operation) in the run store at \(path): \(detail)\(sql) (SQLite code \(code))."
        }
        return StoreError(code: kind, path: path, message: message, runID: runID, sqliteCode: code)
    }
}
