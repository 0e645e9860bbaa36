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

/// What one job generation runs. Slots form a ring indexed by generation, so a late owner of a
/// speculative item still finds its job after the dispatching thread has moved on.
private final class JobSlot: @unchecked Sendable {
    // @unchecked Sendable: `body` and `speculative` are written by the dispatching thread only
    // while no other thread can be using the slot — before its generation's ticket is published
    // (release), and after the job only once every late owner has said it is done (`lateDone`,
    // acquire). The counters are atomics.
    var body: ((Int, Int) -> Void)?
    var speculative: ((Int, Int, UnsafeMutablePointer<Float>) -> UnsafeMutableBufferPointer<Float>)?
    /// Bit `i` set: item `i`'s result has been (or is being) copied to its place.
    let committed = Atomic<UInt64>(0)
    /// Late owners that have finished with this slot.
    let lateDone = Atomic<Int>(0)
    /// Items the dispatching thread computed in place of their owner (each has one late owner).
    let reclaimed = Atomic<Int>(0)
    /// Whether every late owner of this slot's job is done with it.
    var isFree: Bool { lateDone.load(ordering: .acquiring) == reclaimed.load(ordering: .relaxed) }
}

/// The state shared by a pool's threads.
///
/// The job ticket packs `generation` (24 bits), `items` (20 bits) and the next unclaimed item
/// (20 bits) into one atomic word: a claim is a compare-and-swap on the whole word, so a worker
/// still looking at a finished job can never claim an item of the next one.
private final class PoolState: @unchecked Sendable {
    // @unchecked Sendable: a job slot is filled by the dispatching thread before the ticket of its
    // generation is published (release); workers read it only after claiming an item of that
    // generation (acquire). An ordinary job cannot finish while an item is claimed, so its slot
    // stays valid; a speculative job can, and its slot is not reused until its late owners are
    // done (`JobSlot.isFree`). `run` and `runSpeculative` are not reentrant.
    let ticket = Atomic<UInt64>(0)
    let finished = Atomic<Int>(0)
    let sleepers = Atomic<Int>(0)
    let mainWaiting = Atomic<Bool>(false)
    let stopping = Atomic<Bool>(false)
    let reclaimed = Atomic<Int>(0)
    let mutex: UnsafeMutablePointer<pthread_mutex_t>
    let wake: UnsafeMutablePointer<pthread_cond_t>
    let done: UnsafeMutablePointer<pthread_cond_t>
    let slots: [JobSlot]
    let scratchBase: UnsafeMutablePointer<Float>
    var workers = 0
    private var generation: UInt64 = 0

    /// How long an idle worker spins before it blocks, in nanoseconds.
    static let idleSpinNanoseconds: UInt64 = 40_000
    /// How long the dispatching thread spins for the last items before it blocks.
    static let finishSpinNanoseconds: UInt64 = 20_000
    /// A speculative item is re-run once the dispatching thread has waited this many times the
    /// mean time of its own items of the job (items are about equal), plus
    /// `reclaimSlackNanoseconds`, at most
    /// `reclaimMaxNanoseconds` (its own item may have been descheduled): a late owner, not a
    /// slow one. With no item of its own it waits `finishSpinNanoseconds`.
    static let reclaimFactor: UInt64 = 3
    static let reclaimSlackNanoseconds: UInt64 = 2_000
    static let reclaimMaxNanoseconds: UInt64 = 200_000
    /// Job slots: a late owner may finish this many jobs after its own before the dispatching
    /// thread has to wait for it (1,024 jobs ≈ 7 decoded tokens of the default model).
    static let slotCount = 1024
    static let itemBits: UInt64 = 20
    static let itemMask: UInt64 = (1 << itemBits) - 1
    static let generationMask: UInt64 = (1 << 24) - 1
    /// When speculative items held by another thread are re-run.
    let reclaim: ThreadPool.Reclaim

    /// The CPU the dispatching thread is pinned to by its first job, if the pool pins.
    var dispatcherCPU: Int?
    /// The kernel thread ids this pool has pinned to `dispatcherCPU` (see `DispatcherPins`),
    /// the last one first. Both are the dispatching side's, like `generation`: set before the
    /// pool is shared, then touched only by the dispatching thread (and by `deinit`).
    private var pinnedDispatchers: [pid_t] = []

    init(threads: Int, reclaim: ThreadPool.Reclaim, dispatcherCPU: Int?) {
        self.reclaim = reclaim
        self.dispatcherCPU = dispatcherCPU
        mutex = .allocate(capacity: 1)
        wake = .allocate(capacity: 1)
        done = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(wake, nil)
        pthread_cond_init(done, nil)
        slots = (0..<Self.slotCount).map { _ in JobSlot() }
        let raw = UnsafeMutableRawPointer.allocate(byteCount: threads * ThreadPool.scratchFloats * 4, alignment: 64)
        scratchBase = raw.bindMemory(to: Float.self, capacity: threads * ThreadPool.scratchFloats)
    }

    deinit {
        pthread_cond_destroy(wake)
        pthread_cond_destroy(done)
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        wake.deallocate()
        done.deallocate()
        scratchBase.deallocate()
    }

    @inline(__always) static func generation(of word: UInt64) -> UInt64 { word >> (2 * itemBits) }
    @inline(__always) func slot(_ gen: UInt64) -> JobSlot { slots[Int(gen % UInt64(Self.slotCount))] }
    @inline(__always) func scratch(_ thread: Int) -> UnsafeMutablePointer<Float> {
        scratchBase + thread * ThreadPool.scratchFloats
    }

    @inline(__always) static func copy(_ scratch: UnsafeMutablePointer<Float>, to destination: UnsafeMutableBufferPointer<Float>) {
        precondition(destination.count <= ThreadPool.scratchFloats, "speculative item larger than its scratch")
        if let base = destination.baseAddress, destination.count > 0 { base.update(from: scratch, count: destination.count) }
    }

    func stop() {
        stopping.store(true, ordering: .releasing)
        pthread_mutex_lock(mutex)
        generation = (generation &+ 1) & Self.generationMask
        ticket.store(generation << (2 * Self.itemBits), ordering: .releasing)
        pthread_cond_broadcast(wake)
        pthread_mutex_unlock(mutex)
    }

    /// Claims the next item of the job whose ticket word is `word`'s generation, or nil.
    @inline(__always)
    private func claim(generation gen: UInt64) -> (item: Int, items: Int)? {
        var word = ticket.load(ordering: .acquiring)
        while true {
            let items = (word >> Self.itemBits) & Self.itemMask, next = word & Self.itemMask
            if Self.generation(of: word) != gen || next >= items { return nil }
            let (exchanged, original) = ticket.compareExchange(
                expected: word, desired: word &+ 1, ordering: .acquiringAndReleasing)
            if exchanged { return (Int(next), Int(items)) }
            word = original
        }
    }

    /// Counts one finished item and wakes the dispatching thread if it was the last.
    @inline(__always)
    private func finishOne(of items: Int) {
        if finished.add(1, ordering: .sequentiallyConsistent).newValue == items,
           mainWaiting.load(ordering: .sequentiallyConsistent) {
            pthread_mutex_lock(mutex)
            pthread_cond_signal(done)
            pthread_mutex_unlock(mutex)
        }
    }

    typealias SpeculativeBody = (Int, Int, UnsafeMutablePointer<Float>) -> UnsafeMutableBufferPointer<Float>

    /// Computes speculative item `item` of `slot` with `body` (the slot's closure) on `thread`
    /// and commits it unless another computation of it already has. Returns whether this one
    /// was committed.
    @inline(__always)
    private func compute(_ slot: JobSlot, _ body: SpeculativeBody, item: Int, items: Int, thread: Int) -> Bool {
        let buffer = scratch(thread)
        let destination = body(item, thread, buffer)
        let bit: UInt64 = 1 << UInt64(item)
        if slot.committed.bitwiseOr(bit, ordering: .acquiringAndReleasing).oldValue & bit != 0 { return false }
        Self.copy(buffer, to: destination)
        finishOne(of: items)
        return true
    }

    /// Claims and runs items of generation `gen` until none is left.
    @inline(__always)
    private func work(generation gen: UInt64, thread: Int) {
        // The slot is read only after a claim of its generation succeeded (see PoolState).
        guard var claimed = claim(generation: gen) else { return }
        let slot = slot(gen)
        if let body = slot.speculative {
            // Loaded once per job; held after a lost commit it keeps only the closure alive.
            while true {
                // A lost commit means the dispatching thread re-ran this item and the job may be
                // over: say so, then touch the slot no more.
                if !compute(slot, body, item: claimed.item, items: claimed.items, thread: thread) {
                    slot.lateDone.add(1, ordering: .releasing)
                    return
                }
                guard let next = claim(generation: gen) else { return }
                claimed = next
            }
        }
        while true {
            // Loaded per item: the escape check of `withoutActuallyEscaping` requires that no
            // worker holds an ordinary job's closure once its last item is counted.
            slot.body?(claimed.item, thread)
            finishOne(of: claimed.items)
            guard let next = claim(generation: gen) else { return }
            claimed = next
        }
    }

    /// Takes the next generation and its slot, waiting for late owners of the slot's last job.
    private func nextSlot() -> (UInt64, JobSlot) {
        generation = (generation &+ 1) & Self.generationMask
        let slot = slot(generation)
        waitUntilFree(slot)
        slot.committed.store(0, ordering: .relaxed)
        slot.lateDone.store(0, ordering: .relaxed)
        slot.reclaimed.store(0, ordering: .relaxed)
        slot.speculative = nil
        finished.store(0, ordering: .relaxed)
        return (generation, slot)
    }

    private func waitUntilFree(_ slot: JobSlot) {
        var spins = 0
        while !slot.isFree {
            spins &+= 1
            if spins < 64 { ss_cpu_relax() } else { sched_yield() }
        }
    }

    func quiesce() {
        for slot in slots {
            waitUntilFree(slot)
            slot.speculative = nil
        }
        heldSlots.removeAll()
    }

    /// Slots of finished speculative jobs whose closures wait for late owners before release.
    private var heldSlots: [JobSlot] = []

    /// Releases the closures of held slots whose late owners are done.
    private func releaseFreeSlots() {
        heldSlots.removeAll { slot in
            guard slot.isFree else { return false }
            slot.speculative = nil
            return true
        }
    }

    /// Pins the dispatching thread to `dispatcherCPU` unless this pool already has (by kernel
    /// thread id: a `pthread_t` may be reused by a new thread as soon as the old one ends).
    @inline(__always)
    private func pinDispatcher() {
        guard let cpu = dispatcherCPU, let me = CPUAffinity.currentThreadID() else { return }
        if pinnedDispatchers.first == me { return }
        if let index = pinnedDispatchers.firstIndex(of: me) {
            pinnedDispatchers.swapAt(0, index)
            return
        }
        DispatcherPins.shared.pin(me, to: cpu)
        pinnedDispatchers.insert(me, at: 0)
    }

    /// Gives the threads this pool pinned their CPUs back (unless another pool still pins them).
    func releaseDispatcherPins() {
        for thread in pinnedDispatchers { DispatcherPins.shared.release(thread) }
        pinnedDispatchers.removeAll()
    }

    /// Publishes generation `gen` with `items` items and wakes sleeping workers.
    private func publish(_ gen: UInt64, items: Int) {
        // Sequentially consistent with the sleepers count: a worker going to sleep either sees
        // this ticket or is counted here (and then woken).
        ticket.store((gen << (2 * Self.itemBits)) | (UInt64(items) << Self.itemBits), ordering: .sequentiallyConsistent)
        if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
            pthread_mutex_lock(mutex)
            pthread_cond_broadcast(wake)
            pthread_mutex_unlock(mutex)
        }
    }

    func run(items: Int, _ body: (Int, Int) -> Void) {
        // Larger jobs are folded so that an item index fits the ticket.
        if UInt64(items) > Self.itemMask {
            let folds = (items + Int(Self.itemMask) - 1) / Int(Self.itemMask)
            let per = (items + folds - 1) / folds
            run(items: folds) { fold, thread in
                for item in (fold * per)..<min(items, (fold + 1) * per) { body(item, thread) }
            }
            return
        }
        pinDispatcher()
        withoutActuallyEscaping(body) { escaping in
            let (gen, slot) = nextSlot()
            slot.body = escaping
            publish(gen, items: items)
            work(generation: gen, thread: 0)
            waitUntilFinished(items)
            slot.body = nil
        }
    }

    func runSpeculative(items: Int, _ body: @escaping SpeculativeBody) {
        pinDispatcher()
        if !heldSlots.isEmpty { releaseFreeSlots() }
        let (gen, slot) = nextSlot()
        slot.speculative = body
        defer {
            // Release what the closure holds now, or once its late owners are done.
            if slot.reclaimed.load(ordering: .relaxed) == 0 { slot.speculative = nil } else { heldSlots.append(slot) }
        }
        publish(gen, items: items)
        // The dispatching thread's own items: its commits always win (only it re-runs items).
        let ownStart = Self.now()
        var own: UInt64 = 0
        while let (item, _) = claim(generation: gen) {
            _ = compute(slot, body, item: item, items: items, thread: 0)
            own &+= 1
        }
        if finished.load(ordering: .acquiring) == items { return }
        // Every item is claimed. Wait for the owners of the rest; re-run an item whose owner is
        // late (descheduled, most likely) instead of waiting a time slice for it.
        var waitStart = Self.now()
        let patience: UInt64 = switch reclaim {
        case .never: .max
        case .eager: 0
        case .late: own == 0 ? Self.finishSpinNanoseconds
            : min(Self.reclaimMaxNanoseconds, Self.reclaimFactor &* ((waitStart &- ownStart) / own) &+ Self.reclaimSlackNanoseconds)
        }
        let all: UInt64 = items == 64 ? ~0 : (1 << UInt64(items)) &- 1
        var spins = 0
        while finished.load(ordering: .acquiring) != items {
            ss_cpu_relax()
            spins &+= 1
            if spins & 15 != 0 { continue }
            let now = Self.now()
            let pending = ~slot.committed.load(ordering: .acquiring) & all
            if pending == 0 {
                // Only copies are in flight.
                if now &- waitStart > Self.finishSpinNanoseconds { blockUntilFinished(items); return }
            } else if now &- waitStart >= patience {
                if compute(slot, body, item: pending.trailingZeroBitCount, items: items, thread: 0) {
                    slot.reclaimed.add(1, ordering: .relaxed)
                    reclaimed.add(1, ordering: .relaxed)
                }
                waitStart = Self.now()
            } else if reclaim == .never, now &- waitStart > Self.finishSpinNanoseconds {
                blockUntilFinished(items)
                return
            }
        }
    }

    private func waitUntilFinished(_ items: Int) {
        if finished.load(ordering: .acquiring) == items { return }
        let deadline = Self.now() &+ Self.finishSpinNanoseconds
        var spins = 0
        while finished.load(ordering: .acquiring) != items {
            ss_cpu_relax()
            spins &+= 1
            if spins & 63 == 0, Self.now() > deadline {
                blockUntilFinished(items)
                return
            }
        }
    }

    private func blockUntilFinished(_ items: Int) {
        pthread_mutex_lock(mutex)
        mainWaiting.store(true, ordering: .sequentiallyConsistent)
        while finished.load(ordering: .sequentiallyConsistent) != items { pthread_cond_wait(done, mutex) }
        mainWaiting.store(false, ordering: .relaxed)
        pthread_mutex_unlock(mutex)
    }

    func workerLoop(index: Int) {
        var seen: UInt64 = 0
        while true {
            var current = Self.generation(of: ticket.load(ordering: .acquiring))
            if current == seen {
                let deadline = Self.now() &+ Self.idleSpinNanoseconds
                var spins = 0
                while current == seen {
                    ss_cpu_relax()
                    spins &+= 1
                    if spins & 63 == 0, Self.now() > deadline {
                        pthread_mutex_lock(mutex)
                        sleepers.add(1, ordering: .sequentiallyConsistent)
                        while Self.generation(of: ticket.load(ordering: .sequentiallyConsistent)) == seen {
                            pthread_cond_wait(wake, mutex)
                        }
                        sleepers.subtract(1, ordering: .relaxed)
                        pthread_mutex_unlock(mutex)
                    }
                    current = Self.generation(of: ticket.load(ordering: .acquiring))
                }
            }
            seen = current
            if stopping.load(ordering: .acquiring) { return }
            work(generation: current, thread: index)
        }
    }

    static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
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
