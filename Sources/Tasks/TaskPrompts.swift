/// The instructions the model is given (one user message per section or group of notes).
///
/// The text comes first and the instruction last: a small model given the instruction first
/// tends to continue the text instead of following the instruction.
public enum TaskPrompts {
    /// The note for one section of a document.
    public static func note(section: String) -> String {
        section + "\n\nSummarize the text above in two or three sentences, in your own words."
    }

    /// A note that merges consecutive notes (the next level of a hierarchical summary).
    public static func merge(notes: [String]) -> String {
        "Notes on consecutive parts of a document:\n\n" + notes.map { "- " + $0 }.joined(separator: "\n")
            + "\n\nCombine these notes into one short paragraph."
    }

    /// The final summary from the notes on the whole document.
    public static func summary(notes: [String], words: Int) -> String {
        "Notes on consecutive parts of a document, in order:\n\n" + notes.map { "- " + $0 }.joined(separator: "\n")
            + "\n\nWrite a summary of the whole document in about \(words) words."
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
