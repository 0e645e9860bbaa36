import Foundation
import Testing
import Tokenization

/// A small deterministic generator (SplitMix64) so failures reproduce.
struct SeededRandom: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Feeds `bytes` in random chunks (sizes 1...maxChunk) and returns all tokens.
func streamTokens(_ encoder: inout StreamingEncoder, _ bytes: [UInt8], from start: Int = 0, to end: Int? = nil,
                  maxChunk: Int, rng: inout SeededRandom, finalAtEnd: Bool = true) throws -> [EncodedToken] {
    let end = end ?? bytes.count
    var out: [EncodedToken] = []
    var pos = start
    repeat {
        let size = min(Int.random(in: 1...maxChunk, using: &rng), end - pos)
        let isFinal = finalAtEnd && pos + size == end
        out += try bytes[pos..<(pos + size)].withUnsafeBytes { try encoder.feed($0, isFinal: isFinal) }
        pos += size
    } while pos < end
    return out
}

/// Texts full of the boundaries that matter: whitespace runs before letters/digits/ends,
/// contractions split across chunks, digits, multi-byte characters, ZWJ emoji.
func trickyTexts(count: Int, seed: UInt64) -> [String] {
    let alphabet: [String] = [" ", " ", "  ", "\n", "\n\n", "\t", "\r\n", "a", "Z", "the", "1", "42", "'", "'s", "'re",
                              "'ll", "r", "e", "l", "v", ".", ",", "!?", "é", "日本", "🙂", "👨\u{200D}👩", "\u{A0}",
                              "\u{2003}", "²", "½", "-", "$", "\u{0301}", "x", "I'm", "don't"]
    var rng = SeededRandom(seed: seed)
    return (0..<count).map { _ in
        (0..<Int.random(in: 1...40, using: &rng)).map { _ in alphabet.randomElement(using: &rng) ?? " " }.joined()
    }
}

@Suite("Streaming encoder", .enabled(if: TokenizerFixture.isAvailable))
struct StreamingEncoderTests {
    /// Checks ids against whole-text encode and that every offset points at the token's bytes.
    func check(_ tokens: [EncodedToken], text: String, tokenizer: BPETokenizer, label: String) {
        let expected = tokenizer.encode(text, parseSpecial: false)
        let ids = tokens.map(\.id)
        #expect(ids == expected, "\(label): \(firstDifference(ids, expected))")
        let bytes = Array(text.utf8)
        var offset: Int64 = 0
        for (i, token) in tokens.enumerated() {
            if token.byteOffset != offset {
                Issue.record("\(label): token \(i) has offset \(token.byteOffset), expected \(offset)")
                return
            }
            offset += Int64(tokenizer.tokenBytes(token.id).count)
        }
        #expect(offset == Int64(bytes.count), "\(label): offsets do not cover the text")
    }

    @Test("random chunking (1…4096 bytes and 1-byte chunks) equals whole-text encode, golden and cases")
    func randomChunking() throws {
        let tokenizer = try TokenizerFixture.tokenizer()
        var texts = try TokenizerCase.all().map(\.text)
        texts.append(try TokenizerCase.goldenA().text)
        texts.append(texts.joined(separator: "  \n "))
        for (t, text) in texts.enumerated() {
            let bytes = Array(text.utf8)
            for (s, maxChunk) in [1, 3, 7, 64, 4096].enumerated() {
                var rng = SeededRandom(seed: UInt64(t * 31 + s))
                var encoder = try StreamingEncoder(tokenizer: tokenizer)
                let tokens = try streamTokens(&encoder, bytes, maxChunk: maxChunk, rng: &rng)
                check(tokens, text: text, tokenizer: tokenizer, label: "text \(t), chunks ≤ \(maxChunk)")
                #expect(encoder.heldBackByteCount == 0)
            }
        }
    }

    @Test("random tricky texts stream exactly like whole-text encode")
    func trickyRandomTexts() throws {
        let tokenizer = try TokenizerFixture.tokenizer()
        for (t, text) in trickyTexts(count: 400, seed: 7).enumerated() {
            var rng = SeededRandom(seed: UInt64(1000 + t))
            var encoder = try StreamingEncoder(tokenizer: tokenizer)
            let tokens = try streamTokens(&encoder, Array(text.utf8), maxChunk: t % 2 == 0 ? 1 : 9, rng: &rng)
            check(tokens, text: text, tokenizer: tokenizer, label: "tricky text \(t) \(text.debugDescription)")
        }
    }

    @Test("saving and restoring the state mid-document continues identically")
    func saveRestore() throws {
        let tokenizer = try TokenizerFixture.tokenizer()
        let text = try TokenizerCase.goldenA().text + " 🙂 日本語 12345   \n\n" + (try TokenizerCase.all().map(\.text).joined())
        let bytes = Array(text.utf8)
        for (i, cut) in [1, 777, bytes.count / 2, bytes.count - 3].enumerated() {
            var rng = SeededRandom(seed: UInt64(50 + i))
            var first = try StreamingEncoder(tokenizer: tokenizer)
            var tokens = try streamTokens(&first, bytes, to: cut, maxChunk: 5, rng: &rng, finalAtEnd: false)
            let saved = first.state
            var resumed = try StreamingEncoder(tokenizer: tokenizer, restoring: saved)
            #expect(resumed.heldBackByteCount == first.heldBackByteCount)
            tokens += try streamTokens(&resumed, bytes, from: cut, maxChunk: 300, rng: &rng)
            check(tokens, text: text, tokenizer: tokenizer, label: "restore at byte \(cut)")
        }
    }

    @Test("a state from another tokenizer or garbage is rejected")
    func badState() throws {
        let tokenizer = try TokenizerFixture.tokenizer()
        #expect(throws: TokenizerError.self) { _ = try StreamingEncoder(tokenizer: tokenizer, restoring: Data("nope".utf8)) }
        let other = try BPETokenizer(tokens: ["a", "b"], tokenTypes: nil, merges: [], preTokenizer: "smollm", bosID: nil, eosID: nil)
        var encoder = try StreamingEncoder(tokenizer: other)
        _ = try encoder.feed(Array("ab".utf8), isFinal: false)
        #expect(throws: TokenizerError.self) { _ = try StreamingEncoder(tokenizer: tokenizer, restoring: encoder.state) }
    }

    @Test("feeding after the final chunk throws")
    func afterFinal() throws {
        var encoder = try StreamingEncoder(tokenizer: try TokenizerFixture.tokenizer())
        _ = try encoder.feed(Array("hi".utf8), isFinal: true)
        #expect(throws: TokenizerError.streamAlreadyFinished) { _ = try encoder.feed([0x41], isFinal: true) }
    }

    static let invalidInputs: [(bytes: [UInt8], offset: Int64)] = {
        let abc: [UInt8] = Array("abc".utf8)
        let def: [UInt8] = Array("def".utf8)
        let hello: [UInt8] = Array("héllo wörld ".utf8)
        let ab: [UInt8] = Array("ab ".utf8)
        let end: [UInt8] = Array("the end".utf8)
        var cases: [(bytes: [UInt8], offset: Int64)] = []
        cases.append(([0x80] + abc, 0))
        cases.append((abc + [0xFF] + def, 3))
        cases.append((hello + [0xE2, 0x28, 0xA1], 14))
        cases.append((ab + [0xED, 0xA0, 0x80], 3))  // surrogate
        cases.append((end + [0xE2, 0x82], 7))  // truncated at the end of the document
        return cases
    }()

    @Test("invalid UTF-8 is reported at its absolute byte offset (start, middle, end)")
    func invalidUTF8() throws {
        for (bytes, offset) in Self.invalidInputs {
            try checkInvalid(bytes: bytes, offset: offset)
        }
    }

    func checkInvalid(bytes: [UInt8], offset: Int64) throws {
        let tokenizer = try TokenizerFixture.tokenizer()
        for maxChunk in [1, 2, 4096] {
            var encoder = try StreamingEncoder(tokenizer: tokenizer)
            var rng = SeededRandom(seed: 3)
            #expect(throws: TokenizerError.invalidUTF8(byteOffset: offset), "chunks ≤ \(maxChunk)") {
                _ = try streamTokens(&encoder, bytes, maxChunk: maxChunk, rng: &rng)
            }
        }
    }

    @Test("replacement mode substitutes U+FFFD per maximal subpart, like String(decoding:)")
    func replacementMode() throws {
        let tokenizer = try TokenizerFixture.tokenizer()
        let bytes: [UInt8] = [0x80] + Array("abc ".utf8) + [0xE2, 0x28, 0xA1] + Array(" x".utf8) + [0xF0, 0x9F, 0x99]
            + Array("\n\nend ".utf8) + [0xC3]
        let repaired = String(decoding: bytes, as: UTF8.self)
        for maxChunk in [1, 3, 4096] {
            var rng = SeededRandom(seed: 11)
            var encoder = try StreamingEncoder(tokenizer: tokenizer, replaceInvalid: true)
            let tokens = try streamTokens(&encoder, bytes, maxChunk: maxChunk, rng: &rng)
            let expected = tokenizer.encode(repaired, parseSpecial: false)
            #expect(tokens.map(\.id) == expected, "chunks ≤ \(maxChunk): \(firstDifference(tokens.map(\.id), expected))")
            #expect(tokens.first?.byteOffset == 0)
            // Offsets stay in document coordinates: the token after the first U+FFFD ("abc") is at byte 1.
            #expect(tokens.contains(EncodedToken(id: tokenizer.encode("abc", parseSpecial: false)[0], byteOffset: 1)))
            #expect(zip(tokens, tokens.dropFirst()).allSatisfy { $0.byteOffset <= $1.byteOffset })
            #expect((tokens.last?.byteOffset ?? 0) < Int64(bytes.count))
        }
    }
}
