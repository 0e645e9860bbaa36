import Foundation
import Pipeline
import Store
import Tokenization

/// Consecutive notes merged by one generation.
struct NoteGroup {
    var notes: [OutputChunk]
    var byteStart: Int64 { notes.first?.byteStart ?? 0 }
    var byteEnd: Int64 { notes.last?.byteEnd ?? 0 }
}

extension TaskRun {
    /// The output kind of notes at `level` (0: the notes on sections).
    static func noteKind(level: Int) -> String { level == 0 ? "note" : "note-\(level + 1)" }

    /// Sets up the next job (its prompt in `toFeed`). Returns false when the phase changed instead.
    func planNextJob() throws -> Bool {
        switch state.phase {
        case .sections:
            guard let section = try nextSection() else {
                if state.sections == 0 {
                    throw TaskError(code: "task.empty-document", message: "\(documentPath): the document is empty; there is nothing to \(config.kind.rawValue).")
                }
                state.phase = config.kind == .summarize ? .reduce : .done
                state.reduceLevel = 0
                state.reduceGroup = 0
                if state.phase == .reduce { try checkpoint(status: .running) }  // the notes must be in the store
                return false
            }
            state.sections += 1
            state.counters.sourceTokens += section.tokenIDs.count
            let text = model.tokenizer.decode(section.tokenIDs)
            let messages: [ChatTemplate.Message] = config.kind == .summarize
                ? [.init(role: "user", content: TaskPrompts.note(section: text, plain: config.plainPrompts))]
                : TaskPrompts.translation(section: text, language: config.language, style: config.style, plain: config.plainPrompts)
            // The section streams into the document stream after its branch is rewound.
            if config.generationContext == .stream { state.streamPending = section.tokenIDs }
            // A translation is about as long as its source: a cap keeps a small model that
            // does not stop from inventing a page after every short section.
            let limit = config.kind == .summarize ? config.maxTokens
                : min(config.maxTokens, Self.translationLimit(sourceTokens: section.tokenIDs.count))
            var example: [ChatTemplate.Message] = []
            if config.carriesMemo, let memo = state.memo {
                let prompt = TaskPrompts.translation(section: memo.source, language: config.language, style: config.style, plain: config.plainPrompts)
                example = prompt.filter { $0.role != "system" } + [.init(role: "assistant", content: memo.rendering)]
            }
            try begin(TaskJob(kind: config.kind == .summarize ? Self.noteKind(level: 0) : "section",
                              byteStart: section.byteStart, byteEnd: section.byteEnd, maxTokens: limit,
                              source: config.carriesMemo ? text : nil, sectionText: config.kind == .summarize ? text : nil),
                      messages: Array(messages.prefix { $0.role == "system" }) + example + messages.filter { $0.role != "system" })
            return true
        case .reduce:
            let groups = try noteGroups(level: state.reduceLevel)
            if groups.count <= 1 {
                let notes = groups.first?.notes ?? []
                let texts = notes.map { Self.oneLine($0.text) }
                let message = TaskPrompts.summary(notes: texts, words: config.length.words)
                let promptTokens = model.tokenizer.encode(message, parseSpecial: false).count + TaskConfiguration.promptOverhead
                let room = config.window - promptTokens
                let maxTokens = max(16, min(config.length.words * 17 / 10, room))
                try begin(TaskJob(kind: "summary", byteStart: 0, byteEnd: documentSize, maxTokens: maxTokens), message: message)
                state.phase = .done  // after this job
                return true
            }
            if state.reduceGroup >= groups.count {
                state.reduceLevel += 1
                state.reduceGroup = 0
                try checkpoint(status: .running)  // this level's notes must be in the store
                return false
            }
            let group = groups[state.reduceGroup]
            state.reduceGroup += 1
            let message = TaskPrompts.merge(notes: group.notes.map { Self.oneLine($0.text) })
            try begin(TaskJob(kind: Self.noteKind(level: state.reduceLevel + 1), byteStart: group.byteStart, byteEnd: group.byteEnd,
                              maxTokens: config.maxTokens), message: message)
            return true
        case .done:
            return false
        }
    }

    /// Starts a job in a branch of the stream (or, in a `fresh` run, from the empty stream):
    /// its prompt is a conversation of its own.
    private func begin(_ job: TaskJob, message: String) throws {
        try begin(job, messages: [.init(role: "user", content: message)])
    }

    private func begin(_ job: TaskJob, messages: [ChatTemplate.Message]) throws {
        state.fork = config.generationContext == .stream ? session.fork() : freshPoint
        if let fork = state.fork, fork.position == 0, session.position > 0 {
            try session.restore(position: 0, cacheState: fork.cacheState)
        }
        var job = job
        job.messages = messages
        state.job = job
        state.toFeed = try promptTokens(messages)
    }

    /// The tokens of a prompt conversation at the session's position.
    func promptTokens(_ messages: [ChatTemplate.Message]) throws -> [Int32] {
        var feed = try template.encode(messages, tokenizer: model.tokenizer)
        // A BOS belongs at the start of a stream only.
        if session.position > 0, let bos = model.tokenizer.bosID, feed.first == bos { feed.removeFirst() }
        return feed
    }

    /// How many sections the document has: a pass of the reader and the splitter over the whole
    /// document (tokenizing is fast next to generating), for progress displays.
    func countSections() throws -> Int {
        let reader = try DocumentReader(path: documentPath, tokenizer: model.tokenizer, replaceInvalid: config.replaceInvalid,
                                        blockSize: 1 << 16)
        var splitter = SectionSplitter(budget: config.sectionTokens)
        var count = 0
        while !reader.reachedEnd {
            for token in try reader.next()
            where splitter.append(id: token.id, byteOffset: token.byteOffset, bytes: model.tokenizer.tokenBytes(token.id)) != nil {
                count += 1
            }
        }
        if splitter.finish(documentEnd: reader.bytesRead) != nil { count += 1 }
        return count
    }

    /// The next section from the splitter, reading the document as needed; nil at the end.
    func nextSection() throws -> DocumentSection? {
        while true {
            var i = 0
            while i < state.readIDs.count {
                let id = state.readIDs[i], offset = state.readOffsets[i]
                i += 1
                if let section = state.splitter.append(id: id, byteOffset: offset, bytes: model.tokenizer.tokenBytes(id)) {
                    state.readIDs.removeFirst(i)
                    state.readOffsets.removeFirst(i)
                    return section
                }
            }
            state.readIDs.removeAll()
            state.readOffsets.removeAll()
            if reader.reachedEnd { return state.splitter.finish(documentEnd: reader.bytesRead) }
            for token in try reader.next() {
                state.readIDs.append(token.id)
                state.readOffsets.append(token.byteOffset)
            }
        }
    }

    /// The notes of `level` (all in the store by now) in groups that fit one prompt; at least
    /// two notes per group so that every level has fewer notes than the one before.
    func noteGroups(level: Int) throws -> [NoteGroup] {
        if let cached = groupsCache, cached.level == level { return cached.groups }
        let kind = Self.noteKind(level: level)
        let notes = try store.outputs(runID: runID).filter { $0.kind == kind }
        var groups: [NoteGroup] = []
        var current = NoteGroup(notes: [])
        var tokens = 0
        for note in notes {
            let n = model.tokenizer.encode("- " + Self.oneLine(note.text) + "\n", parseSpecial: false).count
            if current.notes.count >= 2 && tokens + n > config.sectionTokens {
                groups.append(current)
                current = NoteGroup(notes: [])
                tokens = 0
            }
            current.notes.append(note)
            tokens += n
        }
        if !current.notes.isEmpty { groups.append(current) }
        groupsCache = (level, groups)
        return groups
    }

    static func oneLine(_ text: String) -> String {
        text.split(whereSeparator: { $0.isNewline }).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.joined(separator: " ")
    }

    /// The most tokens a translated section of `sourceTokens` tokens may generate (before
    /// `--max-tokens`): one and a half times the source, plus 16.
    static func translationLimit(sourceTokens: Int) -> Int { sourceTokens * 3 / 2 + 16 }
}
