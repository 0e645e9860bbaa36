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
    /// A reply has been given: the next prompt starts by closing it.
    var turnOpen = false
    /// The tokens of the previous reply (the copy guard keeps the next one from repeating it).
    var previousReply: [Int32] = []
    /// Outputs written so far (the next output's sequence number).
    var outputs = 0
    /// Tokens whose K/V rows are already in the store.
    var kvWrittenUpTo = 0
    var counters = TaskCounters()
}
