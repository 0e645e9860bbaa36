import Kernels
import Pipeline
import Streaming

/// The long-document tasks.
public enum TaskKind: String, Codable, Sendable, CaseIterable {
    /// A note per section, then a summary of the notes (notes of notes when they do not fit).
    case summarize
    /// Each section translated or restyled, written out section by section.
    case translate
}

/// Size of the final summary.
public enum SummaryLength: String, Codable, Sendable, CaseIterable {
    case short, medium, long

    /// About how many words the summary asks for.
    public var words: Int {
        switch self {
        case .short: 70
        case .medium: 180
        case .long: 360
        }
    }
}

/// What each section's generation sees.
public enum TaskContext: String, Codable, Sendable, CaseIterable {
    /// A branch of the document stream: the sinks and the recent document tokens, then the
    /// section with the instruction; the branch is rewound afterwards, so no reply stays in
    /// the stream.
    case stream
    /// A fresh context per section, the section with the instruction only (the naive
    /// baseline: no streaming at all).
    case fresh
}

/// How a task's result is written.
public enum TaskOutputFormat: String, Codable, Sendable, CaseIterable {
    /// Summary: Markdown with the final summary and the section notes linked to byte ranges.
    /// Translation: the rendered sections separated by blank lines.
    case text
    /// One JSON object per section: source byte range, source text and output.
    case jsonl
}

/// Everything that determines a task run's results, stored with the run as JSON.
public struct TaskConfiguration: RunConfiguration, Equatable {
    public var kind: TaskKind
    public var precision: Precision
    public var sinks: Int
    public var window: Int
    /// Entries evicted at once when the window is full (1: token by token, exact StreamingLLM).
    public var evict: Int
    /// Tokens per forward pass while reading a prompt.
    public var chunk: Int
    /// The most document tokens of one section.
    public var sectionTokens: Int
    /// The most tokens generated for one section (a note or a translated section).
    public var maxTokens: Int
    /// Summaries: size of the final summary.
    public var length: SummaryLength
    /// Translations: the target language (nil: keep the language).
    public var language: String?
    /// Translations: a style to render the text in, e.g. "modern English".
    public var style: String?
    /// The chat format (nil: recognised from the model).
    public var template: ChatTemplate?
    public var sampling: SamplingConfiguration
    public var repetition: RepetitionGuard
    /// Keeps a reply from repeating the previous one (nil: off).
    public var copyGuard: CopyGuard?
    /// Keeps a reply from repeating itself: no n-gram twice within one reply (nil: off; runs
    /// stored before this option existed decode as off).
    public var noRepeat: CopyGuard?
    /// Checkpoint after this many stream tokens (0: only by time and at section ends).
    public var checkpointEveryTokens: Int
    /// Checkpoint after this many seconds (0: only by tokens).
    public var checkpointEverySeconds: Double
    public var replaceInvalid: Bool
    /// Where the result goes (absolute path), or nil for standard output at the end.
    public var outputPath: String?
    public var format: TaskOutputFormat
    /// Keep the final checkpoint's K/V blocks when the run completes (nil: no).
    public var keepCache: Bool?
    /// What each generation sees (nil: `stream`, the runs stored before `fresh` was the default).
    public var context: TaskContext?
    /// Translations: show the previous section and its translation to the next (nil: no).
    public var memo: Bool?
    /// The naive prompts (the text, then a plain instruction, in one message), for baselines.
    public var plain: Bool?

    public var keepsCache: Bool { keepCache ?? false }

    /// Creates a configuration with the defaults of the `summarize` and `translate` commands.
    public init(kind: TaskKind, precision: Precision = .fast, sinks: Int = 4, window: Int = 1020, evict: Int = 1,
                chunk: Int = 256, sectionTokens: Int? = nil, maxTokens: Int? = nil, length: SummaryLength = .medium,
                language: String? = nil, style: String? = nil, template: ChatTemplate? = nil,
                sampling: SamplingConfiguration = SamplingConfiguration(), repetition: RepetitionGuard = RepetitionGuard(), copyGuard: CopyGuard? = nil,
                noRepeat: CopyGuard? = nil, checkpointEveryTokens: Int = 4096, checkpointEverySeconds: Double = 30, replaceInvalid: Bool = false,
                outputPath: String? = nil, format: TaskOutputFormat = .text, keepCache: Bool = false,
                context: TaskContext = .fresh, memo: Bool = false, plainPrompts: Bool = false) {
        self.kind = kind
        self.precision = precision
        self.sinks = sinks
        self.window = window
        self.evict = evict
        self.chunk = chunk
        self.sectionTokens = sectionTokens ?? (kind == .summarize ? 640 : 200)
        self.maxTokens = maxTokens ?? (kind == .summarize ? 96 : 280)
        self.length = length
        self.language = language
        self.style = style
        self.template = template
        self.sampling = sampling
        self.repetition = repetition
        self.copyGuard = copyGuard
        self.noRepeat = noRepeat
        self.checkpointEveryTokens = checkpointEveryTokens
        self.checkpointEverySeconds = checkpointEverySeconds
        self.replaceInvalid = replaceInvalid
        self.outputPath = outputPath
        self.format = format
        self.keepCache = keepCache ? true : nil
        self.context = context
        self.memo = memo
        self.plain = plainPrompts ? true : nil
    }

    /// Whether the prompts are the naive ones.
    public var plainPrompts: Bool { plain ?? false }

    /// What each generation sees.
    public var generationContext: TaskContext { context ?? .stream }
    /// Whether a translated section is shown to the next one.
    public var carriesMemo: Bool { kind == .translate && (memo ?? false) }

    /// The attention mode of the run's single stream.
    public var mode: AttentionMode {
        evict <= 1 ? .sink(sinks: sinks, window: window) : .sinkBatch(sinks: sinks, window: window, evict: evict)
    }

    /// Tokens the instruction and chat markup of one section's prompt may take at most.
    public static let promptOverhead = 80

    /// Refuses budgets that cannot fit the rolling window: a section, its instruction and its
    /// output must be visible together.
    /// - Throws: ``TaskError`` naming the numbers.
    public func validate() throws {
        let visible = window + (sinks > 0 ? sinks : 0)
        if sectionTokens < 16 {
            throw TaskError(code: "task.config", message: "a section must be allowed at least 16 tokens (got --section-tokens \(sectionTokens)).")
        }
        if sectionTokens + maxTokens + Self.promptOverhead > window {
            throw TaskError(code: "task.config", message: "a section of \(sectionTokens) tokens, its instruction (up to \(Self.promptOverhead) tokens) and \(maxTokens) generated tokens do not fit the attention window of \(window) tokens (\(visible) with the sinks); lower --section-tokens or --max-tokens, or raise --window.")
        }
        if kind == .translate, language == nil, style == nil {
            throw TaskError(code: "task.config", message: "translate needs a target language (--to) or a style (--style).")
        }
        if sampling.temperature < 0 || sampling.topK < 0 || !(sampling.topP > 0 && sampling.topP <= 1) {
            throw TaskError(code: "task.config", message: "sampling needs --temperature ≥ 0, --top-k ≥ 0 and 0 < --top-p ≤ 1.")
        }
    }
}
