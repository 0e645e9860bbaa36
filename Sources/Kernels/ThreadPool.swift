#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// A fixed set of persistent worker threads that run one parallel job at a time.
///
/// Work is partitioned statically: thread `i` of `n` always gets the same share of a job, so
/// results never depend on scheduling. Idle workers spin for a short, bounded time (so that the
/// back-to-back jobs of one forward pass do not pay a wake-up each) and then block on a
/// condition variable; on a busy machine they give the CPU away instead of burning it.
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

    /// Runs `body(threadIndex)` once on every thread of the pool and returns when all are done.
    ///
    /// `body` receives the index in `0..<threadCount`; split work with
    /// ``ThreadPool/share(of:parts:index:granularity:)`` so that each index always gets the same
    /// share. Not reentrant: call it from one thread at a time.
    public func run(_ body: (Int) -> Void) {
        state.run(body)
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
private final class PoolState: @unchecked Sendable {
    // @unchecked Sendable: `job` and `workers` are written only by the dispatching thread while
    // every worker is idle, and read by workers only after the generation counter (bumped under
    // `mutex`, with release ordering) has moved; `run` is not reentrant.
    let generation = Atomic<Int>(0)
    let remaining = Atomic<Int>(0)
    let stopping = Atomic<Bool>(false)
    let mutex: UnsafeMutablePointer<pthread_mutex_t>
    let wake: UnsafeMutablePointer<pthread_cond_t>
    let done: UnsafeMutablePointer<pthread_cond_t>
    var job: ((Int) -> Void)?
    var workers = 0

    /// How long an idle thread spins before it blocks, in nanoseconds.
    static let spinNanoseconds: UInt64 = 50_000

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

    func stop() {
        stopping.store(true, ordering: .releasing)
        pthread_mutex_lock(mutex)
        generation.wrappingAdd(1, ordering: .releasing)
        pthread_cond_broadcast(wake)
        pthread_mutex_unlock(mutex)
    }

    func run(_ body: (Int) -> Void) {
        if workers == 0 { body(0); return }
        withoutActuallyEscaping(body) { escaping in
            job = escaping
            remaining.store(workers, ordering: .relaxed)
            pthread_mutex_lock(mutex)
            generation.wrappingAdd(1, ordering: .releasing)
            pthread_cond_broadcast(wake)
            pthread_mutex_unlock(mutex)
            escaping(0)
            waitForWorkers()
            job = nil
        }
    }

    private func waitForWorkers() {
        if remaining.load(ordering: .acquiring) == 0 { return }
        let deadline = Self.now() &+ Self.spinNanoseconds
        var spins = 0
        while remaining.load(ordering: .acquiring) != 0 {
            spins &+= 1
            if spins & 255 == 0, Self.now() > deadline {
                pthread_mutex_lock(mutex)
                while remaining.load(ordering: .acquiring) != 0 { pthread_cond_wait(done, mutex) }
                pthread_mutex_unlock(mutex)
                return
            }
        }
    }

    func workerLoop(index: Int) {
        var seen = 0
        while true {
            var current = generation.load(ordering: .acquiring)
            if current == seen {
                let deadline = Self.now() &+ Self.spinNanoseconds
                var spins = 0
                while current == seen {
                    spins &+= 1
                    if spins & 255 == 0, Self.now() > deadline {
                        pthread_mutex_lock(mutex)
                        while generation.load(ordering: .acquiring) == seen { pthread_cond_wait(wake, mutex) }
                        pthread_mutex_unlock(mutex)
                    }
                    current = generation.load(ordering: .acquiring)
                }
            }
            seen = current
            if stopping.load(ordering: .acquiring) { return }
            job?(index)
            if remaining.subtract(1, ordering: .acquiringAndReleasing).newValue == 0 {
                pthread_mutex_lock(mutex)
                pthread_cond_signal(done)
                pthread_mutex_unlock(mutex)
            }
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
