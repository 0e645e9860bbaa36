#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The CPU affinity of the calling thread, on Linux; elsewhere nothing can be pinned.
///
/// Swift's Glibc module does not declare the GNU calls (`sched_setaffinity`,
/// `sched_getaffinity`, `gettid`), so they are looked up once with `dlsym`.
public enum CPUAffinity {
    private typealias AffinityCall = @convention(c) (pid_t, Int, UnsafeMutableRawPointer?) -> Int32
    private typealias ThreadIDCall = @convention(c) () -> pid_t

    private struct Calls: Sendable {
        let get: AffinityCall?
        let set: AffinityCall?
        let tid: ThreadIDCall?
    }

    private static let calls: Calls = {
        #if os(Linux)
        let handle = dlopen(nil, RTLD_NOW)
        func load<T>(_ name: String, as type: T.Type) -> T? {
            dlsym(handle, name).map { unsafeBitCast($0, to: T.self) }
        }
        return Calls(get: load("sched_getaffinity", as: AffinityCall.self),
                     set: load("sched_setaffinity", as: AffinityCall.self),
                     tid: load("gettid", as: ThreadIDCall.self))
        #else
        return Calls(get: nil, set: nil, tid: nil)
        #endif
    }()

    /// Words of a CPU mask: 1,024 CPUs, the size of glibc's `cpu_set_t`.
    private static let maskWords = 16

    /// Thread-specific slot caching each thread's kernel thread id, so that asking for it (once
    /// per pool job) is not a system call.
    private static let threadIDKey: pthread_key_t? = {
        var key = pthread_key_t()
        return pthread_key_create(&key, nil) == 0 ? key : nil
    }()

    /// The calling thread's kernel thread id, or nil if that cannot be known.
    public static func currentThreadID() -> pid_t? {
        guard let key = threadIDKey else { return calls.tid?() }
        if let cached = pthread_getspecific(key) { return pid_t(truncatingIfNeeded: Int(bitPattern: cached)) }
        guard let tid = calls.tid?(), tid > 0 else { return nil }
        pthread_setspecific(key, UnsafeRawPointer(bitPattern: Int(tid)))
        return tid
    }

    /// The CPUs the calling thread may run on, ascending; empty if that cannot be known.
    public static func allowedCPUs() -> [Int] {
        guard let get = calls.get else { return [] }
        var mask = [UInt64](repeating: 0, count: maskWords)
        let rc = mask.withUnsafeMutableBytes { get(0, $0.count, $0.baseAddress) }
        guard rc == 0 else { return [] }
        var cpus: [Int] = []
        for (index, word) in mask.enumerated() {
            var bits = word
            while bits != 0 {
                cpus.append(index * 64 + bits.trailingZeroBitCount)
                bits &= bits - 1
            }
        }
        return cpus
    }

    /// Restricts thread `thread` (a kernel thread id; 0: the calling thread) to `cpus`.
    /// Returns whether that worked.
    @discardableResult
    public static func setAllowedCPUs(_ cpus: [Int], thread: pid_t = 0) -> Bool {
        guard let set = calls.set, !cpus.isEmpty else { return false }
        var mask = [UInt64](repeating: 0, count: maskWords)
        for cpu in cpus {
            guard cpu >= 0, cpu < maskWords * 64 else { return false }
            mask[cpu / 64] |= 1 << UInt64(cpu % 64)
        }
        return mask.withUnsafeMutableBytes { set(thread, $0.count, $0.baseAddress) } == 0
    }

    /// Restricts the calling thread to `cpu`. Returns whether that worked.
    @discardableResult
    public static func pinCallingThread(to cpu: Int) -> Bool { setAllowedCPUs([cpu]) }
}

/// The dispatching threads that pools have pinned, with the CPUs each could use before.
///
/// A thread dispatching for several pools is pinned once and counted; it gets its own CPUs
/// back when the last of them is gone. Pools created on a pinned thread decide, and start
/// their workers, from those CPUs, not from the pin (a new thread inherits its creator's).
final class DispatcherPins: @unchecked Sendable {
    // @unchecked Sendable: `pins` is only touched with `mutex` held.
    static let shared = DispatcherPins()
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var pins: [pid_t: (count: Int, original: [Int])] = [:]

    private init() {
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
    }

    private func locked<R>(_ body: () -> R) -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return body()
    }

    /// The CPUs `thread` could use before a pool pinned it, or nil if no pool has.
    func original(of thread: pid_t) -> [Int]? { locked { pins[thread]?.original } }

    /// Pins the calling thread `thread` to `cpu` (once, however many pools ask).
    func pin(_ thread: pid_t, to cpu: Int) {
        locked {
            if let entry = pins[thread] {
                pins[thread] = (entry.count + 1, entry.original)
                return
            }
            let original = CPUAffinity.allowedCPUs()
            guard !original.isEmpty, CPUAffinity.pinCallingThread(to: cpu) else { return }
            pins[thread] = (1, original)
        }
    }

    /// Drops one pool's pin of `thread`; the last gives the thread its CPUs back, if it is
    /// still a thread of this process.
    func release(_ thread: pid_t) {
        locked {
            guard let entry = pins[thread] else { return }
            if entry.count > 1 {
                pins[thread] = (entry.count - 1, entry.original)
                return
            }
            pins[thread] = nil
            if access("/proc/self/task/\(thread)", F_OK) == 0 {
                CPUAffinity.setAllowedCPUs(entry.original, thread: thread)
            }
        }
    }
}
