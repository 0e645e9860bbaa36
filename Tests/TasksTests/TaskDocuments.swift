import Foundation
import Model
import TestSupport

/// Small documents for the task tests.
enum TaskDocuments {
    /// Three short paragraphs (about 60 tokens each): three sections at a 64-token budget.
    static let threeParagraphs = """
        The lighthouse keeper rose before dawn every day. He climbed the spiral stairs, trimmed the wick, \
        and polished the great lens until it shone. Ships passing the rocky point relied on his light.

        One winter a storm broke the glass of the lantern room. The keeper worked through the night with \
        canvas and rope to shelter the flame. By morning the storm had passed and the light still burned.

        Years later the lighthouse was automated and the keeper retired to the village. Children asked him \
        about the storm, and he told them that a small light, kept faithfully, can guide many ships home.

        """

    /// A document of about `characters` characters with headings, paragraphs, verse lines and sentences.
    static func long(characters: Int) -> String {
        var text = ""
        var n = 0
        let words = ["river", "castle", "lantern", "winter", "merchant", "harbour", "garden", "letter", "mirror", "soldier"]
        while text.utf8.count < characters {
            n += 1
            if n % 17 == 1 { text += "# Chapter \(n / 17 + 1)\n\n" }
            let sentences = 2 + n % 5
            for s in 0..<sentences {
                let length = 5 + (n * 7 + s * 3) % 14
                var sentence: [String] = []
                for w in 0..<length { sentence.append(words[(n + s * 5 + w * 3) % words.count]) }
                text += sentence.joined(separator: " ").capitalizedFirst + (s % 3 == 2 ? "!" : ".")
                text += n % 4 == 0 ? "\n" : " "
            }
            text += "\n\n"
        }
        return text
    }
}

extension String {
    var capitalizedFirst: String { prefix(1).uppercased() + dropFirst() }
}
