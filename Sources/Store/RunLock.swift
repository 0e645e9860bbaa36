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
/// the holder's pid so that a refused caller can name it. Released by `release()` or deinit,
/// which also remove the file.
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
    /// The lock file is removed again by `release()` (and by `RunStore.prune`/`deleteRun` when
    /// nobody holds it), always by a holder of its `flock`. So after taking the lock, this checks
    /// that the path still names the file it locked; if the file was removed meanwhile, it starts
    /// over on the new one.
    /// - Throws: `StoreError` `.runLocked` naming the holder's pid if another descriptor
    ///   (in any process, including this one) holds it, or `.lockFailed`.
    init(runID: String, path: String) throws {
        self.runID = runID
        self.path = path
        var attempts = 0
        while true {
            let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
            guard fd >= 0 else {
                throw RunLock.failure("open", runID: runID, path: path)
            }
            if flock(fd, LOCK_EX | LOCK_NB) == 0 {
                guard RunLock.isCurrent(fd, path: path) else {
                    // Removed by its previous holder between our open and our flock.
                    close(fd)
                    attempts += 1
                    if attempts > 100 {
                        throw StoreError(
                            code: .lockFailed, path: path,
                            message: "Could not lock run \(runID): its lock file \(path) kept being removed.", runID: runID)
                    }
                    continue
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
                return
            }
            let code = errno
            guard code == EWOULDBLOCK else {
                close(fd)
                errno = code
                throw RunLock.failure("lock", runID: runID, path: path)
            }
            let holder = RunLock.readPID(fd)
            let current = RunLock.isCurrent(fd, path: path)
            close(fd)
            if !current {
                // The holder released (and removed) the file while we looked: try the new one.
                attempts += 1
                if attempts <= 100 { continue }
            }
            // A lock whose pid is cleared is being released (a process that forked at that moment
            // keeps the open file, and so the lock, until its exec closes it); a lock naming a
            // process that no longer exists is held for an instant by someone probing it (see
            // `RunStore.lockState(runID:)`). Give such transient holders a moment before calling
            // the run busy.
            if holder.map({ !RunLock.isAlive($0) }) ?? true, attempts < 40 {
                attempts += 1
                usleep(25_000)
                continue
            }
            throw StoreError.runLocked(runID: runID, holderPID: holder, path: path)
        }
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
        // Clear the pid first so that a later reader does not name a finished process, then
        // remove the file while still holding it (a later locker checks it locked the file the
        // path names, see init), so that finished runs leave no lock files behind.
        _ = ftruncate(descriptor, 0)
        if RunLock.isCurrent(descriptor, path: path) { _ = unlink(path) }
        close(descriptor)
        descriptor = -1
    }

    deinit {
        release()
    }

    /// Whether `path` still names the file open as `fd` (same device and inode).
    static func isCurrent(_ fd: Int32, path: String) -> Bool {
        var opened = stat(), named = stat()
        guard fstat(fd, &opened) == 0, stat(path, &named) == 0 else { return false }
        return opened.st_dev == named.st_dev && opened.st_ino == named.st_ino
    }

    /// Whether a process with this pid exists (possibly owned by another user).
    static func isAlive(_ pid: Int32) -> Bool {
        pid > 0 && (kill(pid, 0) == 0 || errno == EPERM)
    }

    /// Who holds the lock file at `path`, without creating it and without leaving anything behind.
    ///
    /// Takes a shared `flock` for an instant: it fails while an exclusive holder has the file.
    static func probe(path: String) -> RunLockState {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { return .absent }
            return .unknown(String(cString: strerror(errno)))
        }
        defer { close(fd) }
        if flock(fd, LOCK_SH | LOCK_NB) == 0 {
            // Released at close; the file stays as it was.
            return .free
        }
        if errno == EWOULDBLOCK { return .held(pid: readPID(fd)) }
        return .unknown(String(cString: strerror(errno)))
    }

    /// Removes the lock file at `path` if nobody holds it: takes it, checks that the path still
    /// names it, unlinks it, lets go. Returns whether it removed the file.
    static func removeIfFree(path: String) -> Bool {
        let fd = open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0, isCurrent(fd, path: path) else { return false }
        return unlink(path) == 0
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

    /// The lock file of a run: `<db>.locks/<runID>.lock` (it exists only while the run is
    /// locked, or after its holder died).
    public func lockPath(runID: String) -> String { lockDirectory + "/" + runID + ".lock" }

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
        return try RunLock(runID: runID, path: lockPath(runID: runID))
    }
}
