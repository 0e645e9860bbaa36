import Kernels
import Model
import Streaming
import Tasks
import Testing
import TestSupport

/// Greedy continuations of the qwen2 and gemma3 files against the float32 reference
/// (`qwen2_gen.json`, `gemma3_gen.json`), dense attention as the reference decodes.
@Suite("Greedy generation on the other architectures against the reference", .serialized)
struct ArchitectureGenerationTests {
    private func generate(_ architecture: ArchitectureModel, _ precision: Precision, golden: GoldenGeneration,
                          banEndOfGeneration: Bool, count: Int) throws -> [Int32] {
        let model = try architecture.load(precision)
        let prompt: [Int32]
        if architecture.architecture == "qwen2" {
            // The instruct model: its ChatML prompt, as the reference wrote it.
            prompt = try ChatTemplate.chatml.encode([.init(role: "user", content: "What is the capital of France?")],
                                                   tokenizer: model.tokenizer)
        } else {
            // The base model: BOS (the vocabulary asks for it) and the plain text.
            prompt = (model.tokenizer.addsBOS ? [model.tokenizer.bosID].compactMap { $0 } : [])
                + model.tokenizer.encode(golden.prompt, parseSpecial: false)
        }
        #expect(prompt == golden.promptIDs, "the prompt must tokenize like the reference")
        let engine = InferenceEngine(model: model, threads: 2, maxChunk: 64, maxContext: 128)
        let session = try StreamSession(engine: engine, mode: .dense)
        let eog = Set(golden.endOfGenerationIDs)
        #expect(eog.isSubset(of: model.tokenizer.endOfGenerationIDs), "the vocabulary's end-of-generation tokens")
        var sampler = GreedySampler()
        return try Generator.generate(session: session, prompt: prompt, maxTokens: count, sampler: &sampler,
                                      stop: banEndOfGeneration ? [] : eog, banned: banEndOfGeneration ? eog : [])
    }

    @Test("qwen2: 'The capital of France is Paris.' then its end-of-turn token, on both paths", arguments: Precision.allCases)
    func qwen2UntilEndOfGeneration(_ precision: Precision) throws {
        let golden = try GoldenGeneration.load(ArchitectureModel.qwen2.generation)
        let ids = try generate(.qwen2, precision, golden: golden, banEndOfGeneration: false, count: 24)
        #expect(Array(ids.dropLast()) == golden.untilEndOfGeneration)
        #expect(golden.endOfGenerationIDs.contains(ids.last ?? -1))
        let model = try ArchitectureModel.qwen2.load(precision)
        #expect(model.tokenizer.decode(Array(ids.dropLast())) == golden.textUntilEndOfGeneration)
    }

    @Test("qwen2: the reference's 24 ids with the end tokens banned, on both paths", arguments: Precision.allCases)
    func qwen2EndOfGenerationBanned(_ precision: Precision) throws {
        let golden = try GoldenGeneration.load(ArchitectureModel.qwen2.generation)
        let ids = try generate(.qwen2, precision, golden: golden, banEndOfGeneration: true, count: 24)
        #expect(ids == golden.endOfGenerationBanned)
    }

    @Test("gemma3: the reference's 24 ids on the f32 path")
    func gemma3Greedy() throws {
        let golden = try GoldenGeneration.load(ArchitectureModel.gemma3.generation)
        let ids = try generate(.gemma3, .f32, golden: golden, banEndOfGeneration: false, count: 24)
        #expect(ids == golden.untilEndOfGeneration)
        let model = try ArchitectureModel.gemma3.load(.f32)
        #expect(model.tokenizer.decode(ids) == golden.textUntilEndOfGeneration)
    }
}
