#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CKernels
import Synchronization

/// A fixed set of persistent worker threads that run one parallel job at a time.
///
/// A job is a number of items; threads claim items one at a time from a shared counter, so a
/// thread that the OS has descheduled never holds up the others (the rest of the job is simply
/// done by whoever runs). Callers make every item's result independent of which thread computes
/// it (fixed work per item, fixed reduction order), so results never depend on scheduling.
/// Idle workers spin briefly (the back-to-back jobs of one forward pass then cost no wake-up)
/// and then block on a condition variable; on a busy machine they give the CPU away instead of
/// burning it.
public final class ThreadPool: Sendable {
    /// Number of threads taking part in a job, the calling thread included.
    public let threadCount: Int
    private let state: PoolState
    private let threads: [pthread_t]

    /// Creates a pool.
    /// - Parameter threadCount: threads taking part in each job, including the caller (at least 1).
    public init(threadCount: Int) {
        let state = PoolState()
        var started: [pthread_t] = []
        for index in 1..<max(1, threadCount) {
            let box = Unmanaged.passRetained(WorkerContext(state: state, index: index))
            var thread = pthread_t()
            let rc = pthread_create(&thread, nil, { raw in
                guard let raw else { return nil }
                let context = Unmanaged<WorkerContext>.fromOpaque(raw).takeRetainedValue()
                context.state.workerLoop(index: context.index)
                return nil
            }, box.toOpaque())
            if rc == 0 { started.append(thread) } else { box.release() }
        }
        self.state = state
        self.threads = started
        self.threadCount = started.count + 1
        state.workers = started.count
    }

    deinit {
        state.stop()
        for thread in threads { pthread_join(thread, nil) }
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

    /// Runs `body(part)` once for every `part` in `0..<threadCount` (each on whichever thread
    /// claims it) and returns when all are done.
    ///
    /// Split work with ``ThreadPool/share(of:parts:index:granularity:)``; the part index doubles
    /// as the scratch index. Not reentrant.
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

/// The state shared by a pool's threads.
///
/// The job ticket packs `generation` (24 bits), `items` (20 bits) and the next unclaimed item
/// (20 bits) into one atomic word: a claim is a compare-and-swap on the whole word, so a worker
/// still looking at a finished job can never claim an item of the next one.
private final class PoolState: @unchecked Sendable {
    // @unchecked Sendable: `job` is written only by the dispatching thread before the ticket of
    // its generation is published (release) and while no item of an earlier job is unfinished;
    // workers read it only after claiming an item of that generation (acquire), which keeps the
    // job from finishing until they are done with it. `run` is not reentrant.
    let ticket = Atomic<UInt64>(0)
    let finished = Atomic<Int>(0)
    let sleepers = Atomic<Int>(0)
    let mainWaiting = Atomic<Bool>(false)
    let stopping = Atomic<Bool>(false)
    let mutex: UnsafeMutablePointer<pthread_mutex_t>
    let wake: UnsafeMutablePointer<pthread_cond_t>
    let done: UnsafeMutablePointer<pthread_cond_t>
    var job: ((Int, Int) -> Void)?
    var workers = 0
    private var generation: UInt64 = 0

    /// How long an idle worker spins before it blocks, in nanoseconds.
    static let idleSpinNanoseconds: UInt64 = 40_000
    /// How long the dispatching thread spins for the last items before it blocks.
    static let finishSpinNanoseconds: UInt64 = 20_000
    static let itemBits: UInt64 = 20
    static let itemMask: UInt64 = (1 << itemBits) - 1
    static let generationMask: UInt64 = (1 << 24) - 1

    init() {
        mutex = .allocate(capacity: 1)
        wake = .allocate(capacity: 1)
        done = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(wake, nil)
        pthread_cond_init(done, nil)
    }

    deinit {
        pthread_cond_destroy(wake)
        pthread_cond_destroy(done)
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        wake.deallocate()
        done.deallocate()
    }

    @inline(__always) static func generation(of word: UInt64) -> UInt64 { word >> (2 * itemBits) }

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

    /// Claims and runs items of generation `gen` until none is left.
    @inline(__always)
    private func work(generation gen: UInt64, thread: Int) {
        while let (item, items) = claim(generation: gen) {
            job?(item, thread)
            if finished.add(1, ordering: .sequentiallyConsistent).newValue == items,
               mainWaiting.load(ordering: .sequentiallyConsistent) {
                pthread_mutex_lock(mutex)
                pthread_cond_signal(done)
                pthread_mutex_unlock(mutex)
            }
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
        withoutActuallyEscaping(body) { escaping in
            job = escaping
            finished.store(0, ordering: .relaxed)
            generation = (generation &+ 1) & Self.generationMask
            let gen = generation
            // Sequentially consistent with the sleepers count: a worker going to sleep either sees
            // this ticket or is counted here (and then woken).
            ticket.store((gen << (2 * Self.itemBits)) | (UInt64(items) << Self.itemBits), ordering: .sequentiallyConsistent)
            if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
                pthread_mutex_lock(mutex)
                pthread_cond_broadcast(wake)
                pthread_mutex_unlock(mutex)
            }
            work(generation: gen, thread: 0)
            waitUntilFinished(items)
            job = nil
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
                pthread_mutex_lock(mutex)
                mainWaiting.store(true, ordering: .sequentiallyConsistent)
                while finished.load(ordering: .sequentiallyConsistent) != items { pthread_cond_wait(done, mutex) }
                mainWaiting.store(false, ordering: .relaxed)
                pthread_mutex_unlock(mutex)
                return
            }
        }
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
    init(state: PoolState, index: Int) {
        self.state = state
        self.index = index
    }
}
