import Foundation

/// The names a summary's notes use, for the line that ends the final summary ("Names in the
/// notes: …"), so that a reader of a short summary still finds who and where: capitalised words
/// of the notes that the document itself uses at least `minimumCount` times, most-mentioned
/// first. Deterministic (no generation), so it never invents a name.
public enum NameList {
    /// Capitalised words that are not names in English text (sentence openings, pronouns, titles).
    static let common: Set<String> = Set("""
        The And But For Nor Yet Then When While Where Which What Who Whom Whose Why How That This These Those There Here \
        Thus Now Not Nay Yea Yes All Any Each Every Some Such One Two Three First Last After Before Upon With Within Without \
        From Into Unto Onto Over Under Till Until Since Though Although Because Whether Let Shall Will Would Could Should Must \
        May Might Can Our Your Their His Her Its Thy Thine Thee Thou They Them She Him You Are Was Were Has Had Have Did Does \
        Chapter Book Part Act Scene Enter Exit Exeunt Text Passage Summary Notes Note Section Sections Story Poem Document \
        Sir Lady Lord Mr Mrs Miss Esq King Queen Prince God Also Both Even Only Still Very Much Many More Most Out Off Just \
        Being Having Meanwhile However Finally Later Soon Once Again Overall Together
        """.split(whereSeparator: { $0.isWhitespace }).map(String.init))

    /// The names, at most `limit`.
    public static func names(notes: [String], documentPath: String, minimumCount: Int = 3, limit: Int = 20) -> [String] {
        guard let data = FileManager.default.contents(atPath: documentPath) else { return [] }
        let source = String(decoding: data, as: UTF8.self)
        let inSource = counts(source)
        var mentions: [String: Int] = [:]
        for note in notes {
            for word in Set(counts(note).keys) where (inSource[word] ?? 0) >= minimumCount { mentions[word, default: 0] += 1 }
        }
        return mentions.sorted { ($0.value, inSource[$0.key] ?? 0, $1.key) > ($1.value, inSource[$1.key] ?? 0, $0.key) }
            .prefix(limit).map(\.key)
    }

    /// Capitalised words of three or more letters (not in ``common``) and how often they occur.
    static func counts(_ text: String) -> [String: Int] {
        var out: [String: Int] = [:]
        var word = ""
        func flush() {
            if word.count >= 3, let first = word.first, first.isUppercase, word.dropFirst().allSatisfy(\.isLowercase),
               !common.contains(word) {
                out[word, default: 0] += 1
            }
            word = ""
        }
        for ch in text {
            if ch.isLetter { word.append(ch) } else { flush() }
        }
        flush()
        return out
    }
}
