#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Invariant checks for fuzz targets: a violated invariant aborts, so libFuzzer records the
/// input as a crash (this is the one place where stopping the process on bad input is wanted).
public enum FuzzCheck {
    /// Aborts with `message` unless `condition` holds.
    @inline(__always)
    public static func require(
        _ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String,
        file: StaticString = #fileID, line: UInt = #line
    ) {
        if !condition() { fail(message(), file: file, line: line) }
    }

    /// Prints `message` to standard error and aborts.
    public static func fail(_ message: String, file: StaticString = #fileID, line: UInt = #line) -> Never {
        log("FUZZ INVARIANT VIOLATED at \(file):\(line): \(message)")
        abort()
    }

    /// Writes one line to standard error.
    public static func log(_ message: String) {
        let bytes = Array((message + "\n").utf8)
        _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    }
}
