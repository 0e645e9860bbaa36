import Testing
import Tokenization

/// Inputs found by the tokenizer fuzz target (Fuzz/), kept as regression tests.
@Suite("Tokenizer fuzz regressions", .enabled(if: TokenizerFixture.isAvailable))
struct FuzzRegressionTests {
    /// Found as `decode(encode(text)) != text` for the text "\u{06}": SmolLM2's vocabulary has
    /// no byte-level token for 21 byte values (0x04, 0x06, 0x13, 0x14, 0x16, 0x1D, 0xC0, 0xC1,
    /// 0xF1, 0xF2, 0xF5…0xFF). Like llama.cpp, the encoder drops such bytes; the streaming
    /// encoder must drop the same bytes and keep document offsets for what follows.
    @Test("bytes without a vocabulary token are dropped, by encode and by the streaming encoder alike")
    func bytesWithoutToken() throws {
        let tokenizer = try TokenizerFixture.tokenizer()
        #expect(tokenizer.encode("\u{06}", parseSpecial: false).isEmpty)
        #expect(tokenizer.encode("\u{06}", parseSpecial: true).isEmpty)
        let text = "a\u{06}b \u{04}\u{04}c"
        let ids = tokenizer.encode(text, parseSpecial: false)
        #expect(tokenizer.decodeBytes(ids) == Array("ab c".utf8))
        var encoder = try StreamingEncoder(tokenizer: tokenizer)
        let bytes = Array(text.utf8)
        let streamed = try encoder.feed(Array(bytes[..<2]), isFinal: false) + encoder.feed(Array(bytes[2...]), isFinal: true)
        #expect(streamed.map(\.id) == ids)
        #expect(streamed.first { tokenizer.tokenBytes($0.id) == Array("b".utf8) }?.byteOffset == 2)
    }
}
