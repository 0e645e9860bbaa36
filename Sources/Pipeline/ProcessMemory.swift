#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// This process's memory: what it holds, what it has held, and the allocator policy that keeps
/// a run of any length in the same memory.
///
/// A scoring run allocates and frees the same buffers again and again (K/V export buffers and
/// SQLite's pages at every checkpoint). glibc keeps freed memory in its heap for reuse; over
/// millions of tokens the heap's free, fragmented pages added up to ~10 MB of resident memory
/// that nothing used (a 6.9M-token run grew from 252.7 to 262.1 MB, all of it in `[heap]`;
/// `malloc_trim` gave it back). So large blocks bypass the heap, and after every checkpoint the
/// heap's free pages go back to the system.
public enum ProcessMemory {
    /// Resident memory now (`/proc/self/statm`), 0 where that cannot be read.
    public static func residentBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// The most resident memory this process has had.
    public static func peakBytes() -> Int64 {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        return Int64(usage.ru_maxrss) * 1024
    }

    /// A fixed 1 MiB mmap threshold for the process: blocks that large (a checkpoint's K/V export
    /// blocks, 1.4 MiB each on the default model, 23 MiB for a full window) are mapped on their
    /// own and unmapped when freed instead of joining the heap (unless a free chunk of the heap
    /// already fits them: glibc looks there first). In the heap they left a window's
    /// worth of free space that later checkpoints filled in a different order each time, so the
    /// peak crept (+1.4 % from 50,000 to 1.1M tokens, with 32 MB of the heap's 63 MB free);
    /// mapped, every checkpoint costs the same. A fixed threshold also turns glibc's dynamic
    /// adjustment off. Call once, before the first allocation that matters.
    public static func boundRetention() {
        #if canImport(Glibc)
        // <malloc.h> is not in Swift's Glibc module: look the function up (M_MMAP_THRESHOLD = -3).
        typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
        guard let symbol = dlsym(nil, "mallopt") else { return }  // nil: RTLD_DEFAULT
        _ = unsafeBitCast(symbol, to: Mallopt.self)(-3, 1 << 20)
        #endif
    }

    /// Gives the heap's free pages back to the system (`malloc_trim(0)`, which also releases
    /// whole free pages inside the heap, not only at its top). Returns whether any memory was
    /// released. Costs about a millisecond; the run lifecycle calls it after every checkpoint.
    @discardableResult
    public static func releaseFreed() -> Bool {
        #if canImport(Glibc)
        typealias MallocTrim = @convention(c) (Int) -> Int32
        guard let symbol = dlsym(nil, "malloc_trim") else { return false }
        return unsafeBitCast(symbol, to: MallocTrim.self)(0) != 0
        #else
        return false
        #endif
    }
}
