import Testing
import Tokenization

/// A tiny byte-level vocabulary: all 256 byte characters plus a few merges' results.
func tinyTokens(_ extra: [String]) -> [String] {
    (0..<256).map { byte -> String in
        let scalar: UInt32
        if (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte) {
            scalar = UInt32(byte)
        } else {
            let before = (0..<byte).filter { !((0x21...0x7E).contains($0) || (0xA1...0xAC).contains($0) || (0xAE...0xFF).contains($0)) }.count
            scalar = 256 + UInt32(before)
        }
        return String(Character(Unicode.Scalar(scalar) ?? " "))
    } + extra
}

@Suite("Vocabulary validation and BPE order on tiny vocabularies")
struct VocabularyErrorTests {
    func make(_ extra: [String], _ merges: [String], pre: String = "smollm", strict: Bool = true) throws -> BPETokenizer {
        try BPETokenizer(tokens: tinyTokens(extra), tokenTypes: nil, merges: merges, preTokenizer: pre,
                         bosID: nil, eosID: nil, strictMerges: strict)
    }

    @Test("bad merge lists throw with the merge index and line")
    func badMerges() throws {
        #expect(throws: TokenizerError.malformedMerge(index: 1, line: "ab")) { _ = try make(["ab"], ["a b", "ab"]) }
        #expect(throws: TokenizerError.mergeReferencesUnknownToken(index: 0, line: "a zz", token: "zz")) {
            _ = try make(["azz"], ["a zz"])
        }
        #expect(throws: TokenizerError.mergeResultNotInVocabulary(index: 0, line: "a b", result: "ab")) {
            _ = try make([], ["a b"])
        }
        #expect(throws: TokenizerError.emptyVocabulary) {
            _ = try BPETokenizer(tokens: [], tokenTypes: nil, merges: [], preTokenizer: "smollm", bosID: nil, eosID: nil)
        }
        #expect(throws: TokenizerError.unknownPreTokenizer(name: "nonsense")) { _ = try make([], [], pre: "nonsense") }
        #expect(throws: TokenizerError.tokenTypesTooShort(count: 1, vocabularySize: 256)) {
            _ = try BPETokenizer(tokens: tinyTokens([]), tokenTypes: [1], merges: [], preTokenizer: "gpt2", bosID: nil, eosID: nil)
        }
        #expect(TokenizerError.malformedMerge(index: 1, line: "ab").description.contains("Merge 1"))
    }

    @Test("lenient merges behave like llama.cpp: merged text not in the vocabulary falls back to single bytes")
    func lenientMerges() throws {
        let tokenizer = try make(["abc"], ["a b", "ab c", "broken"], strict: false)
        let a = try #require(tokenizer.id(of: "a")), b = try #require(tokenizer.id(of: "b"))
        let abc = try #require(tokenizer.id(of: "abc"))
        #expect(tokenizer.encode("abc", parseSpecial: false) == [abc])  // via the non-token "ab"
        #expect(tokenizer.encode("ab", parseSpecial: false) == [a, b])  // "ab" is no token: per-byte fallback
    }

    @Test("lowest rank merges first, leftmost on ties")
    func mergeOrder() throws {
        let t1 = try make(["ab", "bc", "abc"], ["b c", "a b", "a bc"])
        #expect(t1.encode("abc", parseSpecial: false) == [t1.id(of: "abc")!])
        let t2 = try make(["ab", "bc"], ["b c", "a b"])
        #expect(t2.encode("abc", parseSpecial: false) == [t2.id(of: "a")!, t2.id(of: "bc")!])
        let t3 = try make(["aa"], ["a a"])
        #expect(t3.encode("aaa", parseSpecial: false) == [t3.id(of: "aa")!, t3.id(of: "a")!])
    }

    @Test("llama3 pre-tokenizer pieces")
    func llama3Pieces() throws {
        let tokenizer = try make([], [], pre: "llama-bpe")
        #expect(tokenizer.preTokenize("Hello  world\n\n 123456 'RE x'LL") ==
                ["Hello", " ", " world", "\n\n", " ", "123", "456", " '", "RE", " x", "'LL"])
    }

    @Test("gpt-2 pre-tokenizer keeps digit runs with their space")
    func gpt2Pieces() throws {
        let tokenizer = try make([], [], pre: "gpt-2")
        #expect(tokenizer.preTokenize("in 2024,  ok") == ["in", " 2024", ",", " ", " ok"])
    }
}
