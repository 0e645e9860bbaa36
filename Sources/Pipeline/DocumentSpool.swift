#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Copies a stream that cannot be re-read (standard input, a named pipe) into a file, so that a
/// run over it has a document to hash, seek and resume from.
public enum DocumentSpool {
    /// Whether `path` names standard input (`-`) or a FIFO.
    public static func needsSpooling(_ path: String) -> Bool {
        if path == "-" { return true }
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFIFO
    }

    /// Copies `path` (`-` for standard input) into a new file in `directory` and returns its path.
    /// - Throws: ``DocumentError`` when reading or writing fails (the partial file is removed).
    public static func spool(_ path: String, into directory: String) throws -> String {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let name = "input-\(Int(Date().timeIntervalSince1970))-\(getpid()).txt"
        let target = (directory as NSString).appendingPathComponent(name)
        let input = path == "-" ? 0 : open(path, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else {
            throw DocumentError(code: "document.unreadable", path: path, byteOffset: nil, message: "cannot open: \(String(cString: strerror(errno))).")
        }
        defer { if input != 0 { close(input) } }
        let output = open(target, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard output >= 0 else {
            throw DocumentError.io(target, "cannot create the spool file: \(String(cString: strerror(errno))).")
        }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var total: Int64 = 0
        do {
            while true {
                let n = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
                if n < 0 { throw DocumentError.io(path, "read failed: \(String(cString: strerror(errno))).", at: total) }
                if n == 0 { break }
                var written = 0
                while written < n {
                    let w = buffer.withUnsafeBytes { write(output, $0.baseAddress! + written, n - written) }
                    if w < 0 { throw DocumentError.io(target, "write failed: \(String(cString: strerror(errno))).", at: total) }
                    written += w
                }
                total += Int64(n)
            }
            guard fsync(output) == 0 else { throw DocumentError.io(target, "fsync failed: \(String(cString: strerror(errno))).") }
            close(output)
        } catch {
            close(output)
            unlink(target)
            throw error
        }
        return target
    }
}
