import Foundation

/// What is wrong with a generated reply, so that a bad one is retried once and otherwise
/// reported instead of written silently: an empty reply, a loop the repetition guard cut, a
/// copy of an earlier reply, instruction text leaked into the reply, or (translations) a reply
/// that is not in the target language.
public enum ReplyCheck {
    /// Phrases of Sinkstream's own instructions; a reply that contains one repeats the prompt.
    static let instructionPhrases = [
        "summarize the text above", "in your own words", "combine these notes", "write a summary of the whole document",
        "notes on consecutive parts", "translate the text above", "rewrite the text above", "reply with the new text only",
        "the text the user gives you", "you are a careful translator", "render every sentence",
        "what happens in this passage", "name the people", "say who does what", "with the names the text uses",
    ]

    /// Frequent short words of some languages (a reply in the target language has more of its
    /// own than of English's).
    static let functionWords: [String: Set<String>] = [
        "english": Set("the and of to in that is was he she it his her for with as on be at by this not but from they which or".split(separator: " ").map(String.init)),
        "spanish": Set("el la los las de del y en que a al se no su sus por con para es fue una un lo le les como mas pero".split(separator: " ").map(String.init)),
        "french": Set("le la les de des du et en que à au se ne pas son sa ses par pour est fut une un qui il elle dans".split(separator: " ").map(String.init)),
        "german": Set("der die das den dem des und in zu ist war er sie es nicht mit von auf für ein eine als".split(separator: " ").map(String.init)),
        "italian": Set("il lo la i gli le di del della e in che a al si non suo sua per con è fu una un come ma".split(separator: " ").map(String.init)),
        "portuguese": Set("o a os as de do da e em que no na se não seu sua por com para é foi uma um como mas".split(separator: " ").map(String.init)),
    ]

    /// The problems of `reply`, in words (empty: none).
    /// - Parameters:
    ///   - earlier: earlier replies of the same kind in this run.
    ///   - loopCut: the repetition guard stopped the reply in a loop.
    ///   - language: translations: the target language (nil: a style rewrite in the same language).
    ///   - source: notes: the section's text (a note that copies it out is no note).
    public static func problems(_ reply: String, earlier: [String], loopCut: Bool, language: String?, source: String? = nil) -> [String] {
        var out: [String] = []
        let words = reply.split(whereSeparator: { $0.isWhitespace })
        if words.count < 2 { return ["empty reply"] }
        if loopCut { out.append("a loop (repeated text was cut)") }
        let grams = Self.grams(reply)
        if !grams.isEmpty, let i = earlier.lastIndex(where: { g in
            let other = Self.grams(g)
            return !other.isEmpty && Double(grams.intersection(other).count) / Double(grams.union(other).count) >= 0.5
        }) {
            out.append("a copy of an earlier reply (#\(i + 1))")
        }
        if let source {
            let from = Self.grams(source)
            if !grams.isEmpty, Double(grams.intersection(from).count) / Double(grams.count) >= 0.5 {
                out.append("the section's text copied out instead of a note")
            }
        }
        let sentences = reply.split(whereSeparator: { ".!?".contains($0) })
            .map { $0.trimmingCharacters(in: .whitespacesAndNewlines).lowercased() }.filter { $0.split(separator: " ").count >= 4 }
        if Set(sentences).count < sentences.count { out.append("a sentence repeated") }
        let lower = reply.lowercased()
        if let phrase = instructionPhrases.first(where: { lower.contains($0) }) {
            out.append("instruction text leaked into the reply (\"\(phrase)\")")
        }
        if let language, let target = functionWords[language.lowercased()], language.lowercased() != "english",
           let english = functionWords["english"] {
            let tokens = lower.split(whereSeparator: { !$0.isLetter }).map(String.init)
            let t = tokens.filter { target.contains($0) && !english.contains($0) }.count
            let e = tokens.filter { english.contains($0) && !target.contains($0) }.count
            if e >= 5, e > t { out.append("not in \(language) (\(e) English function words, \(t) \(language))") }
        }
        return out
    }

    /// Word 4-grams, lowercased.
    static func grams(_ text: String) -> Set<[Substring]> {
        let w = text.lowercased().split(whereSeparator: { !($0.isLetter || $0.isNumber) })
        guard w.count >= 4 else { return [] }
        return Set((0...(w.count - 4)).map { Array(w[$0..<($0 + 4)]) })
    }

    /// `text` up to its last sentence end, when it stopped at the token limit mid-sentence
    /// (unchanged when it has no sentence end, or ends in one).
    public static func trimmedToSentence(_ text: String) -> String {
        let t = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let last = t.last, !".!?\"')”’".contains(last) else { return t }
        guard let end = t.lastIndex(where: { ".!?".contains($0) }) else { return t }
        return String(t[...end])
    }
}
