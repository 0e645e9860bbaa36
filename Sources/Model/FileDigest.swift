import Crypto
import Foundation

/// SHA-256 of files, read in blocks (a multi-gigabyte document is never loaded whole).
public enum FileDigest {
    /// The lowercase hexadecimal SHA-256 of `data`.
    public static func sha256(data: Data) -> String {
        SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
    }

    /// The lowercase hex SHA-256 of the file at `path`.
    /// - Throws: the underlying read error, with the path.
    public static func sha256(path: String) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw CocoaError(.fileReadNoSuchFile, userInfo: [NSFilePathErrorKey: path])
        }
        defer { try? handle.close() }
        var hasher = SHA256()
        while true {
            let block = try handle.read(upToCount: 1 << 20) ?? Data()
            if block.isEmpty { break }
            hasher.update(data: block)
        }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }
}
