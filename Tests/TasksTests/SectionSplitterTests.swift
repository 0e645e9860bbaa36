import Foundation
import Pipeline
import Tasks
import TestSupport
import Testing

@Suite("Section splitter")
struct SectionSplitterTests {
    /// Word-level fake tokens of `text`: each token is leading whitespace plus a word or one punctuation byte.
    static func fakeTokens(_ text: String) -> [(id: Int32, offset: Int64, bytes: [UInt8])] {
        let bytes = Array(text.utf8)
        var out: [(id: Int32, offset: Int64, bytes: [UInt8])] = []
        var i = 0
        while i < bytes.count {
            let start = i
            while i < bytes.count, bytes[i] == 32 || bytes[i] == 10 { i += 1 }
            if i < bytes.count {
                let isWord = { (b: UInt8) in (b >= 65 && b <= 90) || (b >= 97 && b <= 122) || (b >= 48 && b <= 57) }
                if isWord(bytes[i]) { while i < bytes.count, isWord(bytes[i]) { i += 1 } } else { i += 1 }
            }
            out.append((id: Int32(out.count % 50_000), offset: Int64(start), bytes: Array(bytes[start..<i])))
        }
        return out
    }

    static func split(_ tokens: [(id: Int32, offset: Int64, bytes: [UInt8])], budget: Int, end: Int64) -> [DocumentSection] {
        var splitter = SectionSplitter(budget: budget)
        var sections: [DocumentSection] = []
        for t in tokens {
            if let s = splitter.append(id: t.id, byteOffset: t.offset, bytes: t.bytes) { sections.append(s) }
        }
        if let s = splitter.finish(documentEnd: end) { sections.append(s) }
        return sections
    }

    @Test("A 200,000-character text: sections touch end to end, cover every byte and token once, stay within budget")
    func coverage() {
        let text = TaskDocuments.long(characters: 200_000)
        #expect(text.utf8.count >= 200_000)
        let tokens = Self.fakeTokens(text)
        let budget = 120
        let sections = Self.split(tokens, budget: budget, end: Int64(text.utf8.count))
        #expect(sections.first?.byteStart == 0)
        #expect(sections.last?.byteEnd == Int64(text.utf8.count))
        for (a, b) in zip(sections, sections.dropFirst()) {
            #expect(a.byteEnd == b.byteStart)
            #expect(a.index + 1 == b.index)
        }
        #expect(sections.allSatisfy { $0.tokenIDs.count <= budget && !$0.tokenIDs.isEmpty })
        #expect(sections.flatMap(\.tokenIDs) == tokens.map(\.id))
        // Rebuilding the text from the byte ranges gives the document back.
        let bytes = Array(text.utf8)
        let rebuilt = sections.flatMap { bytes[Int($0.byteStart)..<Int($0.byteEnd)] }
        #expect(rebuilt == bytes)
        // Cuts land on natural boundaries: a blank line, a heading, a sentence end or a line end.
        let natural = sections.dropLast().filter { s in
            let before = Array(bytes[max(0, Int(s.byteEnd) - 16)..<Int(s.byteEnd)])
            let after = Array(bytes[Int(s.byteEnd)..<min(bytes.count, Int(s.byteEnd) + 8)])
            return SectionSplitter.strength(tail: before, next: after) >= 2
        }
        #expect(natural.count == sections.count - 1, "\(sections.count - 1 - natural.count) cuts inside a line")
    }

    @Test("A paragraph break within the last half of the budget is preferred over later sentence ends")
    func prefersParagraphs() {
        let text = "One two three four five six. Seven eight nine.\n\nTen eleven twelve. Thirteen fourteen. Fifteen sixteen seventeen eighteen nineteen twenty."
        let tokens = Self.fakeTokens(text)
        let sections = Self.split(tokens, budget: 20, end: Int64(text.utf8.count))
        let first = String(decoding: Array(text.utf8)[0..<Int(sections[0].byteEnd)], as: UTF8.self)
        #expect(first == "One two three four five six. Seven eight nine.")
    }

    @Test("Boundary strengths: blank line and heading > sentence end > line end > word > inside a word")
    func strengths() {
        func s(_ tail: String, _ next: String) -> UInt8 { SectionSplitter.strength(tail: Array(tail.utf8), next: Array(next.utf8)) }
        #expect(s("end.\n\n", "Next") == 4)
        #expect(s("a title\n", "# Heading") == 4)
        #expect(s("a line\n", "\n") == 4)
        #expect(s("He left.", " She") == 3)
        #expect(s("\"Go!\"", " he") == 3)
        #expect(s("a verse line\n", "Another") == 2)
        #expect(s("nine.", "\n\nTen") == 4)
        #expect(s("word", " next") == 1)
        #expect(s("wo", "rd") == 0)
    }

    @Test("Text with no boundaries at all is still cut at the budget, losing nothing")
    func noBoundaries() {
        let tokens = (0..<1000).map { (id: Int32($0), offset: Int64($0 * 3), bytes: Array("abc".utf8)) }
        let sections = Self.split(tokens, budget: 64, end: 3000)
        #expect(sections.count == 16)
        #expect(sections.dropLast().allSatisfy { $0.tokenIDs.count == 64 })
        #expect(sections.flatMap(\.tokenIDs) == tokens.map(\.id))
        #expect(sections.last?.byteEnd == 3000)
    }

    @Test("Real tokenizer through the document reader: sections of a 200,000-character file cover it exactly")
    func realTokenizer() throws {
        guard let model = try SharedModel.load() else { Issue.record("model missing"); return }
        let dir = try Fixtures.temporaryDirectory("split")
        let path = dir.appendingPathComponent("long.txt").path
        let text = TaskDocuments.long(characters: 200_000)
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        let reader = try DocumentReader(path: path, tokenizer: model.tokenizer, blockSize: 1 << 14)
        var splitter = SectionSplitter(budget: 640)
        var sections: [DocumentSection] = []
        var all: [Int32] = []
        while !reader.reachedEnd {
            for t in try reader.next() {
                all.append(t.id)
                if let s = splitter.append(id: t.id, byteOffset: t.byteOffset, bytes: model.tokenizer.tokenBytes(t.id)) { sections.append(s) }
            }
        }
        if let s = splitter.finish(documentEnd: reader.bytesRead) { sections.append(s) }
        #expect(sections.first?.byteStart == 0 && sections.last?.byteEnd == Int64(text.utf8.count))
        for (a, b) in zip(sections, sections.dropFirst()) { #expect(a.byteEnd == b.byteStart) }
        #expect(sections.flatMap(\.tokenIDs) == all)
        let bytes = Array(text.utf8)
        for s in sections { #expect(model.tokenizer.decodeBytes(s.tokenIDs) == Array(bytes[Int(s.byteStart)..<Int(s.byteEnd)])) }
    }
}
