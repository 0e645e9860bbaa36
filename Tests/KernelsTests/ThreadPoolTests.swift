import Kernels
import Synchronization
import Testing

/// The pool under many short back-to-back jobs (the pattern of a forward pass), and its
/// shutdown. Meant to be run under ThreadSanitizer too (`scripts/sanitize.sh thread`).
@Suite("ThreadPool")
struct ThreadPoolTests {
    @Test("each job sees every index once and the caller sees the workers' writes", arguments: [1, 2, 4])
    func backToBackJobs(threads: Int) {
        let pool = ThreadPool(threadCount: threads)
        let n = pool.threadCount
        let buffer = UnsafeMutableBufferPointer<Int>.allocate(capacity: 1000)
        defer { buffer.deallocate() }
        buffer.initialize(repeating: 0)
        let calls = Atomic<Int>(0)
        for round in 1...300 {
            pool.run { index in
                calls.wrappingAdd(1, ordering: .relaxed)
                for i in ThreadPool.share(of: buffer.count, parts: n, index: index) { buffer[i] += round }
            }
            // Plain reads after `run` returns: must see every worker's writes of this round.
            #expect(buffer[0] == round * (round + 1) / 2 && buffer[buffer.count - 1] == buffer[0])
        }
        #expect(calls.load(ordering: .relaxed) == 300 * n)
        #expect(buffer.allSatisfy { $0 == 300 * 301 / 2 })
    }

    @Test("pools are created, used once and torn down repeatedly")
    func createAndDestroy() {
        for _ in 0..<50 {
            let pool = ThreadPool(threadCount: 3)
            let sum = Atomic<Int>(0)
            pool.run { index in sum.wrappingAdd(index + 1, ordering: .relaxed) }
            #expect(sum.load(ordering: .relaxed) == pool.threadCount * (pool.threadCount + 1) / 2)
        }
    }
}
