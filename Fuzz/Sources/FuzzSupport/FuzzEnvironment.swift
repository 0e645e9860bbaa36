#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Environment variables the fuzz targets read.
public enum FuzzEnvironment {
    /// The value of the environment variable `name`, or nil when unset or empty.
    public static func value(_ name: String) -> String? {
        guard let raw = getenv(name) else { return nil }
        let text = String(cString: raw)
        return text.isEmpty ? nil : text
    }

    /// Whether a regular file exists at `path`.
    public static func fileExists(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
    }

    /// Writes `bytes` to `path`, replacing any file there; false on failure.
    public static func write(_ bytes: [UInt8], to path: String) -> Bool {
        guard let handle = fopen(path, "wb") else { return false }
        defer { fclose(handle) }
        return bytes.withUnsafeBytes { buffer in
            buffer.isEmpty || fwrite(buffer.baseAddress, 1, buffer.count, handle) == buffer.count
        }
    }
}
