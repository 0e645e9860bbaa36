import Kernels
import Model
import Streaming
import Testing
import TestSupport

@Suite("Every attention mode against the reference losses", .serialized)
struct GoldenModeTests {
    let golden: GoldenA
    static let cachedModes: [AttentionMode] = [
        .sink(sinks: 4, window: 252), .window(256), .sinkBatch(sinks: 4, window: 252, evict: 64),
    ]

    init() throws { golden = try GoldenA.load() }

    private func losses(_ mode: AttentionMode, _ precision: Precision, tokens: Int, chunk: Int = 128) throws -> [Float]? {
        guard let model = try SharedModel.load(precision) else { return nil }
        let ids = Array(golden.tokenIDs.prefix(tokens))
        let engine = InferenceEngine(model: model, threads: 2, maxChunk: chunk,
                                     maxContext: mode.maxVisible(contextLength: model.config.contextLength))
        return try TokenScorer.score(tokens: ids, mode: mode, engine: engine)
    }

    @Test("f32 path: cached modes within 0.005 nats per token", arguments: cachedModes)
    func referencePrecision(_ mode: AttentionMode) throws {
        let reference = try #require(golden.nll[mode.description])
        let ours = try #require(try losses(mode, .f32, tokens: reference.count + 1))
        #expect(ours.count == reference.count)
        let delta = meanAbsoluteDifference(ours, reference)
        print("\(mode) f32: mean |Δ| = \(delta)")
        #expect(delta <= 0.005)
    }

    @Test("fast path: mean NLL within 0.01 of the reference", arguments: cachedModes + [.recompute(64)])
    func fastPath(_ mode: AttentionMode) throws {
        let reference = try #require(golden.nll[mode.description])
        let ours = try #require(try losses(mode, .fast, tokens: reference.count + 1))
        let meanDelta = abs(mean(ours) - mean(reference))
        print("\(mode) fast: |Δ mean| = \(meanDelta), mean |Δ| = \(meanAbsoluteDifference(ours, reference))")
        #expect(meanDelta <= 0.01)
    }

    @Test("f32 path: recompute(64) on a sample of positions within 0.005")
    func recomputeReferencePrecision() throws {
        let reference = try #require(golden.nll["recompute(64)"])
        let model = try #require(try SharedModel.load(.f32))
        let engine = InferenceEngine(model: model, threads: 2, maxChunk: 64, maxContext: 64)
        let scorer = RecomputeScorer(engine: engine, window: 64)
        let positions = Array(stride(from: 0, to: reference.count, by: 13))
        var ours: [Float] = [], theirs: [Double] = []
        for t in positions {
            ours += scorer.losses(tokens: golden.tokenIDs, range: t..<(t + 1))
            theirs.append(reference[t])
        }
        let delta = meanAbsoluteDifference(ours, theirs)
        print("recompute(64) f32 on \(positions.count) positions: mean |Δ| = \(delta)")
        #expect(delta <= 0.005)
    }

    @Test("Modes differ where they should: window(256) departs from dense after the window fills")
    func windowDeparts() throws {
        let window = try #require(golden.nll["window(256)"])
        let ours = try #require(try losses(.window(256), .fast, tokens: window.count + 1))
        let dense = try #require(try losses(.dense, .fast, tokens: window.count + 1))
        #expect(ours[..<256].map(\.bitPattern) == dense[..<256].map(\.bitPattern), "identical to dense before the cache is full")
        #expect(mean(ours[300...]) > mean(dense[300...]) + 0.05, "window attention loses the first tokens and degrades")
    }

    @Test("Token-by-token decoding through the cache equals chunked processing", arguments: [
        AttentionMode.sink(sinks: 4, window: 60), .sinkBatch(sinks: 4, window: 60, evict: 16), .window(50), .dense,
    ])
    func chunkedEqualsTokenByToken(_ mode: AttentionMode) throws {
        let a = try #require(try losses(mode, .fast, tokens: 200, chunk: 1))
        let b = try #require(try losses(mode, .fast, tokens: 200, chunk: 64))
        let c = try #require(try losses(mode, .fast, tokens: 200, chunk: 29))
        #expect(a.map(\.bitPattern) == b.map(\.bitPattern))
        #expect(a.map(\.bitPattern) == c.map(\.bitPattern))
    }

    @Test("Dense refuses to go past the context length and suggests sink mode")
    func denseRefusesPastContext() throws {
        let model = try #require(try SharedModel.load(.fast))
        var cache = DenseCache(contextLength: model.config.contextLength)
        _ = try cache.append(model.config.contextLength - 1)
        #expect(throws: StreamingError.self) { _ = try cache.append(model.config.contextLength) }
        do {
            _ = try cache.append(model.config.contextLength)
        } catch {
            #expect(error.message.contains("--mode sink"))
        }
    }
}

extension AttentionMode: CustomTestStringConvertible {
    public var testDescription: String { description }
}
