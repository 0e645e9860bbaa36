#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CKernels
import Synchronization

// The job protocol of ``ThreadPool``: tickets that workers claim items from, job slots that
// outlive their job for late owners of speculative items, the commit-once copy of each item's
// result, and how the dispatching and worker threads spin, block and wake. ThreadPool.swift holds
// the public API and the threads' lifecycle; CPUAffinity.swift the pinning.

/// What one job generation runs. Slots form a ring indexed by generation, so a late owner of a
/// speculative item still finds its job after the dispatching thread has moved on.
final class JobSlot: @unchecked Sendable {
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
final class PoolState: @unchecked Sendable {
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
