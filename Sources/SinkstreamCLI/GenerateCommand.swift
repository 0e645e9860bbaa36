import ArgumentParser
import Foundation
import Model
import Streaming
import Tasks
import Tokenization

struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Greedy text generation from a prompt.",
        discussion: """
        Examples:
          sinkstream generate --chat --prompt "What is the capital of France?"
          sinkstream generate --prompt "Once upon a time" --max-tokens 64
        """)

    @Option(help: "The prompt text.")
    var prompt: String

    @Flag(help: "Wrap the prompt in the model's chat template (ChatML for SmolLM2) and stop at end-of-generation tokens.")
    var chat = false

    @Option(help: "The most tokens to generate.")
    var maxTokens: Int = 128

    @Flag(help: "Never produce end-of-generation tokens (generate exactly --max-tokens).")
    var ignoreEOS = false

    @Flag(help: "Print the generated token ids as a JSON array instead of text.")
    var ids = false

    @OptionGroup var options: ModelOptions

    func validate() throws {
        if maxTokens < 1 { throw ValidationError("Please give --max-tokens a positive value.") }
    }

    func run() throws {
        let model = try options.load(logger: options.makeLogger())
        let tokenizer = model.tokenizer
        var promptIDs: [Int32]
        if chat {
            guard let template = ChatTemplate.detect(model.chatTemplate) ?? (tokenizer.id(of: "<|im_start|>") != nil ? .chatml : nil) else {
                throw ModelError(code: "model.chat-template", file: model.path, message: "the model has no chat template Sinkstream recognises; leave out --chat to continue the prompt as plain text.")
            }
            promptIDs = try template.encode([.init(role: "user", content: prompt)], tokenizer: tokenizer)
        } else {
            promptIDs = tokenizer.encode(prompt, parseSpecial: false)
        }
        guard !promptIDs.isEmpty else { throw InputError("the prompt is empty; give some text with --prompt.", status: .usage) }
        let total = promptIDs.count + maxTokens
        guard total <= model.config.contextLength else {
            throw InputError("the prompt (\(promptIDs.count) tokens) plus --max-tokens exceeds the model's context of \(model.config.contextLength) tokens.")
        }
        let engine = InferenceEngine(model: model, threads: options.threadCount, maxChunk: min(512, promptIDs.count), maxContext: total)
        let session = try StreamSession(engine: engine, mode: .dense)
        let endOfGeneration = tokenizer.endOfGenerationIDs
        var sampler = GreedySampler()
        var decoder = StreamingDecoder(tokenizer: tokenizer)
        let generated = try Generator.generate(
            session: session, prompt: promptIDs, maxTokens: maxTokens, sampler: &sampler,
            stop: ignoreEOS ? [] : endOfGeneration, banned: ignoreEOS ? endOfGeneration : []
        ) { id in
            guard !ids, !endOfGeneration.contains(id) else { return }
            let piece = decoder.append(id)
            if !piece.isEmpty { FileHandle.standardOutput.write(Data(piece.utf8)) }
        }
        if ids {
            print("[" + generated.map(String.init).joined(separator: ",") + "]")
        } else {
            let rest = decoder.finish()
            FileHandle.standardOutput.write(Data((rest + "\n").utf8))
        }
    }
}
