#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CKernels
import Synchronization

/// A fixed set of persistent worker threads that run one parallel job at a time.
///
/// A job is a number of items; threads claim items one at a time from a shared counter, so the
/// unclaimed rest of a job is done by whoever runs. Callers make every item's result independent
/// of which thread computes it (fixed work per item, fixed reduction order), so results never
/// depend on scheduling. Idle workers spin briefly (the back-to-back jobs of one forward pass
/// then cost no wake-up) and then block on a condition variable; on a busy machine they give the
/// CPU away instead of burning it.
///
/// A thread the OS deschedules while it holds a claimed item would still hold up the whole job
/// for a time slice (milliseconds, hundreds of decode jobs). Jobs of small items can therefore
/// run *speculatively* (``parallelSpeculative(items:itemFloats:_:)``): every item computes into its
/// thread's scratch memory and is committed (copied to its place) by whichever computation of it
/// finishes first, so the dispatching thread may re-run an item whose owner is late instead of
/// waiting for it, and the late owner's copy is dropped. This is idempotent work stealing
/// (Michael, Vechev and Saraswat, PPoPP 2009) with commit-once results: the bits are the same
/// whoever computes an item.
///
/// A pool may pin its threads, one to each CPU the process may use (see
/// ``init(threadCount:reclaim:pinning:)``), so that another busy process shares a core with one
/// of them instead of the scheduler at times putting two of them on one core.
public final class ThreadPool: Sendable {
    /// Number of threads taking part in a job, the calling thread included.
    public let threadCount: Int
    /// Floats of scratch memory per thread for one speculative item's result.
    public static let scratchFloats = 16 << 10
    /// Most items a speculative job runs speculatively (larger jobs run as ordinary jobs).
    public static let speculativeItems = 64
    private let state: PoolState
    private let threads: [pthread_t]

    /// When the dispatching thread re-runs a speculative item that another thread holds.
    public enum Reclaim: Sendable {
        /// Never: it waits for the owner (a time slice if the owner was descheduled).
        case never
        /// When the owner is late: after three times the mean of its own items of the job plus
        /// 2 µs, at most 200 µs (20 µs if it ran none).
        case late
        /// As soon as it has nothing else to do (for tests: every item may then be computed
        /// twice, by either thread first).
        case eager
    }

    /// `.late`, unless the build defines `SINKSTREAM_NO_RECLAIM` (`.never`: for a
    /// ThreadSanitizer build of the engine, which would report a late owner's reads of buffers
    /// that later jobs reuse; the late result is discarded unread; `scripts/sanitize.sh thread`
    /// passes `-Xswiftc -DSINKSTREAM_NO_RECLAIM`).
    public static var defaultReclaim: Reclaim {
        #if SINKSTREAM_NO_RECLAIM
        .never
        #else
        .late
        #endif
    }

    /// Whether pools pin their threads unless told otherwise (see
    /// ``init(threadCount:reclaim:pinning:)``). Off unless the process turns it on; the
    /// `sinkstream` command does, unless `SINKSTREAM_PIN=0`.
    public static var pinsThreadsByDefault: Bool {
        get { pinDefault.load(ordering: .relaxed) }
        set { pinDefault.store(newValue, ordering: .relaxed) }
    }
    private static let pinDefault = Atomic<Bool>(false)

    /// The CPUs the pool's threads are pinned to, by thread index (the dispatching thread is
    /// thread 0), or nil if they are not pinned.
    public let pinnedCPUs: [Int]?

    /// Creates a pool.
    /// - Parameters:
    ///   - threadCount: threads taking part in each job, including the caller (at least 1).
    ///   - reclaim: when the dispatching thread re-runs a speculative item another thread holds.
    ///   - pinning: pin each thread to a CPU of its own, if the pool has one thread for each CPU
    ///     the creating thread may use (and at least two). Thread `i` gets the `i`-th allowed CPU;
    ///     the dispatching thread is pinned by its first job, and gets its CPUs back when the
    ///     pool is gone (the last of them, if several pools pin it).
    ///     Pinned, the two threads of a 2-core machine keep a core each when another process
    ///     wants one: the scheduler then shares a core between that process and one of ours,
    ///     instead of at times putting both of ours on one core (the idle worker's core does
    ///     not pull the waiting dispatcher back: it ran too recently to be moved).
    public init(threadCount: Int, reclaim: Reclaim = ThreadPool.defaultReclaim,
                pinning: Bool = ThreadPool.pinsThreadsByDefault) {
        let count = max(1, threadCount)
        // A thread another pool has pinned decides from the CPUs it had before, and its new
        // threads get those back instead of inheriting the pin.
        let original = CPUAffinity.currentThreadID().flatMap { DispatcherPins.shared.original(of: $0) }
        let allowed = original ?? (pinning && count >= 2 ? CPUAffinity.allowedCPUs() : [])
        let cpus = pinning && count >= 2 && allowed.count == count ? allowed : nil
        let state = PoolState(threads: count, reclaim: reclaim, dispatcherCPU: cpus?[0])
        var started: [pthread_t] = []
        for _ in 1..<count {
            // Indices stay dense if a thread cannot be started (callers size per-thread memory
            // by `threadCount`).
            let index = started.count + 1
            let mask = cpus.map { [$0[index]] } ?? original
            let box = Unmanaged.passRetained(WorkerContext(state: state, index: index, cpus: mask))
            var thread = pthread_t()
            let rc = pthread_create(&thread, nil, { raw in
                guard let raw else { return nil }
                let context = Unmanaged<WorkerContext>.fromOpaque(raw).takeRetainedValue()
                if let cpus = context.cpus { CPUAffinity.setAllowedCPUs(cpus) }
                context.state.workerLoop(index: context.index)
                return nil
            }, box.toOpaque())
            if rc == 0 { started.append(thread) } else { box.release() }
        }
        self.state = state
        self.threads = started
        self.threadCount = started.count + 1
        self.pinnedCPUs = started.count + 1 == count ? cpus : nil
        state.workers = started.count
        if pinnedCPUs == nil { state.dispatcherCPU = nil }
    }

    deinit {
        state.stop()
        for thread in threads { pthread_join(thread, nil) }
        state.releaseDispatcherPins()
    }

    /// Runs `body(item, thread)` for every `item` in `0..<items` and returns when all are done.
    ///
    /// Each item runs exactly once, on whichever thread claims it; `thread` (in
    /// `0..<threadCount`) identifies the executing thread, for per-thread scratch memory — no two
    /// items run concurrently with the same `thread`. Not reentrant: call it from one thread at a
    /// time.
    public func parallel(items: Int, _ body: (_ item: Int, _ thread: Int) -> Void) {
        if items <= 0 { return }
        if items == 1 || state.workers == 0 {
            for item in 0..<items { body(item, 0) }
            return
        }
        state.run(items: items, body)
    }

    /// Runs every item of `0..<items` speculatively and returns when each has been committed.
    ///
    /// `body(item, thread, scratch)` computes the item's result into `scratch` (at most
    /// ``scratchFloats`` floats, private to `thread`) and returns where that result belongs; the
    /// pool copies it there. An item may be computed twice (once by a late owner, once by the
    /// dispatching thread in its place); exactly one result is copied, and the job returns
    /// without waiting for the late computation, which may finish during later jobs. So `body`
    /// must depend only on its arguments, write nothing but `scratch` and memory private to
    /// `thread` (a late owner may still be writing it during later jobs), and keep alive (by
    /// capturing them) the objects whose memory it reads; whatever owns memory it reads through
    /// raw pointers calls ``quiesce()`` before freeing it. A late computation may read inputs
    /// that later jobs are already overwriting; its result is then discarded unread.
    ///
    /// - Parameter itemFloats: the most floats one item's result takes. Jobs whose items do not
    ///   fit ``scratchFloats`` (and jobs of one item, more than ``speculativeItems`` items, or a
    ///   pool of one thread) run as ordinary jobs through scratch memory of their own.
    public func parallelSpeculative(
        items: Int, itemFloats: Int,
        _ body: @escaping (_ item: Int, _ thread: Int, _ scratch: UnsafeMutablePointer<Float>) -> UnsafeMutableBufferPointer<Float>
    ) {
        if items <= 0 { return }
        if itemFloats <= Self.scratchFloats, items > 1, state.workers > 0, items <= Self.speculativeItems {
            state.runSpeculative(items: items, body)
            return
        }
        // An ordinary job: the pool's scratch, or scratch of its own for larger items.
        let own = itemFloats > Self.scratchFloats
        let stride = own ? (itemFloats + 15) & ~15 : Self.scratchFloats
        let scratch = own ? UnsafeMutablePointer<Float>.allocate(capacity: stride * threadCount) : state.scratch(0)
        defer { if own { scratch.deallocate() } }
        parallel(items: items) { item, thread in
            let mine = scratch + thread * stride
            let destination = body(item, thread, mine)
            precondition(destination.count <= stride, "speculative item larger than its scratch")
            if let base = destination.baseAddress { base.update(from: mine, count: destination.count) }
        }
    }

    /// Waits until no late computation of a speculative item is still running, and drops the
    /// jobs they belonged to (with what their closures hold).
    ///
    /// Call it before freeing memory that speculative items read through raw pointers, from the
    /// dispatching thread or after the last job is ordered before the call.
    public func quiesce() { state.quiesce() }

    /// Speculative items the dispatching thread has computed in place of a late owner since the
    /// pool was created.
    public var reclaimedItems: Int { state.reclaimed.load(ordering: .relaxed) }

    /// Runs `body(part)` once for every `part` in `0..<threadCount` (each on whichever thread
    /// claims it) and returns when all are done.
    ///
    /// Split work with ``ThreadPool/share(of:parts:index:granularity:)``; the part index may be
    /// used as a scratch index only for scratch that speculative items never use (a late owner
    /// of an earlier speculative item may still be using its thread's). Not reentrant.
    public func run(_ body: (Int) -> Void) {
        parallel(items: threadCount) { part, _ in body(part) }
    }

    /// The share of `0..<count` that part `index` of `parts` gets, in multiples of `granularity`.
    ///
    /// Shares are contiguous, ordered, cover the whole range and depend only on the arguments.
    public static func share(of count: Int, parts: Int, index: Int, granularity: Int = 1) -> Range<Int> {
        let units = (count + granularity - 1) / granularity
        let base = units / parts, extra = units % parts
        let startUnit = index * base + min(index, extra)
        let endUnit = startUnit + base + (index < extra ? 1 : 0)
        return min(count, startUnit * granularity)..<min(count, endUnit * granularity)
    }
}

private final class WorkerContext {
    let state: PoolState
    let index: Int
    /// The CPUs the worker sets for itself at start (nil: it keeps its creator's).
    let cpus: [Int]?
    init(state: PoolState, index: Int, cpus: [Int]?) {
        self.state = state
        self.index = index
        self.cpus = cpus
    }
}
