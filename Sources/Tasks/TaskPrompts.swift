/// The instructions the model is given (one user message per section or group of notes).
public enum TaskPrompts {
    /// The note for one section of a document.
    public static func note(section: String) -> String {
        "Summarize the following passage in two or three sentences.\n\n" + section
    }

    /// A note that merges consecutive notes (the next level of a hierarchical summary).
    public static func merge(notes: [String]) -> String {
        "Here are notes on consecutive parts of a document. Combine them into one short paragraph.\n\n"
            + notes.map { "- " + $0 }.joined(separator: "\n")
    }

    /// The final summary from the notes on the whole document.
    public static func summary(notes: [String], words: Int) -> String {
        "Here are notes on consecutive parts of a document, in order. Write a summary of the whole document in about \(words) words.\n\n"
            + notes.map { "- " + $0 }.joined(separator: "\n")
    }

    /// Rendering one section in another language and/or style.
    public static func translate(section: String, language: String?, style: String?) -> String {
        let instruction: String
        switch (language, style) {
        case let (language?, style?): instruction = "Translate the following text into \(language), written in \(style)."
        case let (language?, nil): instruction = "Translate the following text into \(language)."
        case let (nil, style?): instruction = "Rewrite the following text in \(style)."
        case (nil, nil): instruction = "Rewrite the following text."
        }
        return instruction + " Reply with the new text only.\n\n" + section
    }
}
