import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An exclusive lock on one run, held through `flock` on `<db>.locks/<runID>.lock`.
///
/// The kernel drops the lock when the holder's file descriptor closes, so a lock held by a
/// process that crashed or was killed with `kill -9` is free again at once. The file holds
/// the holder's pid so that a refused caller can name it. Released by `release()` or deinit.
// @unchecked Sendable: the only mutable state, the descriptor, is guarded by `mutex`.
public final class RunLock: @unchecked Sendable {
    /// The locked run.
    public let runID: String
    /// The lock file.
    public let path: String

    private let mutex = NSLock()
    private var descriptor: Int32

    /// Acquires the lock without waiting.
    ///
    /// - Throws: `StoreError` `.runLocked` naming the holder's pid if another descriptor
    ///   (in any process, including this one) holds it, or `.lockFailed`.
    init(runID: String, path: String) throws {
        self.runID = runID
        self.path = path
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw RunLock.failure("open", runID: runID, path: path)
        }
        // A lock whose holder's pid is already cleared is being released: a process that forked
        // at that moment keeps the open file (and so the lock) until its exec closes it. Give
        // such a transient holder a moment before calling the run busy.
        var attempts = 0
        while flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK && RunLock.readPID(fd) == nil && attempts < 40 {
            attempts += 1
            usleep(25_000)
        }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            let holder = RunLock.readPID(fd)
            close(fd)
            if code == EWOULDBLOCK {
                throw StoreError.runLocked(runID: runID, holderPID: holder, path: path)
            }
            errno = code
            throw RunLock.failure("lock", runID: runID, path: path)
        }
        let pid = Array("\(getpid())\n".utf8)
        let written = pid.withUnsafeBytes { bytes in
            ftruncate(fd, 0) == 0 ? pwrite(fd, bytes.baseAddress, bytes.count, 0) : -1
        }
        if written != pid.count {
            let failure = RunLock.failure("write the pid into", runID: runID, path: path)
            close(fd)
            throw failure
        }
        descriptor = fd
    }

    /// Whether this handle still holds the lock.
    public var isHeld: Bool {
        mutex.lock()
        defer { mutex.unlock() }
        return descriptor >= 0
    }

    /// Releases the lock; calling it again does nothing.
    public func release() {
        mutex.lock()
        defer { mutex.unlock() }
        guard descriptor >= 0 else { return }
        // Clear the pid first so that a later reader does not name a finished process.
        _ = ftruncate(descriptor, 0)
        close(descriptor)
        descriptor = -1
    }

    deinit {
        release()
    }

    /// The pid in the lock file, if it holds one.
    private static func readPID(_ fd: Int32) -> Int32? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return nil }
        let text = String(decoding: buffer[0 ..< count], as: UTF8.self)
        return Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    private static func failure(_ action: String, runID: String, path: String) -> StoreError {
        let reason = String(cString: strerror(errno))
        return StoreError(
            code: .lockFailed, path: path,
            message: "Could not \(action) the lock file \(path) of run \(runID): \(reason).", runID: runID)
    }
}

extension RunStore {
    /// The folder holding the run lock files: `<db>.locks`.
    public var lockDirectory: String { path + ".locks" }

    /// Takes the exclusive lock of a run, without waiting.
    ///
    /// Hold it for as long as the run is being processed; it is released by `release()`,
    /// on deinit, or by the kernel when the process dies.
    /// - Throws: `StoreError` `.runLocked` (naming the holder's pid) or `.lockFailed`.
    public func lock(runID: String) throws -> RunLock {
        guard !runID.isEmpty, !runID.contains("/"), runID != ".", runID != ".." else {
            throw StoreError.invalidArgument("\"\(runID)\" is not a valid run id to lock.", runID: runID, path: path)
        }
        do {
            try FileManager.default.createDirectory(atPath: lockDirectory, withIntermediateDirectories: true)
        } catch {
            throw StoreError(
                code: .lockFailed, path: lockDirectory,
                message: "Could not create the lock directory \(lockDirectory) for run \(runID): \(error.localizedDescription)",
                runID: runID)
        }
        return try RunLock(runID: runID, path: lockDirectory + "/" + runID + ".lock")
    }
}
