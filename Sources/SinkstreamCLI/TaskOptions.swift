import ArgumentParser
import Foundation
import Kernels
import Tasks

extension ChatTemplate: ExpressibleByArgument {}
extension TaskContext: ExpressibleByArgument {}
extension SummaryLength: ExpressibleByArgument {}

/// Options shared by `summarize` and `translate`: the inputs, where results go, the task
/// settings, attention, checkpoints.
struct TaskOptions: ParsableArguments {
    @Argument(help: ArgumentHelp("The UTF-8 text files to process ('-' reads standard input, spooled next to the run database so the run stays resumable).", valueName: "file"))
    var files: [String]

    @Option(help: ArgumentHelp("Write the result to this file (one input only). Without it the result goes to standard output when the run completes.", valueName: "path"))
    var output: String?

    @Option(help: ArgumentHelp("Write each input's result into this directory (any number of inputs).", valueName: "dir"))
    var outputDir: String?

    @OptionGroup var settings: TaskSettings

    @OptionGroup(title: "Attention") var attention: AttentionOptions

    @Option(help: "Checkpoint after this many processed tokens (0: only by time and at section ends).")
    var checkpointEvery: Int = TaskSettings.defaultCheckpointEvery

    @Option(help: "Checkpoint after this many seconds (0: only by tokens).")
    var checkpointSeconds: Double = 30

    @Flag(help: "Keep the K/V blocks of the final checkpoint when the run completes (by default they are dropped).")
    var keepCache = false

    @Flag(help: "Read ill-formed UTF-8 as U+FFFD instead of refusing the document.")
    var replaceInvalid = false

    var allowBase: Bool { settings.allowBase }

    func validate() throws {
        if files.isEmpty { throw ValidationError("Please name at least one input file ('-' for standard input).") }
        if output != nil && outputDir != nil { throw ValidationError("Please give either --output or --output-dir, not both.") }
        if output != nil && files.count > 1 { throw ValidationError("--output takes one input; with \(files.count) inputs use --output-dir.") }
        if files.filter({ $0 == "-" }).count > 1 { throw ValidationError("Standard input ('-') can be read only once.") }
        for warning in try attention.check(for: [.sink]) { printError("warning: \(warning)") }
        if checkpointEvery < 0 || checkpointSeconds < 0 { throw ValidationError("Please give checkpoint intervals of 0 or more.") }
    }

    /// The configuration for one input (`outputPath` already resolved).
    func configuration(kind: TaskKind, precision: Precision, outputPath: String?, length: SummaryLength = .medium,
                       language: String? = nil, style: String? = nil) -> TaskConfiguration {
        settings.configuration(kind: kind, precision: precision, attention: attention, checkpointEvery: checkpointEvery,
                               checkpointSeconds: checkpointSeconds, keepCache: keepCache, replaceInvalid: replaceInvalid,
                               outputPath: outputPath, length: length, language: language, style: style)
    }

    /// Where an input's result goes: --output, a file in --output-dir, or nil (standard output).
    func outputPath(for input: String, kind: TaskKind) -> String? {
        if let output { return URL(fileURLWithPath: output).standardizedFileURL.path }
        guard let outputDir else { return nil }
        let base = input == "-" ? "stdin" : ((input as NSString).lastPathComponent as NSString).deletingPathExtension
        let jsonl = settings.jsonl
        let suffix = kind == .summarize ? (jsonl ? ".summary.jsonl" : ".summary.md") : (jsonl ? ".translated.jsonl" : ".translated.txt")
        return URL(fileURLWithPath: outputDir).appendingPathComponent(base + suffix).standardizedFileURL.path
    }
}

/// What a task run does, apart from attention and checkpoints: sections, generation, sampling,
/// prompts, format — shared by `summarize`, `translate` and `submit --task`.
struct TaskSettings: ParsableArguments {
    static let defaultCheckpointEvery = 4096

    @Flag(help: "Write JSON lines (source byte range, source text, output) instead of text/Markdown.")
    var jsonl = false

    @Option(help: "The most document tokens per section (default: 640 for summaries, 200 for translations).")
    var sectionTokens: Int?

    @Option(help: "The most tokens generated per section (default: 96 per note, 280 per translated section; a translated section also stops at 1.5 × its source tokens + 16).")
    var maxTokens: Int?

    @Option(help: "Sampling temperature (0: greedy, the default).")
    var temperature: Double = 0

    @Option(help: "Sample only among the k most likely tokens (0: all).")
    var topK: Int = 0

    @Option(help: "Sample only among the most likely tokens whose probability reaches p (1: all).")
    var topP: Double = 1

    @Option(help: "Seed of the sampling generator (its state is checkpointed, so resumed runs sample the same tokens).")
    var seed: UInt64 = 0

    @Option(help: ArgumentHelp("Ban tokens that would repeat an N-token run of the previous reply (a small model tends to copy its last answer, which stays in the window); 0: off.", valueName: "N"))
    var copyGuard: Int = 0

    @Option(help: ArgumentHelp("Ban tokens that would repeat an N-token run already in the same reply, against near-loops that the loop guard's exact repeats miss; 0: off. (With the default 135M model, 8 turned a summary into word salad, so it is off by default.)", valueName: "N"))
    var noRepeat: Int = 0

    @Option(help: "The chat format (default: recognised from the model): chatml, llama2, llama3, mistral.")
    var template: ChatTemplate?

    @Option(help: ArgumentHelp("What each section's generation sees: fresh (the instruction and the section alone, each in a fresh context; the default, which measured best with the catalog's small models) or stream (a branch of the document stream: the attention sinks and the recent document before the instruction and the section; the branch is dropped afterwards, so no reply stays in the stream).", valueName: "fresh|stream"))
    var context: TaskContext = .fresh

    @Flag(help: "Use the naive prompts (the section, then a plain instruction, in one message) instead of the tuned ones; with the default fresh context this is the naive baseline.")
    var plainPrompts = false

    @Flag(help: "Translations: show each section the previous section and its translation as an example (it measured worse with the catalog's small models, which copy the example's opening).")
    var memo = false

    @Flag(help: "Run the task on a base (not instruction-tuned) model, which continues text rather than following the instruction; refused without this flag.")
    var allowBase = false

    func validate() throws {
        if let maxTokens, maxTokens < 1 { throw ValidationError("Please give --max-tokens a positive value.") }
        if copyGuard < 0 { throw ValidationError("Please give --copy-guard a value of 0 or more.") }
        if noRepeat < 0 { throw ValidationError("Please give --no-repeat a value of 0 or more.") }
    }

    /// The stored configuration of a task run with these settings.
    func configuration(kind: TaskKind, precision: Precision, attention: AttentionOptions, checkpointEvery: Int,
                       checkpointSeconds: Double, keepCache: Bool, replaceInvalid: Bool, outputPath: String?,
                       length: SummaryLength, language: String?, style: String?) -> TaskConfiguration {
        TaskConfiguration(
            kind: kind, precision: precision, sinks: attention.sinkCount, window: attention.windowTokens,
            evict: attention.eviction(for: .generation).entries, chunk: attention.chunkTokens,
            sectionTokens: sectionTokens, maxTokens: maxTokens, length: length, language: language, style: style,
            template: template, sampling: SamplingConfiguration(temperature: temperature, topK: topK, topP: topP, seed: seed),
            copyGuard: copyGuard > 0 ? CopyGuard(n: copyGuard) : nil, noRepeat: noRepeat > 0 ? CopyGuard(n: noRepeat) : nil,
            checkpointEveryTokens: checkpointEvery, checkpointEverySeconds: checkpointSeconds, replaceInvalid: replaceInvalid,
            outputPath: outputPath, format: jsonl ? .jsonl : .text, keepCache: keepCache, context: context, memo: memo, plainPrompts: plainPrompts)
    }
}

/// The size of a summary (`summarize`, `submit --task summarize`).
struct SummaryOptions: ParsableArguments {
    @Option(help: "Size of the final summary: short, medium or long.")
    var length: SummaryLength = .medium
}

/// What a translation renders to (`translate`, `submit --task translate`).
struct TranslationOptions: ParsableArguments {
    @Option(name: .customLong("to"), help: ArgumentHelp("The target language.", valueName: "language"))
    var language: String?

    @Option(help: "A style to write in, e.g. \"modern English\" (with or without --to).")
    var style: String?

    /// A translation needs a language, a style or both (checked by the commands that translate).
    func check() throws {
        if language == nil && style == nil { throw ValidationError("Please give a target language with --to, a --style, or both.") }
    }
}
