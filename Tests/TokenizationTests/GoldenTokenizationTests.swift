import Foundation
import Testing
import Tokenization

@Suite("Golden tokenization against llama.cpp", .enabled(if: TokenizerFixture.isAvailable))
struct GoldenTokenizationTests {
    @Test("golden_A text encodes to llama.cpp's 2,200 ids")
    func goldenA() throws {
        let tokenizer = try TokenizerFixture.tokenizer()
        let golden = try TokenizerCase.goldenA()
        #expect(golden.ids.count == 2200)
        let ids = tokenizer.encode(golden.text, parseSpecial: false)
        #expect(ids == golden.ids, "\(firstDifference(ids, golden.ids))")
        #expect(tokenizer.decode(ids) == golden.text)
    }

    @Test("every tokenizer_cases.json case matches llama.cpp and round-trips")
    func cases() throws {
        let tokenizer = try TokenizerFixture.tokenizer()
        let cases = try TokenizerCase.all()
        #expect(cases.count >= 20)
        for c in cases {
            let ids = tokenizer.encode(c.text, parseSpecial: c.parseSpecial)
            #expect(ids == c.ids, "case \(c): \(firstDifference(ids, c.ids))")
            #expect(tokenizer.decode(ids) == c.text, "case \(c) does not round-trip")
            // The plain-text encoding must round-trip too, whatever the case's flag.
            #expect(tokenizer.decode(tokenizer.encode(c.text, parseSpecial: false)) == c.text, "case \(c) (plain)")
        }
    }
}
