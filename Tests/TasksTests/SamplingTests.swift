import Foundation
import Tasks
import Testing

@Suite("Seeded sampling and the repetition guard")
struct SamplingTests {
    @Test("The generator is reproducible from its seed and from its saved state")
    func generator() throws {
        var a = Xoshiro256(seed: 42)
        var b = Xoshiro256(seed: 42)
        var c = Xoshiro256(seed: 43)
        let first = (0..<8).map { _ in a.next() }
        #expect(first == (0..<8).map { _ in b.next() })
        #expect(first != (0..<8).map { _ in c.next() })
        var restored = try Xoshiro256(data: a.data)
        #expect((0..<8).map { _ in restored.next() } == (0..<8).map { _ in a.next() })
        #expect(throws: TaskError.self) { _ = try Xoshiro256(data: Data([1, 2, 3])) }
        for _ in 0..<1000 { let u = a.nextUnit(); #expect(u >= 0 && u < 1) }
    }

    @Test("Sampling: same seed, same tokens; top-k 1 and temperature 0 are greedy; banned tokens never come")
    func sampler() {
        let logits: [Float] = (0..<200).map { Float(sin(Double($0) * 0.37) * 3) }
        var s1 = TaskSampler(SamplingConfiguration(temperature: 0.9, topK: 40, topP: 0.95, seed: 7))
        var s2 = TaskSampler(SamplingConfiguration(temperature: 0.9, topK: 40, topP: 0.95, seed: 7))
        let run1 = (0..<50).map { _ in s1.next(logits: logits, banned: []) }
        #expect(run1 == (0..<50).map { _ in s2.next(logits: logits, banned: []) })
        #expect(Set(run1).count > 1, "temperature sampling should vary")
        let best = Int32(logits.indices.max { logits[$0] < logits[$1] }!)
        var greedy = TaskSampler(SamplingConfiguration())
        var topOne = TaskSampler(SamplingConfiguration(temperature: 1.5, topK: 1, seed: 3))
        #expect(greedy.next(logits: logits, banned: []) == best)
        #expect(topOne.next(logits: logits, banned: []) == best)
        var banning = TaskSampler(SamplingConfiguration(temperature: 1, topK: 3, seed: 1))
        #expect((0..<30).allSatisfy { _ in banning.next(logits: logits, banned: [best]) != best })
        // top-k 40 keeps only the 40 best.
        let allowed = Set(logits.indices.sorted { logits[$0] > logits[$1] }.prefix(40).map(Int32.init))
        #expect(run1.allSatisfy { allowed.contains($0) })
    }

    @Test("The repetition guard stops loops and keeps one copy, but leaves ordinary text alone")
    func repetition() {
        let guardian = RepetitionGuard()
        let phrase: [Int32] = [5, 6, 7, 8, 9]
        let looping: [Int32] = [1, 2, 3] + phrase + phrase + phrase + phrase
        #expect(guardian.loopLength(looping) == 15)
        #expect(guardian.loopLength(Array(looping.dropLast())) == nil)
        #expect(guardian.loopLength([Int32](repeating: 4, count: 16)) == 15)
        #expect(guardian.loopLength([Int32](repeating: 4, count: 10)) == nil)
        #expect(guardian.loopLength((0..<200).map { Int32($0 % 97) }) == nil)
        #expect(guardian.loopLength([]) == nil)
        let sentence = (100..<140).map { Int32($0) }  // a 40-token sentence, four times
        #expect(guardian.loopLength([7] + sentence + sentence + sentence + sentence) == 120)
    }
}

@Suite("Copy guard")
struct CopyGuardTests {
    @Test("Bans exactly the tokens that would repeat an n-gram of the previous reply")
    func bans() {
        let g = CopyGuard(n: 3)
        let previous: [Int32] = [1, 2, 3, 4, 1, 2, 5]
        #expect(g.banned(generated: [9, 1, 2], previous: previous) == [3, 5])
        #expect(g.banned(generated: [2, 3], previous: previous) == [4])
        #expect(g.banned(generated: [7, 8], previous: previous).isEmpty)
        #expect(g.banned(generated: [1], previous: previous).isEmpty)
        #expect(CopyGuard(n: 0).banned(generated: [1, 2], previous: previous).isEmpty)
        // Within one reply (--no-repeat): the tail is not matched against itself.
        let reply: [Int32] = [1, 2, 3, 4, 1, 2]
        #expect(g.banned(generated: reply, previous: reply) == [3])
        #expect(g.banned(generated: [1, 2, 3], previous: [1, 2, 3]).isEmpty)
    }
}
