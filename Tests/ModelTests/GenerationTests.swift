import Kernels
import Model
import Streaming
import Tasks
import Testing
import TestSupport

@Suite("Greedy generation against the reference continuations", .serialized)
struct GenerationTests {
    let golden: GoldenGeneration

    init() throws { golden = try GoldenGeneration.load() }

    private func generate(_ precision: Precision, banEndOfGeneration: Bool, count: Int) throws -> [Int32]? {
        guard let model = try SharedModel.load(precision) else { return nil }
        let prompt = try ChatTemplate.chatml.encode([.init(role: "user", content: "What is the capital of France?")],
                                                   tokenizer: model.tokenizer)
        #expect(prompt == golden.promptIDs, "the ChatML prompt must tokenize like the reference")
        let engine = InferenceEngine(model: model, threads: 2, maxChunk: 64, maxContext: 256)
        let session = try StreamSession(engine: engine, mode: .dense)
        let eog = Set(golden.endOfGenerationIDs)
        #expect(eog.isSubset(of: model.tokenizer.endOfGenerationIDs))
        var sampler = GreedySampler()
        return try Generator.generate(session: session, prompt: prompt, maxTokens: count, sampler: &sampler,
                                      stop: banEndOfGeneration ? [] : eog, banned: banEndOfGeneration ? eog : [])
    }

    @Test("Until end of generation: 'The capital of France is Paris.'", arguments: [Precision.f32, .fast])
    func untilEndOfGeneration(_ precision: Precision) throws {
        let ids = try #require(try generate(precision, banEndOfGeneration: false, count: 32))
        #expect(Array(ids.dropLast()) == golden.untilEndOfGeneration)
        #expect(golden.endOfGenerationIDs.contains(ids.last ?? -1))
        let model = try #require(try SharedModel.load(precision))
        #expect(model.tokenizer.decode(Array(ids.dropLast())) == golden.textUntilEndOfGeneration)
    }

    @Test("End tokens banned: the reference's 24 ids on the f32 path")
    func endOfGenerationBanned() throws {
        let ids = try #require(try generate(.f32, banEndOfGeneration: true, count: 24))
        #expect(ids == golden.endOfGenerationBanned)
    }
}
