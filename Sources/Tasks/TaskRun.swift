#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Model
import Pipeline
import Store
import Streaming
import Tokenization

/// Live figures of a running task, for progress displays.
public struct TaskProgress: Sendable {
    /// Sections given out so far (the current one included).
    public var sections: Int
    /// Sections the document has.
    public var sectionsTotal: Int?
    /// Document bytes handed to sections so far.
    public var bytesDone: Int64
    public var documentSize: Int64
    /// `sections`, `reduce` or `done`.
    public var phase: String
    /// Tokens generated for the current output.
    public var generating: Int
    public var counters: TaskCounters
}

/// A long-document task (summarize or translate) over one document, persisted in a ``RunStore``.
///
/// The whole run is one token stream through a ``StreamSession`` under sink attention: for each
/// section a chat turn (instruction + section) is read and the model's reply generated; the
/// next turn follows in the same stream, so the previous turn stays in the rolling window.
/// Checkpoints hold the reader's position and tokenizer state, the splitter, the job in
/// progress (tokens generated so far), the sampler's generator, the cache bookkeeping, the K/V
/// rows of tokens that became live, and the outputs completed since the previous one — in one
/// transaction. ``resume(runID:store:model:modelSHA256:threads:)`` continues bit-identically,
/// also in the middle of a generation.
public final class TaskRun {
    public let model: LanguageModel
    public let config: TaskConfiguration
    public var runID: String { lifecycle.runID }
    public var store: any RunStoring { lifecycle.store }
    /// The document this run reads: the run's stored path, or the local copy it was resumed
    /// with (a worker's copy fetched from the database).
    public var documentPath: String { lifecycle.documentPath }
    /// The document's path when the run was registered (its name in the rendered result).
    public var registeredDocumentPath: String { lifecycle.record.documentPath }
    /// The document's size when the run was registered.
    public var documentSize: Int64 { lifecycle.record.documentSize }
    let reader: DocumentReader
    let session: StreamSession
    let lifecycle: RunLifecycle
    let template: ChatTemplate
    let endOfTurn: [Int32]
    /// The empty stream (where every job of a `fresh` run starts).
    let freshPoint: StreamFork
    var state: TaskState
    var sampler: TaskSampler
    var unsavedOutputs: [OutputChunk] = []
    var groupsCache: (level: Int, groups: [NoteGroup])?

    /// Registers a new run of `config.kind` over a document without working on it yet (a batch
    /// registers all its files first, so `resume --batch` finds every one).
    /// - Returns: the run id; ``resume(runID:store:model:modelSHA256:threads:)`` starts it.
    /// - Throws: ``DocumentError`` when the document cannot be read, ``TaskError`` for a bad
    ///   configuration or template, `StoreError`.
    public static func register(documentPath: String, model: LanguageModel, modelSHA256: String, config: TaskConfiguration,
                                store: any RunStoring, batchID: String? = nil) throws -> String {
        try store.createRun(describe(documentPath: documentPath, model: model, modelSHA256: modelSHA256, config: config,
                                     batchID: batchID)).id
    }

    /// The row ``register(documentPath:model:modelSHA256:config:store:batchID:)`` stores, after
    /// the same checks, for a store that registers it some other way (`submit` queues it in
    /// PostgreSQL with its document).
    /// - Throws: ``DocumentError``, ``TaskError`` for a bad configuration or template.
    public static func describe(documentPath: String, model: LanguageModel, modelSHA256: String, config: TaskConfiguration,
                                batchID: String? = nil) throws -> NewRun {
        try config.validate()
        _ = try Self.template(config: config, model: model)
        return try RunLifecycle.describe(
            task: config.kind == .summarize ? .summarize : .translate, documentPath: documentPath, tokenizer: model.tokenizer,
            model: model, modelSHA256: modelSHA256, config: config, replaceInvalid: config.replaceInvalid,
            mode: config.mode.description, batchID: batchID)
    }

    /// Starts a new run of `config.kind` over a document.
    /// - Throws: ``DocumentError``, ``TaskError``, `StoreError` before anything is generated.
    public static func start(documentPath: String, model: LanguageModel, modelSHA256: String, config: TaskConfiguration,
                             store: any RunStoring, threads: Int, batchID: String? = nil) throws -> TaskRun {
        let id = try register(documentPath: documentPath, model: model, modelSHA256: modelSHA256, config: config, store: store, batchID: batchID)
        return try open(runID: id, store: store, model: model, modelSHA256: modelSHA256, threads: threads, justRegistered: true)
    }

    /// Continues a paused, interrupted or failed task run from its latest checkpoint (or
    /// starts a registered one).
    /// - Throws: `RunError` if the run is completed, not a task run, its document or model
    ///   changed, or its checkpoint is damaged; `StoreError.runLocked` if another process holds it.
    /// `localDocument`: a copy of the run's document to read instead of its stored path (a
    /// worker's copy fetched from the database); it must have the run's SHA-256.
    public static func resume(runID: String, store: any RunStoring, model: LanguageModel, modelSHA256: String, threads: Int,
                              localDocument: String? = nil) throws -> TaskRun {
        try open(runID: runID, store: store, model: model, modelSHA256: modelSHA256, threads: threads, justRegistered: false,
                 localDocument: localDocument)
    }

    private static func open(runID: String, store: any RunStoring, model: LanguageModel, modelSHA256: String, threads: Int,
                             justRegistered: Bool, localDocument: String? = nil) throws -> TaskRun {
        let (lifecycle, config, checkpoint) = try RunLifecycle.open(
            runID: runID, tasks: [.summarize, .translate], as: TaskConfiguration.self, store: store, model: model,
            modelSHA256: modelSHA256, justRegistered: justRegistered, localDocument: localDocument)
        let template = try Self.template(config: config, model: model)
        var state = TaskState(splitter: SectionSplitter(budget: config.sectionTokens))
        var generator: Xoshiro256?
        if let checkpoint {
            state = try lifecycle.decode(TaskState.self, from: checkpoint.taskState, what: "task state")
            if let rng = checkpoint.rngState {
                do { generator = try Xoshiro256(data: rng) } catch {
                    throw RunError.damaged(runID, "its checkpoint's generator state cannot be read (\(error))")
                }
            }
        }
        let reader = try DocumentReader(path: lifecycle.documentPath, tokenizer: model.tokenizer,
                                        replaceInvalid: config.replaceInvalid, restoring: checkpoint?.tokenizerState, blockSize: 1 << 14)
        let run = try TaskRun(lifecycle: lifecycle, model: model, config: config, reader: reader, threads: threads,
                              template: template, state: state, generator: generator)
        if let checkpoint {
            try lifecycle.restore(run.session, from: checkpoint, position: state.kvWrittenUpTo,
                                  fork: state.fork.flatMap { $0.position > 0 ? $0 : nil })
        }
        try run.rewriteOutputFile()
        return run
    }

    private init(lifecycle: RunLifecycle, model: LanguageModel, config: TaskConfiguration, reader: DocumentReader,
                 threads: Int, template: ChatTemplate, state: TaskState, generator: Xoshiro256?) throws {
        self.lifecycle = lifecycle
        self.model = model
        self.config = config
        self.reader = reader
        self.template = template
        self.state = state
        self.sampler = TaskSampler(config.sampling, generator: generator)
        endOfTurn = try template.endOfTurn(tokenizer: model.tokenizer)
        let engine = InferenceEngine(model: model, threads: threads, maxChunk: config.chunk,
                                     maxContext: config.mode.maxVisible(contextLength: model.config.contextLength))
        // A branch holds a prompt and its reply, which the configuration fits in the window.
        let session = try StreamSession(engine: engine, mode: config.mode,
                                        branchCapacity: config.generationContext == .stream ? config.window + config.sinks : 0)
        self.session = session
        freshPoint = session.fork()
    }

    static func template(config: TaskConfiguration, model: LanguageModel) throws -> ChatTemplate {
        if let t = config.template { return t }
        guard let t = ChatTemplate.forModel(chatTemplate: model.chatTemplate, tokenizer: model.tokenizer) else {
            throw TaskError(code: "task.template", message: "\(model.path): the model has no chat template Sinkstream recognises; name one with --template (chatml, llama2, llama3, mistral).")
        }
        return t
    }

    /// Throughput counters so far (kept across pauses).
    public var counters: TaskCounters { state.counters }
    /// Sections given out so far.
    public var sectionCount: Int { state.sections }

    /// Works until the task is complete, or until `shouldStop` returns true (then a final
    /// checkpoint is written and the run is marked paused). The run's lock is released when
    /// this returns.
    public func run(shouldStop: () -> Bool = { false }, progress: (TaskProgress) -> Void = { _ in }) throws -> RunOutcome {
        // The lifecycle adds "the hold was taken away" to the stop condition; the paused
        // checkpoint it then tries is refused before anything is written.
        try lifecycle.perform(shouldStop: shouldStop) { stop in try loop(shouldStop: stop, progress: progress) }
    }

    private func loop(shouldStop: () -> Bool, progress: (TaskProgress) -> Void) throws -> RunOutcome {
        lifecycle.startInterval(at: processedTokens)
        let sectionsTotal = state.phase == .sections ? try countSections() : state.sections
        while state.phase != .done || state.job != nil {
            if shouldStop() {
                try checkpoint(status: .paused)
                return .paused
            }
            if state.job == nil {
                guard try planNextJob() else { continue }
            }
            try step()
            progress(TaskProgress(sections: state.sections, sectionsTotal: sectionsTotal, bytesDone: state.job?.byteEnd ?? documentSize, documentSize: documentSize,
                                  phase: state.phase.rawValue, generating: state.job?.generated.count ?? 0, counters: state.counters))
            if lifecycle.checkpointDue(at: processedTokens) { try checkpoint(status: .running) }
        }
        try checkpoint(status: .running)
        try writeFinalOutput()
        try lifecycle.complete()
        return .completed
    }

    /// Feeds the pending tokens, chooses the next one, and finishes the job when it stops.
    private func step() throws {
        guard var job = state.job else { return }
        let isPrompt = job.generated.isEmpty
        let started = Date()
        let logits = try session.process(state.toFeed, logits: true).logits
        if isPrompt { state.counters.promptTokens += state.toFeed.count }
        var banned = config.copyGuard?.banned(generated: job.generated, previous: state.previousReply) ?? []
        if let noRepeat = config.noRepeat { banned.formUnion(noRepeat.banned(generated: job.generated, previous: job.generated)) }
        let id = sampler.next(logits: logits, banned: banned)
        let seconds = Date().timeIntervalSince(started)
        if isPrompt { state.counters.promptSeconds += seconds } else { state.counters.generateSeconds += seconds }
        var stop = false
        if model.tokenizer.isControl(id) {
            stop = true
        } else {
            job.generated.append(id)
            state.counters.generatedTokens += 1
            if let loop = config.repetition.loopLength(job.generated) {
                job.generated.removeLast(loop)
                job.loopCut = true
                stop = true
            } else if job.generated.count >= job.maxTokens {
                stop = true
            }
        }
        state.toFeed = stop ? [] : [id]
        state.job = job
        if stop { try finish(job) }
    }

    /// Drops the branch the job ran in (the stream continues from its fork point).
    private func rewindBranch(keepingFork: Bool) throws {
        guard let fork = state.fork else { return }
        if fork.position == 0 {
            try session.restore(position: 0, cacheState: fork.cacheState)
        } else {
            try session.rewind(to: fork)
        }
        state.kvWrittenUpTo = min(state.kvWrittenUpTo, fork.position)
        if !keepingFork { state.fork = nil }
    }

    /// Tokens fed and generated so far (the checkpoint interval counts these: the stream's
    /// position goes back when a branch is rewound).
    var processedTokens: Int { state.counters.promptTokens + state.counters.generatedTokens }

    /// Checks the reply (retrying once with the other prompt when it fails), stores it (with a
    /// warning output when it still fails), rewinds its branch and streams the section's
    /// document tokens; a translated section is checkpointed and appended to the output file at once.
    private func finish(_ job: TaskJob) throws {
        var text = model.tokenizer.decode(job.generated).trimmingCharacters(in: .whitespacesAndNewlines)
        if job.generated.count >= job.maxTokens || job.kind == "summary" { text = ReplyCheck.trimmedToSentence(text) }
        let earlier = (try store.outputs(runID: runID) + unsavedOutputs).filter { $0.kind == job.kind }.map(\.text)
        let problems = ReplyCheck.problems(text, earlier: earlier, loopCut: job.loopCut ?? false,
                                           language: config.kind == .translate ? config.language : nil,
                                           source: job.kind == "note" ? job.sectionText : nil)
        // The naive prompts are the baseline: one attempt, as it came.
        if !problems.isEmpty, job.attempt == nil, !config.plainPrompts, let messages = job.messages {
            // Once more from the same branch point, with the other prompt.
            try rewindBranch(keepingFork: true)
            var retry = job
            retry.generated = []
            retry.attempt = 1
            retry.firstProblems = problems
            retry.loopCut = nil
            retry.messages = TaskPrompts.alternative(messages, kind: config.kind)
            state.job = retry
            state.toFeed = try promptTokens(retry.messages ?? messages)
            return
        }
        var stored = text
        if job.kind == "summary", !config.plainPrompts {
            // The final summary ends with the names its notes use (read from the store, not generated).
            let notes = (try store.outputs(runID: runID) + unsavedOutputs).filter { $0.kind == "note" }.map(\.text)
            let names = NameList.names(notes: notes, documentPath: documentPath)
            if !names.isEmpty { stored += "\n\nNames in the notes: " + names.joined(separator: ", ") + "." }
        }
        let output = OutputChunk(sequence: Int64(state.outputs), kind: job.kind, byteStart: job.byteStart, byteEnd: job.byteEnd, text: stored)
        state.outputs += 1
        unsavedOutputs.append(output)
        if !problems.isEmpty || job.firstProblems != nil {
            var report = "\(job.kind), bytes \(job.byteStart)–\(job.byteEnd): "
            if let first = job.firstProblems {
                report += "first reply: \(first.joined(separator: "; ")); retried with another prompt: "
                    + (problems.isEmpty ? "passed" : problems.joined(separator: "; ") + " (written anyway)")
            } else {
                report += problems.joined(separator: "; ") + " (written anyway)"
            }
            unsavedOutputs.append(OutputChunk(sequence: Int64(state.outputs), kind: "warning", byteStart: job.byteStart,
                                              byteEnd: job.byteEnd, text: report))
            state.outputs += 1
        }
        state.job = nil
        state.previousReply = job.generated
        try rewindBranch(keepingFork: false)
        if let pending = state.streamPending {
            let started = Date()
            _ = try session.process(pending)
            state.counters.promptTokens += pending.count
            state.counters.promptSeconds += Date().timeIntervalSince(started)
            state.streamPending = nil
        }
        if config.carriesMemo, let source = job.source {
            state.memo = TranslationMemo(source: source, rendering: text)
        }
        if config.kind == .translate {
            try checkpoint(status: .running)
            try appendToOutputFile(output)
        }
    }
}
