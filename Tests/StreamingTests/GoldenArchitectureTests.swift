import Kernels
import Model
import Streaming
import Testing
import TestSupport

/// qwen2 and gemma3 through the architecture seam, every attention mode, against the
/// independent float32 reference (`qwen2_A.json`, `gemma3_A.json`).
@Suite("Other architectures against the reference losses", .serialized)
struct GoldenArchitectureTests {
    static let cachedModes: [AttentionMode] = [
        .dense, .sink(sinks: 4, window: 252), .window(256), .sinkBatch(sinks: 4, window: 252, evict: 64),
    ]
    static let cases: [(ArchitectureModel, AttentionMode)] = ArchitectureModel.all.flatMap { m in cachedModes.map { (m, $0) } }
    /// Tokens scored per mode: past Gemma's 512-token local window and the modes' 256-slot caches,
    /// short enough for the float path on two cores.
    static let tokens = 600
    /// The float path (slow on two cores) on the two cache modes that differ most from dense.
    static let f32Cases: [(ArchitectureModel, AttentionMode)] = ArchitectureModel.all.flatMap { m in
        [AttentionMode.sink(sinks: 4, window: 252), .window(256)].map { (m, $0) }
    }

    static func losses(_ model: LanguageModel, _ golden: GoldenA, _ mode: AttentionMode, tokens: Int, chunk: Int = 128) throws -> [Float] {
        let engine = InferenceEngine(model: model, threads: 2, maxChunk: chunk,
                                     maxContext: mode.maxVisible(contextLength: model.config.contextLength))
        return try TokenScorer.score(tokens: Array(golden.tokenIDs.prefix(tokens)), mode: mode, engine: engine)
    }

    @Test("The seam reads each architecture's facts from the file")
    func configuration() throws {
        let qwen = try ArchitectureModel.qwen2.load(.f32).config
        #expect(qwen.architecture == "qwen2" && qwen.ropeStyle == .neox && qwen.blockTensors == [.qkvBias])
        #expect(qwen.layers.allSatisfy { $0 == LayerSpec(attention: .global, ropeBase: 1_000_000) })
        let gemma = try ArchitectureModel.gemma3.load(.f32).config
        #expect(gemma.architecture == "gemma3" && gemma.headDimension == 256 && gemma.queryWidth == 1024)
        #expect(gemma.activation == .geluTanh && gemma.embeddingScale == Float(640).squareRoot())
        let global = gemma.layers.indices.filter { gemma.layers[$0].attention == .global }
        #expect(global == [5, 11, 17])
        #expect(gemma.layers[0] == LayerSpec(attention: .sliding(window: 512), ropeBase: 10_000))
        #expect(gemma.layers[5].ropeBase == 1_000_000)
    }

    @Test("fast path (8-bit activations): mean and per-token loss near the reference", arguments: cases)
    func fastPath(_ model: ArchitectureModel, _ mode: AttentionMode) throws {
        let golden = try GoldenA.load(model.golden)
        let reference = Array(try #require(golden.nll[mode.description]).prefix(Self.tokens - 1))
        let ours = try Self.losses(try model.load(.fast), golden, mode, tokens: Self.tokens)
        let meanDelta = abs(mean(ours) - mean(reference)), perToken = meanAbsoluteDifference(ours, reference)
        print("\(model) \(mode) fast: |Δ mean| = \(meanDelta), mean |Δ| = \(perToken)")
        // llama.cpp's own 8-bit path is 0.03 (qwen2) and 0.09–0.13 (gemma3) nats per token off.
        let (meanLimit, perTokenLimit) = model.architecture == "gemma3" ? (0.05, 0.15) : (0.02, 0.1)
        #expect(meanDelta <= meanLimit)
        #expect(perToken <= perTokenLimit)
    }

    @Test("Sliding layers: chunked processing equals token by token past the window", arguments: [
        AttentionMode.sink(sinks: 4, window: 60), .dense,
    ])
    func gemmaChunking(_ mode: AttentionMode) throws {
        let model = try ArchitectureModel.gemma3.load(.fast)
        let golden = try GoldenA.load(ArchitectureModel.gemma3.golden)
        // 600 tokens: past the 512-token window of the local layers.
        let a = try Self.losses(model, golden, mode, tokens: 600, chunk: 1)
        let b = try Self.losses(model, golden, mode, tokens: 600, chunk: 97)
        #expect(a.map(\.bitPattern) == b.map(\.bitPattern))
    }
}

/// The float path of the same checks, a suite of its own so that it runs beside the fast path
/// (each suite is serialized: one model in flight per suite).
@Suite("Other architectures against the reference losses, float path", .serialized)
struct GoldenArchitectureFloatTests {
    @Test("f32 path: sink and window within 0.005 nats per token", arguments: GoldenArchitectureTests.f32Cases)
    func referencePrecision(_ model: ArchitectureModel, _ mode: AttentionMode) throws {
        let golden = try GoldenA.load(model.golden)
        let reference = Array(try #require(golden.nll[mode.description]).prefix(GoldenArchitectureTests.tokens - 1))
        let ours = try GoldenArchitectureTests.losses(try model.load(.f32), golden, mode, tokens: GoldenArchitectureTests.tokens)
        #expect(ours.count == reference.count)
        let delta = meanAbsoluteDifference(ours, reference)
        print("\(model) \(mode) f32: mean |Δ| = \(delta)")
        #expect(delta <= 0.005)
    }

    @Test("f32 path: recompute(64) on a sample of positions within 0.005", arguments: ArchitectureModel.all)
    func recomputeReferencePrecision(_ model: ArchitectureModel) throws {
        let golden = try GoldenA.load(model.golden)
        let reference = try #require(golden.nll["recompute(64)"])
        let engine = InferenceEngine(model: try model.load(.f32), threads: 2, maxChunk: 64, maxContext: 64)
        let scorer = RecomputeScorer(engine: engine, window: 64)
        let positions = Array(stride(from: 0, to: reference.count, by: 61))
        var ours: [Float] = [], theirs: [Double] = []
        for t in positions {
            ours += scorer.losses(tokens: golden.tokenIDs, range: t..<(t + 1))
            theirs.append(reference[t])
        }
        let delta = meanAbsoluteDifference(ours, theirs)
        print("\(model) recompute(64) f32 on \(positions.count) positions: mean |Δ| = \(delta)")
        #expect(delta <= 0.005)
    }
}
