import Foundation
import Kernels
import Model
import Streaming
import Testing
import TestSupport

@Suite("Dense losses and generation against the reference implementation", .serialized)
struct GoldenDenseTests {
    let golden: GoldenA

    init() throws { golden = try GoldenA.load() }

    private func denseLosses(_ precision: Precision, threads: Int = 2, chunk: Int = 256) throws -> [Float]? {
        guard let model = try SharedModel.load(precision) else { return nil }
        let engine = InferenceEngine(model: model, threads: threads, maxChunk: chunk, maxContext: golden.tokenIDs.count)
        return try TokenScorer.score(tokens: golden.tokenIDs, mode: .dense, engine: engine)
    }

    @Test("The model file is the one the goldens were made with")
    func modelChecksum() throws {
        let path = try #require(Fixtures.modelPath, "the default model is missing: run `sinkstream model fetch`")
        #expect(try FileDigest.sha256(path: path) == golden.modelSHA256)
    }

    @Test("f32 path: dense mean |Δ| ≤ 0.005 nats per token")
    func denseReferencePrecision() throws {
        let losses = try #require(try denseLosses(.f32))
        let reference = try #require(golden.nll["dense"])
        #expect(losses.count == reference.count)
        let delta = meanAbsoluteDifference(losses, reference)
        print("dense f32: mean |Δ| = \(delta)")
        #expect(delta <= 0.005)
    }

    @Test("fast path: dense mean NLL within 0.01 over t ≥ 300, per-token mean |Δ| ≤ 0.1")
    func denseFastPath() throws {
        let losses = try #require(try denseLosses(.fast))
        let reference = try #require(golden.nll["dense"])
        let from = golden.summaryFrom
        let meanDelta = abs(mean(losses[from...]) - mean(reference[from...]))
        let delta = meanAbsoluteDifference(losses, reference)
        print("dense fast: |Δ mean| (t≥\(from)) = \(meanDelta), mean |Δ| = \(delta)")
        #expect(meanDelta <= 0.01)
        #expect(delta <= 0.1)
    }

    /// 300 tokens on the fast path: the last 44 see more than `Attention.partSlots` keys, so it splits
    /// their attention; chunk 1 takes the decode route (parts in parallel), the others the
    /// chunked one (parts in sequence).
    @Test("Losses are bit-identical between 1 and 2 threads and between chunk sizes, token by token included", arguments: [Precision.fast, .f32])
    func deterministic(_ precision: Precision) throws {
        guard let model = try SharedModel.load(precision) else { Issue.record("model missing"); return }
        // The f32 path does not split attention and is slow; fewer tokens cover it.
        let tokens = Array(golden.tokenIDs.prefix(precision == .fast ? 300 : 150))
        var reclaimed = 0
        func run(threads: Int, chunk: Int, reclaim: ThreadPool.Reclaim = .late) throws -> [Float] {
            let engine = InferenceEngine(model: model, threads: threads, maxChunk: chunk, maxContext: tokens.count,
                                         reclaim: reclaim)
            defer { reclaimed += engine.pool.reclaimedItems }
            return try TokenScorer.score(tokens: tokens, mode: .dense, engine: engine)
        }
        let a = try run(threads: 2, chunk: 128)
        let b = try run(threads: 1, chunk: 128)
        let c = try run(threads: 2, chunk: 37)
        let d = try run(threads: 2, chunk: 128)
        let e = try run(threads: 2, chunk: 1)
        // Decode steps with every item open to re-running by the dispatching thread as soon as it
        // is idle (3 threads on this 2-core machine: owners are often descheduled too).
        reclaimed = 0
        let f = try run(threads: 2, chunk: 1, reclaim: .eager)
        let g = try run(threads: 3, chunk: 1, reclaim: .eager)
        #expect(reclaimed > 0, "no item was computed by the dispatching thread in place of its owner")
        #expect(a.map(\.bitPattern) == b.map(\.bitPattern))
        #expect(a.map(\.bitPattern) == e.map(\.bitPattern))
        #expect(a.map(\.bitPattern) == f.map(\.bitPattern))
        #expect(a.map(\.bitPattern) == g.map(\.bitPattern))
        #expect(a.map(\.bitPattern) == c.map(\.bitPattern))
        #expect(a.map(\.bitPattern) == d.map(\.bitPattern))
    }
}
