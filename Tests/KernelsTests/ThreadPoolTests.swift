import Foundation
import Kernels
import Synchronization
import Testing

/// A value behind a pthread mutex (NSLock). Not Synchronization.Mutex: the standard library is
/// not built with ThreadSanitizer, which then cannot see that Mutex orders the accesses and
/// reports races that are not there (scripts/sanitize.sh thread runs these tests).
private final class Locked<Value>: @unchecked Sendable {
    // @unchecked Sendable: `value` is only touched with `lock` held.
    private let lock = NSLock()
    private var value: Value
    init(_ value: Value) { self.value = value }
    func withLock<R>(_ body: (inout Value) -> R) -> R {
        lock.lock()
        defer { lock.unlock() }
        return body(&value)
    }
}

@Suite("Thread pool")
struct ThreadPoolTests {
    @Test("Every item runs exactly once, on a thread index in range, never two at once per index",
          arguments: [1, 2, 3, 4])
    func itemsRunOnce(threads: Int) {
        let pool = ThreadPool(threadCount: threads)
        #expect(pool.threadCount == threads)
        for items in [0, 1, 2, 7, 1000] {
            let counts = Locked([Int](repeating: 0, count: items))
            let busy = Locked([Bool](repeating: false, count: threads))
            let overlaps = Atomic<Int>(0), badIndex = Atomic<Int>(0)
            pool.parallel(items: items) { item, thread in
                guard thread >= 0 && thread < threads else { badIndex.add(1, ordering: .relaxed); return }
                let wasBusy = busy.withLock { flags in
                    let old = flags[thread]
                    flags[thread] = true
                    return old
                }
                if wasBusy { overlaps.add(1, ordering: .relaxed) }
                counts.withLock { $0[item] += 1 }
                busy.withLock { $0[thread] = false }
            }
            #expect(badIndex.load(ordering: .relaxed) == 0)
            #expect(overlaps.load(ordering: .relaxed) == 0)
            #expect(counts.withLock { $0.allSatisfy { $0 == 1 } }, "\(items) items on \(threads) threads")
        }
    }

    @Test("Back-to-back jobs and more items than one ticket holds")
    func manyJobsAndFolding() {
        let pool = ThreadPool(threadCount: 2)
        let total = Atomic<Int>(0)
        for job in 0..<2_000 { pool.parallel(items: 3 + job % 5) { item, _ in total.add(item + 1, ordering: .relaxed) } }
        var expected = 0
        for job in 0..<2_000 { let n = 3 + job % 5; expected += n * (n + 1) / 2 }
        #expect(total.load(ordering: .relaxed) == expected)
        let big = (1 << 20) + 37
        let hits = Atomic<Int>(0)
        pool.parallel(items: big) { _, _ in hits.add(1, ordering: .relaxed) }
        #expect(hits.load(ordering: .relaxed) == big)
    }

    @Test("run(_:) gives every part index once and share(of:) tiles the range")
    func runParts() {
        let pool = ThreadPool(threadCount: 3)
        let seen = Locked([Int](repeating: 0, count: 3))
        pool.run { part in seen.withLock { $0[part] += 1 } }
        #expect(seen.withLock { $0 == [1, 1, 1] })
        let shares = (0..<3).map { ThreadPool.share(of: 100, parts: 3, index: $0, granularity: 16) }
        #expect(shares.map(\.count).reduce(0, +) == 100)
        #expect(shares[0].lowerBound == 0 && shares[2].upperBound == 100 && shares[0].upperBound == shares[1].lowerBound)
    }

    @Test("Speculative jobs: each item committed once to its place, a late owner's item re-run, its copy dropped")
    func speculativeReclaim() {
        let pool = ThreadPool(threadCount: 2, reclaim: .late)
        let items = 8, width = 4
        let out = UnsafeMutableBufferPointer<Float>.allocate(capacity: items * width)
        defer { out.deallocate() }
        func spin(_ nanoseconds: UInt64) {
            let end = DispatchTime.now().uptimeNanoseconds + nanoseconds
            while DispatchTime.now().uptimeNanoseconds < end {}
        }
        var wrong = 0
        let rounds = 40
        for round in 0..<rounds {
            out.initialize(repeating: -1)
            // Items on the worker are "descheduled" for 20 ms; the dispatching thread's take 0.2 ms.
            pool.parallelSpeculative(items: items, itemFloats: width) { item, thread, scratch in
                if thread == 0 { spin(200_000) } else { usleep(20_000) }
                for j in 0..<width { scratch[j] = Float(round * 1000 + item * width + j) }
                return UnsafeMutableBufferPointer(rebasing: out[(item * width)..<((item + 1) * width)])
            }
            for (index, value) in out.enumerated() where value != Float(round * 1000 + index) { wrong += 1 }
        }
        pool.quiesce()
        // Late owners finished during later rounds (or in quiesce); none of their copies landed.
        #expect(wrong == 0)
        #expect(out.enumerated().allSatisfy { $0.element == Float((rounds - 1) * 1000 + $0.offset) })
        #expect(pool.reclaimedItems > 0, "the worker held items for 20 ms, 100 times the dispatching thread's")
    }

    @Test("Speculative jobs fall back to ordinary ones (one thread, more items than bits, items larger than scratch)", arguments: [1, 2])
    func speculativeFallback(threads: Int) {
        let pool = ThreadPool(threadCount: threads)
        let items = ThreadPool.speculativeItems + 5
        let out = UnsafeMutableBufferPointer<Float>.allocate(capacity: items)
        defer { out.deallocate() }
        out.initialize(repeating: -1)
        pool.parallelSpeculative(items: items, itemFloats: 1) { item, _, scratch in
            scratch[0] = Float(item)
            return UnsafeMutableBufferPointer(rebasing: out[item..<(item + 1)])
        }
        // Items larger than the pool's scratch get scratch of their own.
        let wide = ThreadPool.scratchFloats + 3
        let big = UnsafeMutableBufferPointer<Float>.allocate(capacity: 3 * wide)
        defer { big.deallocate() }
        big.initialize(repeating: -1)
        pool.parallelSpeculative(items: 3, itemFloats: wide) { item, _, scratch in
            for j in 0..<wide { scratch[j] = Float(item * wide + j) }
            return UnsafeMutableBufferPointer(rebasing: big[(item * wide)..<((item + 1) * wide)])
        }
        pool.quiesce()
        #expect(out.enumerated().allSatisfy { $0.element == Float($0.offset) })
        #expect(big.enumerated().allSatisfy { $0.element == Float($0.offset) })
        #expect(pool.reclaimedItems == 0)
    }

    @Test("Pinning: thread i gets the i-th allowed CPU, also for a second pool on a pinned thread; a pool that does not pin gives its workers the CPUs back; the dispatching thread gets them back when its pools are gone")
    func pinning() throws {
        let allowed = CPUAffinity.allowedCPUs()
        #if os(Linux)
        try #require(!allowed.isEmpty, "sched_getaffinity is available on Linux")
        #endif
        #expect(ThreadPool(threadCount: 1, pinning: true).pinnedCPUs == nil)
        #expect(ThreadPool(threadCount: allowed.count + 1, pinning: true).pinnedCPUs == nil)
        #expect(ThreadPool(threadCount: max(2, allowed.count), pinning: false).pinnedCPUs == nil)
        // The rest needs two CPUs (CI's machine has two).
        guard allowed.count >= 2 else { return }
        let n = allowed.count

        /// Runs ordinary and speculative jobs on `pool` until every thread has run items (at
        /// least 20 rounds, at most 5 s), and returns the CPU masks each thread index had.
        @Sendable func masks(_ pool: ThreadPool) -> [Set<[Int]>] {
            let seen = Locked([Set<[Int]>](repeating: [], count: n))
            let out = UnsafeMutableBufferPointer<Float>.allocate(capacity: 16)
            defer { out.deallocate() }
            func record(_ thread: Int) {
                let end = DispatchTime.now().uptimeNanoseconds + 20_000
                while DispatchTime.now().uptimeNanoseconds < end {}
                let mask = CPUAffinity.allowedCPUs()
                seen.withLock { _ = $0[thread].insert(mask) }
            }
            let deadline = DispatchTime.now().uptimeNanoseconds + 5_000_000_000
            var rounds = 0
            while rounds < 20 || (seen.withLock { $0.contains { $0.isEmpty } } && DispatchTime.now().uptimeNanoseconds < deadline) {
                rounds += 1
                pool.parallel(items: 4 * n) { _, thread in record(thread) }
                pool.parallelSpeculative(items: 16, itemFloats: 1) { item, thread, scratch in
                    record(thread)
                    scratch[0] = Float(item)
                    return UnsafeMutableBufferPointer(rebasing: out[item..<(item + 1)])
                }
            }
            pool.quiesce()
            return seen.withLock { $0 }
        }

        struct Seen: Sendable {
            var pinned: [[Int]?] = []
            var masks: [[Set<[Int]>]] = []
            var dispatcherWhilePinned: [Int] = []
            var dispatcherAfter: [Int] = []
        }
        let result = Locked(Seen())
        let done = DispatchSemaphore(value: 0)
        // Dispatch from a thread of the test's own, so no Swift Testing thread is ever pinned.
        let dispatcher = Thread {
            var seen = Seen()
            do {
                let first = ThreadPool(threadCount: n, pinning: true)
                seen.masks.append(masks(first))
                // Made on the now pinned thread: decides from the thread's CPUs before the pin.
                let second = ThreadPool(threadCount: n, pinning: true)
                seen.masks.append(masks(second))
                let unpinned = ThreadPool(threadCount: n, pinning: false)
                seen.masks.append(masks(unpinned))
                seen.pinned = [first.pinnedCPUs, second.pinnedCPUs, unpinned.pinnedCPUs]
                seen.dispatcherWhilePinned = CPUAffinity.allowedCPUs()
            }
            seen.dispatcherAfter = CPUAffinity.allowedCPUs()
            result.withLock { $0 = seen }
            done.signal()
        }
        dispatcher.start()
        done.wait()
        let seen = result.withLock { $0 }
        #expect(seen.pinned == [allowed, allowed, nil])
        let pinnedMasks = allowed.map { Set([[$0]]) }
        #expect(seen.masks[0] == pinnedMasks, "first pool: thread i only ever on the i-th CPU")
        #expect(seen.masks[1] == pinnedMasks, "second pool on the pinned thread")
        // The unpinned pool's workers have every CPU back; its dispatching thread is still pinned.
        #expect(seen.masks[2] == [Set([[allowed[0]]])] + Array(repeating: Set([allowed]), count: n - 1))
        #expect(seen.dispatcherWhilePinned == [allowed[0]])
        #expect(seen.dispatcherAfter == allowed, "the dispatching thread has its CPUs back")
    }
}
