#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Locates the project's fixtures and the real default model for tests.
public enum Fixtures {
    /// The repository root, found from this file's location (works in any clone).
    public static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // TestSupport
        .deletingLastPathComponent()  // Tests
        .deletingLastPathComponent()  // root

    /// A file in `fixtures/`.
    public static func url(_ name: String) -> URL {
        root.appendingPathComponent("fixtures").appendingPathComponent(name)
    }

    /// The parsed JSON of a file in `fixtures/`.
    public static func json(_ name: String) throws -> [String: Any] {
        let data = try Data(contentsOf: url(name))
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw CocoaError(.fileReadCorruptFile)
        }
        return object
    }

    /// The default model's path: `SINKSTREAM_MODEL`, else the per-user cache location that
    /// `sinkstream model fetch` fills (`$XDG_CACHE_HOME/sinkstream/models/…`, default `~/.cache`).
    /// `nil` when no model file is there.
    public static var modelPath: String? {
        let env = ProcessInfo.processInfo.environment
        if let path = env["SINKSTREAM_MODEL"], !path.isEmpty {
            return FileManager.default.fileExists(atPath: path) ? path : nil
        }
        let cache: String
        if let xdg = env["XDG_CACHE_HOME"], !xdg.isEmpty {
            cache = xdg
        } else {
            cache = (env["HOME"] ?? NSHomeDirectory()) + "/.cache"
        }
        let path = cache + "/sinkstream/models/SmolLM2-135M-Instruct.Q4_1.gguf"
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }

    /// A catalog model for integration tests: `SINKSTREAM_TEST_<NAME>` (e.g.
    /// `SINKSTREAM_TEST_QWEN2`), else the file `fileName` in the per-user model cache, else nil.
    public static func catalogModelPath(environmentKey: String, fileName: String) -> String? {
        let env = ProcessInfo.processInfo.environment
        if let path = env[environmentKey], !path.isEmpty {
            return FileManager.default.fileExists(atPath: path) ? path : nil
        }
        let cache: String
        if let xdg = env["XDG_CACHE_HOME"], !xdg.isEmpty { cache = xdg }
        else { cache = (env["HOME"] ?? NSHomeDirectory()) + "/.cache" }
        let path = cache + "/sinkstream/models/" + fileName
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }

    /// A fresh temporary directory for one test.
    public static func temporaryDirectory(_ label: String = "test") throws -> URL {
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("sinkstream-\(label)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }
}

extension Fixtures {
    /// The built `sinkstream` executable next to the test bundle (scripts/test.sh builds it
    /// first with the same flags), or `nil`.
    public static var sinkstreamExecutable: String? {
        var candidates: [String] = []
        if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
            for _ in 0..<4 {
                candidates.append(dir.appendingPathComponent("sinkstream").path)
                dir = dir.deletingLastPathComponent()
            }
        }
        candidates.append(root.appendingPathComponent(".build/release/sinkstream").path)
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// How long ``run(_:_:environment:input:timeout:)`` lets a command run by default.
    public static let defaultCommandTimeout: TimeInterval = 600

    /// Runs a command and returns its exit status, standard output and standard error.
    ///
    /// - Parameters:
    ///   - input: bytes written to the command's standard input (then closed).
    ///   - timeout: a command still running after this many seconds is killed (SIGKILL) and
    ///     the call throws ``CommandTimedOut``, so that a hung command fails its test instead of
    ///     hanging the test run (Swift Testing's time limits cannot stop a blocked thread).
    @discardableResult
    public static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                           input: Data? = nil, timeout: TimeInterval = defaultCommandTimeout) throws -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        process.environment = env
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let stdin = input.map { _ in Pipe() }
        if let stdin { process.standardInput = stdin }
        let exited = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in exited.signal() }
        try process.run()
        if let stdin, let input {
            // Written from another thread so a command that reads slowly cannot deadlock us.
            let writer = stdin.fileHandleForWriting
            Thread.detachNewThread {
                try? writer.write(contentsOf: input)
                try? writer.close()
            }
        }
        // Both pipes are drained on threads of their own: a command that writes much of one
        // would otherwise block on a full pipe while we wait for the other, or for its exit.
        let outputs = PipeDrain(out.fileHandleForReading)
        let errors = PipeDrain(err.fileHandleForReading)
        let command = ([executable] + arguments).joined(separator: " ")
        if exited.wait(timeout: .now() + timeout) == .timedOut {
            kill(process.processIdentifier, SIGKILL)
            _ = exited.wait(timeout: .now() + 10)
            let partial = errors.wait(seconds: 2).map { String(decoding: $0, as: UTF8.self) } ?? ""
            throw CommandTimedOut(command: command, seconds: timeout, stderr: partial)
        }
        // A child the command left behind may still hold the pipes open; do not wait for it forever.
        guard let o = outputs.wait(seconds: 30), let e = errors.wait(seconds: 30) else {
            throw CommandTimedOut(command: command, seconds: timeout, stderr: "(it exited, but something it started kept its output open)")
        }
        return (process.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }
}

/// A command that ``Fixtures/run(_:_:environment:input:timeout:)`` had to kill.
public struct CommandTimedOut: Error, CustomStringConvertible {
    public var command: String
    public var seconds: TimeInterval
    public var stderr: String
    public var description: String {
        "`\(command)` did not finish within \(Int(seconds)) s and was killed (SIGKILL); its standard error so far:\n\(stderr)"
    }
}

/// Reads a pipe to its end on a thread of its own.
private final class PipeDrain: @unchecked Sendable {
    // @unchecked Sendable: `data` is written by the reading thread before it signals `done`
    // and read only after `wait` has seen the signal.
    private var data = Data()
    private let done = DispatchSemaphore(value: 0)

    init(_ handle: FileHandle) {
        Thread.detachNewThread { [self] in
            data = handle.readDataToEndOfFile()
            done.signal()
        }
    }

    /// The bytes read, or nil when the pipe is still open after `seconds`.
    func wait(seconds: TimeInterval) -> Data? {
        done.wait(timeout: .now() + seconds) == .success ? data : nil
    }
}
