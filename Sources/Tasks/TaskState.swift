import Streaming

/// Where a task run stands in its work.
enum TaskPhase: String, Codable {
    /// Reading sections and writing a note or a rendering per section.
    case sections
    /// Summaries: merging notes level by level, then the final summary.
    case reduce
    /// Everything is written.
    case done
}

/// One generation in progress: a section's note or rendering, a merged note, or the summary.
struct TaskJob: Codable {
    /// The output kind (`note`, `note-2`, `section`, `summary`, …).
    var kind: String
    var byteStart: Int64
    var byteEnd: Int64
    /// The most tokens to generate.
    var maxTokens: Int
    /// Tokens chosen so far (the last one is fed to the model at the next step).
    var generated: [Int32] = []
    /// Translations: the section's text (for the memo the next section sees).
    var source: String?
    /// Notes: the section's text (a note must not copy it out).
    var sectionText: String?
    /// The prompt conversation (for a retry with the other prompt).
    var messages: [ChatTemplate.Message]?
    /// 1 for the retry of a reply that failed its checks (nil: the first attempt).
    var attempt: Int?
    /// What was wrong with the first attempt, for the report.
    var firstProblems: [String]?
    /// The repetition guard cut a loop off this reply.
    var loopCut: Bool?
}

/// Throughput counters, kept across pauses.
public struct TaskCounters: Codable, Sendable, Equatable {
    /// Document tokens read into prompts.
    public var sourceTokens = 0
    /// Every prompt token fed (document, instructions, chat markup, notes).
    public var promptTokens = 0
    /// Tokens generated.
    public var generatedTokens = 0
    /// Seconds spent reading prompts (including choosing each job's first token).
    public var promptSeconds = 0.0
    /// Seconds spent generating the following tokens.
    public var generateSeconds = 0.0
}

/// What a task run carries from one checkpoint to the next (stored as the task state).
struct TaskState: Codable {
    var splitter: SectionSplitter
    /// Tokens read from the document but not yet given to the splitter.
    var readIDs: [Int32] = []
    var readOffsets: [Int64] = []
    var phase = TaskPhase.sections
    /// Sections given out so far.
    var sections = 0
    /// Reduce phase: the note level being merged and the next group of it.
    var reduceLevel = 0
    var reduceGroup = 0
    var job: TaskJob?
    /// Tokens to feed at the next step (a prompt, or the token chosen last).
    var toFeed: [Int32] = []
    /// A reply has been given: the next prompt starts by closing it (runs stored before
    /// branches; a branch's prompt is a conversation of its own).
    var turnOpen = false
    /// The point of the stream the job in progress branched from; the branch (prompt and
    /// reply) is rewound when the job finishes (nil: not in a branch).
    var fork: StreamFork?
    /// The section's document tokens, streamed into the main stream once its branch is rewound.
    var streamPending: [Int32]?
    /// The previous section's source text and rendering, shown to the next translation as an
    /// example (a bounded memo: one exchange).
    var memo: TranslationMemo?
    /// The tokens of the previous reply (the copy guard keeps the next one from repeating it).
    var previousReply: [Int32] = []
    /// Outputs written so far (the next output's sequence number).
    var outputs = 0
    /// Tokens whose K/V rows are already in the store.
    var kvWrittenUpTo = 0
    var counters = TaskCounters()
}

/// The last source section and its translation, carried to the next section's branch.
struct TranslationMemo: Codable {
    var source: String
    var rendering: String
}
