import Foundation
import Tasks
import Testing
import TestSupport

/// The checks that keep a bad reply from being written silently.
@Suite("Reply checks")
struct ReplyCheckTests {
    @Test("A good note passes")
    func good() {
        #expect(ReplyCheck.problems("Tarquin rides to Collatium and is welcomed by Lucrece, who suspects nothing.",
                                    earlier: ["Collatine praises his wife Lucrece to the Roman lords at Ardea."], loopCut: false,
                                    language: nil, source: "From the besieged Ardea all in post, Borne by the trustless wings of false desire").isEmpty)
    }

    @Test("Copies, loops, leaked instructions, copied-out sources and repeated sentences are caught")
    func bad() {
        let note = "Hamlet meets the ghost of his father on the walls of Elsinore at midnight."
        #expect(ReplyCheck.problems(note, earlier: [note], loopCut: false, language: nil).contains { $0.hasPrefix("a copy of an earlier reply") })
        #expect(ReplyCheck.problems(note, earlier: [], loopCut: true, language: nil).contains { $0.hasPrefix("a loop") })
        #expect(ReplyCheck.problems("The text above. Combine these notes into one short paragraph.", earlier: [], loopCut: false,
                                    language: nil).contains { $0.hasPrefix("instruction text leaked") })
        let source = "Mar. Shall I strike at it with my Partizan? Hor. Do, if it will not stand. Barn. 'Tis heere. Hor. 'Tis heere."
        #expect(ReplyCheck.problems(source, earlier: [], loopCut: false, language: nil, source: source)
            .contains("the section's text copied out instead of a note"))
        #expect(ReplyCheck.problems("The memory is a testament to the state. The memory is a testament to the state.", earlier: [],
                                    loopCut: false, language: nil).contains("a sentence repeated"))
        #expect(ReplyCheck.problems("Ok", earlier: [], loopCut: false, language: nil) == ["empty reply"])
    }

    @Test("A translation that stayed in English is caught; one in the target language passes")
    func language() {
        let english = "And God said, Let there be light: and there was light. And God saw the light, that it was good."
        let spanish = "Y dijo Dios: Sea la luz; y fue la luz. Y vio Dios que la luz era buena; y separó la luz de las tinieblas."
        #expect(ReplyCheck.problems(english, earlier: [], loopCut: false, language: "Spanish").contains { $0.hasPrefix("not in Spanish") })
        #expect(ReplyCheck.problems(spanish, earlier: [], loopCut: false, language: "Spanish").isEmpty)
        #expect(ReplyCheck.problems(english, earlier: [], loopCut: false, language: nil).isEmpty, "a style rewrite stays in English")
    }

    @Test("A reply cut at the token limit ends at its last full sentence")
    func trimming() {
        #expect(ReplyCheck.trimmedToSentence("The story is told. The story is also") == "The story is told.")
        #expect(ReplyCheck.trimmedToSentence("It ends well.") == "It ends well.")
        #expect(ReplyCheck.trimmedToSentence("no sentence end at all") == "no sentence end at all")
    }
}

/// The names line that ends a final summary.
@Suite("Names in the notes")
struct NameListTests {
    @Test("Names the notes use that the document uses often, most-mentioned first; no sentence openings, no invented names")
    func names() throws {
        let dir = try Fixtures.temporaryDirectory("names")
        let doc = dir.appendingPathComponent("doc.txt").path
        let text = String(repeating: "Tarquin rode to Collatium. Lucrece waited. The night was long. When Tarquin came, Lucrece wept. Brutus spoke once. ", count: 3)
        try Data(text.utf8).write(to: URL(fileURLWithPath: doc))
        let notes = ["Tarquin visits Lucrece at Collatium.", "The night passes; Tarquin leaves and Lucrece weeps.", "Marcus, whom the text never names, appears."]
        #expect(NameList.names(notes: notes, documentPath: doc) == ["Lucrece", "Tarquin", "Collatium"])
    }
}
