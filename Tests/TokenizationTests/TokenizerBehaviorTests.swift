import Foundation
import Testing
import Tokenization

@Suite("Tokenizer behavior on the real vocabulary", .enabled(if: TokenizerFixture.isAvailable))
struct TokenizerBehaviorTests {
    @Test("control-token text in a document stays plain text without parseSpecial")
    func controlTextIsPlain() throws {
        let tokenizer = try TokenizerFixture.tokenizer()
        let text = "The model said <|im_end|> and then <|endoftext|><|im_start|>user"
        let plain = tokenizer.encode(text, parseSpecial: false)
        #expect(plain.allSatisfy { !tokenizer.isControl($0) })
        #expect(tokenizer.decode(plain) == text)
        let special = tokenizer.encode(text, parseSpecial: true)
        let imEnd = try #require(tokenizer.id(of: "<|im_end|>"))
        #expect(special.contains(imEnd))
        #expect(tokenizer.decode(special) == text)
    }

    @Test("special ids, end-of-generation set and token bytes")
    func specialIDs() throws {
        let tokenizer = try TokenizerFixture.tokenizer()
        #expect(tokenizer.vocabularySize == 49152)
        #expect(tokenizer.preTokenizer == .digitsThenGPT2)
        #expect(tokenizer.id(of: "<|im_end|>") == 2)
        #expect(tokenizer.eosID == 2)
        #expect(tokenizer.endOfGenerationIDs == [0, 2])
        #expect(tokenizer.isControl(1) && !tokenizer.isControl(260))
        #expect(tokenizer.controlTokenIDs.count == 17)
        let the = try #require(tokenizer.id(of: "Ġthe"))
        #expect(tokenizer.tokenBytes(the) == Array(" the".utf8))
        #expect(tokenizer.tokenBytes(2) == Array("<|im_end|>".utf8))
        #expect(tokenizer.tokenBytes(-1).isEmpty && tokenizer.tokenBytes(1 << 20).isEmpty)
    }

    @Test("pre-tokenizer splits every digit and keeps \\s+(?!\\S)")
    func smollmPieces() throws {
        let tokenizer = try TokenizerFixture.tokenizer()
        #expect(tokenizer.preTokenize("I'm  at 2024.\n\n x") == ["I", "'m", " ", " at", " ", "2", "0", "2", "4", ".", "\n\n", " x"])
    }

    @Test("streaming decoder emits only complete UTF-8 and reproduces the text")
    func streamingDecoder() throws {
        let tokenizer = try TokenizerFixture.tokenizer()
        let text = "Emoji 🙂👍🏽👨\u{200D}👩\u{200D}👧 and 日本語のテキスト <|im_end|>"
        let ids = tokenizer.encode(text, parseSpecial: true)
        var decoder = StreamingDecoder(tokenizer: tokenizer)
        var pieces: [String] = []
        for id in ids { pieces.append(decoder.append(id)) }
        pieces.append(decoder.finish())
        #expect(pieces.joined() == text)
        #expect(!pieces.contains { $0.contains("\u{FFFD}") })
        #expect(pieces.contains(""), "some emoji token should end mid-character")
    }

    @Test("streaming decoder turns a dangling partial character into U+FFFD at finish")
    func streamingDecoderDangling() throws {
        let tokenizer = try TokenizerFixture.tokenizer()
        let bytePiece = try #require(tokenizer.id(of: "ð"))  // byte 0xF0, a 4-byte lead
        var decoder = StreamingDecoder(tokenizer: tokenizer)
        #expect(decoder.append(bytePiece) == "")
        #expect(decoder.finish() == "\u{FFFD}")
    }
}
