import Foundation
import Testing
import Tokenization

@Suite("Qwen 2.5 and Gemma 3 tokenizers against llama.cpp", .enabled(if: ModelTokenizerFixture.anyAvailable))
struct ModelTokenizerTests {
    @Test("every golden case matches llama.cpp in both parse modes and round-trips", arguments: ModelTokenizerFixture.available)
    func goldenCases(_ model: ModelTokenizerFixture) throws {
        let tokenizer = try model.tokenizer()
        let cases = try model.cases()
        #expect(cases.count == 25)
        #expect(Set(cases.map(\.parseSpecial)) == [false, true])
        var matched = 0
        for c in cases {
            let ids = tokenizer.documentIDs(c.text, parseSpecial: c.parseSpecial)
            #expect(ids == c.ids, "\(model) case \(c): \(firstDifference(ids, c.ids))")
            if ids == c.ids { matched += 1 }
            #expect(tokenizer.decode(tokenizer.encode(c.text, parseSpecial: c.parseSpecial)) == c.text, "\(model) case \(c) does not round-trip")
            #expect(tokenizer.decode(tokenizer.encode(c.text, parseSpecial: false)) == c.text, "\(model) case \(c) (plain)")
        }
        print("\(model): \(matched)/\(cases.count) golden tokenizer cases match")
    }

    @Test("passage A encodes to the golden ids (Gemma: BOS first)", arguments: ModelTokenizerFixture.available)
    func passageA(_ model: ModelTokenizerFixture) throws {
        let tokenizer = try model.tokenizer()
        let golden = try model.passageA()
        #expect(golden.ids.count == 2200)
        let ids = tokenizer.documentIDs(golden.text)
        #expect(ids == golden.ids, "\(firstDifference(ids, golden.ids))")
        #expect(tokenizer.decode(ids) == (model == .gemma3 ? "<bos>" : "") + golden.text)
    }

    @Test("BOS, EOS and end-of-generation tokens", arguments: ModelTokenizerFixture.available)
    func specialIDs(_ model: ModelTokenizerFixture) throws {
        let tokenizer = try model.tokenizer()
        switch model {
        case .qwen2:
            #expect(!tokenizer.addsBOS)
            #expect(tokenizer.eosID == 151645)
            #expect(tokenizer.id(of: "<|im_end|>") == 151645)
            #expect(tokenizer.isEndOfGeneration(151645))
            #expect(tokenizer.isEndOfGeneration(151643))  // <|endoftext|>
            #expect(!tokenizer.isEndOfGeneration(151644))  // <|im_start|>
            #expect(!tokenizer.isSentencePiece)
        case .gemma3:
            #expect(tokenizer.addsBOS)
            #expect(tokenizer.bosID == 2)
            #expect(tokenizer.eosID == 1)
            #expect(tokenizer.isSentencePiece)
            let endOfTurn = try #require(tokenizer.id(of: "<end_of_turn>"))
            #expect(tokenizer.isEndOfGeneration(1))
            #expect(tokenizer.isEndOfGeneration(endOfTurn))
            #expect(!tokenizer.isEndOfGeneration(2))
            #expect(tokenizer.vocabularySize == 262_144)
        }
    }

    @Test("control-token text is plain text unless parseSpecial", arguments: ModelTokenizerFixture.available)
    func controlText(_ model: ModelTokenizerFixture) throws {
        let tokenizer = try model.tokenizer()
        let text = model == .qwen2 ? "<|im_start|>user\nHi<|im_end|>" : "<start_of_turn>user\nHi<end_of_turn>"
        let plain = tokenizer.encode(text, parseSpecial: false)
        #expect(!plain.contains { tokenizer.isControl($0) })
        let parsed = tokenizer.encode(text, parseSpecial: true)
        #expect(parsed.first.map { tokenizer.isControl($0) } == true)
        #expect(parsed.last.map { tokenizer.isEndOfGeneration($0) } == true)
        #expect(tokenizer.decode(parsed) == text)
    }

    @Test("streaming in random block sizes equals whole-text encode, offsets included", arguments: ModelTokenizerFixture.available)
    func streaming(_ model: ModelTokenizerFixture) throws {
        let tokenizer = try model.tokenizer()
        var texts = try model.cases().map(\.text)
        texts.append(try model.passageA().text)
        texts.append(texts.joined(separator: "  \n "))
        texts += trickyTexts(count: 150, seed: 21)
        // USER_DEFINED tokens (Qwen's <tool_call>, Gemma's space/newline/tab runs and HTML tags)
        // are split out of documents too, also across block boundaries.
        texts.append("a<tool_call>b</tool_call> <b>bold</b>\n\n\n\n\n\t\t x" + String(repeating: " ", count: 70) + "y</s><s>")
        texts.append(String(repeating: "\n", count: 100) + "z" + String(repeating: "\t", count: 40) + "▁▁ ▁x>▁</y")
        for (t, text) in texts.enumerated() {
            let bytes = Array(text.utf8)
            for (s, maxChunk) in [1, 5, 64, 4096].enumerated() {
                var rng = SeededRandom(seed: UInt64(t * 17 + s))
                var encoder = try StreamingEncoder(tokenizer: tokenizer)
                let tokens = try streamTokens(&encoder, bytes, maxChunk: maxChunk, rng: &rng)
                let expected = tokenizer.encode(text, parseSpecial: false)
                #expect(tokens.map(\.id) == expected, "\(model) text \(t) chunks ≤ \(maxChunk): \(firstDifference(tokens.map(\.id), expected))")
                #expect(encoder.heldBackByteCount == 0)
                #expect(!tokens.contains { tokenizer.isControl($0.id) }, "\(model) text \(t): a control token from document text")
                if !text.contains("▁") {
                    var offset: Int64 = 0
                    for token in tokens {
                        if token.byteOffset != offset {
                            Issue.record("\(model) text \(t): offset \(token.byteOffset), expected \(offset)")
                            break
                        }
                        offset += Int64(tokenizer.tokenBytes(token.id).count)
                    }
                }
            }
        }
    }

    @Test("saving and restoring the streaming state mid-document continues identically", arguments: ModelTokenizerFixture.available)
    func streamingRestore(_ model: ModelTokenizerFixture) throws {
        let tokenizer = try model.tokenizer()
        let text = try model.passageA().text + "\n\n\n   <tool_call> <b>x</b>\t\t" + (try model.cases().map(\.text).joined())
        let bytes = Array(text.utf8)
        for (i, cut) in [1, 900, bytes.count / 2, bytes.count - 2].enumerated() {
            var rng = SeededRandom(seed: UInt64(90 + i))
            var first = try StreamingEncoder(tokenizer: tokenizer)
            var tokens = try streamTokens(&first, bytes, to: cut, maxChunk: 7, rng: &rng, finalAtEnd: false)
            var resumed = try StreamingEncoder(tokenizer: tokenizer, restoring: first.state)
            tokens += try streamTokens(&resumed, bytes, from: cut, maxChunk: 500, rng: &rng)
            let expected = tokenizer.encode(text, parseSpecial: false)
            #expect(tokens.map(\.id) == expected, "\(model) restore at \(cut): \(firstDifference(tokens.map(\.id), expected))")
        }
    }
}
