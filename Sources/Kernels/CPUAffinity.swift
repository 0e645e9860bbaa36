#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The CPU affinity of the calling thread, on Linux; elsewhere nothing can be pinned.
///
/// Swift's Glibc module does not declare the GNU affinity calls (`sched_setaffinity`,
/// `sched_getaffinity`, `sched_getcpu`), so they are looked up once with `dlsym`.
public enum CPUAffinity {
    private typealias AffinityCall = @convention(c) (pid_t, Int, UnsafeMutableRawPointer?) -> Int32
    private typealias CPUCall = @convention(c) () -> Int32

    private struct Calls: Sendable {
        let get: AffinityCall?
        let set: AffinityCall?
        let cpu: CPUCall?
    }

    private static let calls: Calls = {
        #if os(Linux)
        let handle = dlopen(nil, RTLD_NOW)
        func load<T>(_ name: String, as type: T.Type) -> T? {
            dlsym(handle, name).map { unsafeBitCast($0, to: T.self) }
        }
        return Calls(get: load("sched_getaffinity", as: AffinityCall.self),
                     set: load("sched_setaffinity", as: AffinityCall.self),
                     cpu: load("sched_getcpu", as: CPUCall.self))
        #else
        return Calls(get: nil, set: nil, cpu: nil)
        #endif
    }()

    /// Words of a CPU mask: 1,024 CPUs, the size of glibc's `cpu_set_t`.
    private static let maskWords = 16

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

    /// Restricts the calling thread to `cpu`. Returns whether that worked.
    @discardableResult
    public static func pinCallingThread(to cpu: Int) -> Bool {
        guard let set = calls.set, cpu >= 0, cpu < maskWords * 64 else { return false }
        var mask = [UInt64](repeating: 0, count: maskWords)
        mask[cpu / 64] = 1 << UInt64(cpu % 64)
        return mask.withUnsafeMutableBytes { set(0, $0.count, $0.baseAddress) } == 0
    }

    /// The CPU the calling thread is running on, or nil if that cannot be known.
    public static func currentCPU() -> Int? {
        guard let cpu = calls.cpu else { return nil }
        let value = cpu()
        return value >= 0 ? Int(value) : nil
    }
}
