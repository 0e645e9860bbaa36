/// The instructions the model is given (one user message per section or group of notes).
///
/// The text comes first and the instruction last: a small model given the instruction first
/// tends to continue the text instead of following the instruction.
public enum TaskPrompts {
    /// The note for one section of a document; the tuned form asks for the names the text uses
    /// (the plain form is the naive baseline's).
    public static func note(section: String, plain: Bool = true) -> String {
        section + "\n\nSummarize the text above in two or three sentences, in your own words."
            + (plain ? "" : " Say who does what, with the names the text uses.")
    }

    /// A note that merges consecutive notes (the next level of a hierarchical summary).
    public static func merge(notes: [String]) -> String {
        "Notes on consecutive parts of a document:\n\n" + notes.map { "- " + $0 }.joined(separator: "\n")
            + "\n\nCombine these notes into one short paragraph."
    }

    /// The final summary from the notes on the whole document.
    public static func summary(notes: [String], words: Int) -> String {
        "Notes on consecutive parts of a document, in order:\n\n" + notes.map { "- " + $0 }.joined(separator: "\n")
            + "\n\nWrite a summary of the whole document in about \(words) words, in full sentences, naming the main people and places."
    }

    /// The conversation that renders one section: the instruction as the system message, the
    /// section alone as the user's (a small model then translates the whole text and adds
    /// nothing); `plain` is the naive form, the text followed by the instruction in one message.
    public static func translation(section: String, language: String?, style: String?, plain: Bool) -> [ChatTemplate.Message] {
        if plain { return [.init(role: "user", content: translate(section: section, language: language, style: style))] }
        let task: String
        switch (language, style) {
        case let (language?, style?): task = "Translate the text the user gives you into \(language), written in \(style)."
        case let (language?, nil): task = "Translate the text the user gives you into \(language)."
        case let (nil, style?): task = "Rewrite the text the user gives you in \(style)."
        case (nil, nil): task = "Rewrite the text the user gives you."
        }
        return [.init(role: "system", content: "You are a careful translator. \(task) Render every sentence, in the same order, keeping the names; reply with the new text only, nothing else."),
                .init(role: "user", content: section)]
    }

    /// The other prompt for a retry: for a translation the plain form of the tuned one (or the
    /// tuned form of the plain one); for a note, summary or merge, a question in place of the
    /// instruction.
    public static func alternative(_ messages: [ChatTemplate.Message], kind: TaskKind) -> [ChatTemplate.Message] {
        guard var last = messages.last else { return messages }
        if kind == .translate {
            if let system = messages.first, system.role == "system" {
                let task = system.content.replacingOccurrences(of: "the text the user gives you", with: "the text above")
                    .replacingOccurrences(of: "You are a careful translator. ", with: "")
                last.content += "\n\n" + task
                return Array(messages.dropFirst().dropLast()) + [last]
            }
            return messages
        }
        for (from, to) in [
            ("Summarize the text above in two or three sentences, in your own words. Say who does what, with the names the text uses.",
             "What happens in this passage? Answer in two or three sentences and name the people."),
            ("Summarize the text above in two or three sentences, in your own words.",
             "What happens in this passage? Answer in two or three sentences and name the people."),
            ("Combine these notes into one short paragraph.", "Tell in one short paragraph what these notes say happens, naming the people."),
            ("Write a summary of the whole document", "Tell what happens in the whole document, naming the people,"),
        ] where last.content.contains(from) {
            last.content = last.content.replacingOccurrences(of: from, with: to)
        }
        return Array(messages.dropLast()) + [last]
    }

    /// Rendering one section in another language and/or style.
    public static func translate(section: String, language: String?, style: String?) -> String {
        let instruction: String
        switch (language, style) {
        case let (language?, style?): instruction = "Translate the text above into \(language), written in \(style)."
        case let (language?, nil): instruction = "Translate the text above into \(language)."
        case let (nil, style?): instruction = "Rewrite the text above in \(style)."
        case (nil, nil): instruction = "Rewrite the text above."
        }
        return section + "\n\n" + instruction + " Reply with the new text only."
    }
}
