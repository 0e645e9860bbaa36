/// Byte-level BPE tokenizer for `tokenizer.ggml.model = gpt2` vocabularies, matching llama.cpp.
///
/// Built from plain arrays (the GGUF `tokenizer.ggml.*` values), immutable and shareable.
/// Encoding: optional special-token partition → llama.cpp pre-tokenizer → per-piece BPE over
/// byte-level symbols (lowest merge rank first, leftmost on ties) → ids.
public final class BPETokenizer: Tokenizer {
    /// Token texts as stored in the vocabulary (byte-level encoded for normal tokens).
    public let tokens: [String]
    /// The pre-tokenizer selected by `tokenizer.ggml.pre`.
    public let preTokenizer: PreTokenizer
    /// The beginning-of-sequence token, if the vocabulary has one.
    public let bosID: Int32?
    /// The end-of-sequence token, if the vocabulary has one.
    public let eosID: Int32?
    /// The end-of-turn token, if the vocabulary has one.
    public let eotID: Int32?
    /// Every token of type CONTROL (including end-of-generation tokens forced to CONTROL).
    public let controlTokenIDs: Set<Int32>
    /// Tokens that end generation: eos, eot, and tokens named like `<|im_end|>`,
    /// `<|endoftext|>`, `<|eot_id|>`, `<end_of_turn>`, `</s>` … (llama.cpp's list; such tokens
    /// are made CONTROL as llama.cpp does).
    public let endOfGenerationIDs: Set<Int32>

    /// Token names llama.cpp treats as end-of-generation (and forces to CONTROL).
    public static let endOfGenerationNames: Set<String> = [
        "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<end_of_turn>",
        "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "<|end_of_text|>", "<end_of_utterance>",
    ]

    let types: [TokenType]
    /// The bytes each token decodes to.
    let pieces: [[UInt8]]
    let textToID: [String: Int32]
    /// The initial symbol id of each byte (a synthetic id ≥ vocabularySize if not in the vocabulary).
    let byteSymbols: [Int32]
    /// `left << 32 | right` → `rank << 32 | merged`.
    let merges: [UInt64: UInt64]
    /// For synthetic ids (index `id - vocabularySize`): llama.cpp's per-byte fallback tokens.
    let fallbacks: [[Int32]]
    /// Special tokens matched in text with parseSpecial (CONTROL, USER_DEFINED, UNKNOWN), longest first.
    let specialTokensAll: [(id: Int32, bytes: [UInt8])]
    /// USER_DEFINED tokens, longest first: matched even when parseSpecial is false.
    let specialTokensUser: [(id: Int32, bytes: [UInt8])]

    /// Builds a tokenizer from the GGUF tokenizer arrays.
    ///
    /// - Parameters:
    ///   - tokens: `tokenizer.ggml.tokens`.
    ///   - tokenTypes: `tokenizer.ggml.token_type`, or `nil` (every token NORMAL).
    ///   - merges: `tokenizer.ggml.merges`, lines `"left right"`; the index is the rank.
    ///   - preTokenizer: `tokenizer.ggml.pre` (for example `"smollm"`).
    ///   - bosID: `tokenizer.ggml.bos_token_id`; ignored when out of range (as llama.cpp does).
    ///   - eosID: `tokenizer.ggml.eos_token_id`; ignored when out of range.
    ///   - eotID: `tokenizer.ggml.eot_token_id`; ignored when out of range.
    ///   - strictMerges: When `true` (default), a malformed merge line or one that refers to text
    ///     missing from the vocabulary is an error. When `false`, behave like llama.cpp: skip
    ///     malformed lines, still apply merges over unknown text, and fall back to single-byte
    ///     tokens for a final piece that is not a token.
    /// - Throws: `TokenizerError` for an empty vocabulary, an unknown pre-tokenizer, a short
    ///   type list, or (strict) a bad merge, naming the merge index and line.
    public init(
        tokens: [String], tokenTypes: [Int]?, merges: [String], preTokenizer: String,
        bosID: Int32?, eosID: Int32?, eotID: Int32? = nil, strictMerges: Bool = true
    ) throws {
        guard !tokens.isEmpty else { throw TokenizerError.emptyVocabulary }
        guard let kind = PreTokenizer(ggmlName: preTokenizer) else {
            throw TokenizerError.unknownPreTokenizer(name: preTokenizer)
        }
        let n = tokens.count
        if let tokenTypes, tokenTypes.count < n {
            throw TokenizerError.tokenTypesTooShort(count: tokenTypes.count, vocabularySize: n)
        }
        self.tokens = tokens
        self.preTokenizer = kind

        var textToID: [String: Int32] = [:]
        textToID.reserveCapacity(n)
        for (i, text) in tokens.enumerated() { textToID[text] = Int32(i) }  // last wins, as llama.cpp

        var types = (0..<n).map { i -> TokenType in
            guard let tokenTypes else { return .normal }
            return TokenType(rawValue: tokenTypes[i]) ?? .undefined
        }
        func valid(_ id: Int32?) -> Int32? {
            guard let id, id >= 0, Int(id) < n else { return nil }
            return id
        }
        self.bosID = valid(bosID)
        self.eosID = valid(eosID)
        self.eotID = valid(eotID)
        var eog = Set<Int32>()
        for name in Self.endOfGenerationNames {
            if let id = textToID[name] {
                eog.insert(id)
                types[Int(id)] = .control
            }
        }
        if let eos = self.eosID { eog.insert(eos) }
        if let eot = self.eotID { eog.insert(eot) }
        endOfGenerationIDs = eog
        self.types = types
        controlTokenIDs = Set((0..<n).filter { types[$0] == .control }.map { Int32($0) })

        pieces = (0..<n).map { i in Self.bytes(ofToken: tokens[i], type: types[i]) }

        // Synthetic ids for text that is not a token (byte symbols, lenient merges).
        var syntheticIDs: [String: Int32] = [:]
        var syntheticTexts: [String] = []
        func symbolID(_ text: String) -> Int32 {
            if let id = textToID[text] { return id }
            if let id = syntheticIDs[text] { return id }
            let id = Int32(n + syntheticTexts.count)
            syntheticIDs[text] = id
            syntheticTexts.append(text)
            return id
        }
        byteSymbols = (0..<256).map { symbolID(ByteLevel.text(forByte: UInt8($0))) }

        var table: [UInt64: UInt64] = [:]
        table.reserveCapacity(merges.count)
        for (index, line) in merges.enumerated() {
            let utf8 = Array(line.utf8)
            guard let space = utf8.dropFirst().firstIndex(of: 0x20) else {
                if strictMerges { throw TokenizerError.malformedMerge(index: index, line: line) }
                continue
            }
            let first = String(decoding: utf8[..<space], as: UTF8.self)
            let second = String(decoding: utf8[(space + 1)...], as: UTF8.self)
            let merged = first + second
            if strictMerges {
                for part in [first, second] where textToID[part] == nil {
                    throw TokenizerError.mergeReferencesUnknownToken(index: index, line: line, token: part)
                }
                if textToID[merged] == nil {
                    throw TokenizerError.mergeResultNotInVocabulary(index: index, line: line, result: merged)
                }
            }
            let key = UInt64(UInt32(bitPattern: symbolID(first))) << 32 | UInt64(UInt32(bitPattern: symbolID(second)))
            if table[key] == nil {  // first occurrence wins, as llama.cpp's emplace
                table[key] = UInt64(index) << 32 | UInt64(UInt32(bitPattern: symbolID(merged)))
            }
        }
        self.merges = table
        fallbacks = syntheticTexts.map { text in
            text.utf8.compactMap { byte in
                byte < 0x80 ? textToID[String(UnicodeScalar(byte))] : nil
            }
        }
        self.textToID = textToID

        func specials(_ include: (TokenType) -> Bool) -> [(id: Int32, bytes: [UInt8])] {
            (0..<n).filter { include(types[$0]) && !tokens[$0].isEmpty }
                .map { (id: Int32($0), bytes: Array(tokens[$0].utf8)) }
                .sorted { $0.bytes.count != $1.bytes.count ? $0.bytes.count > $1.bytes.count : $0.id < $1.id }
        }
        specialTokensAll = specials { $0 == .control || $0 == .userDefined || $0 == .unknown }
        specialTokensUser = specials { $0 == .userDefined }
    }

    /// The number of tokens in the vocabulary.
    public var vocabularySize: Int { tokens.count }

    /// The id of a token given its vocabulary text (byte-level for normal tokens: `"Ġthe"`).
    public func id(of token: String) -> Int32? { textToID[token] }

    /// Whether `id` is a CONTROL token.
    public func isControl(_ id: Int32) -> Bool { controlTokenIDs.contains(id) }

    /// Whether `id` ends generation (see `endOfGenerationIDs`).
    public func isEndOfGeneration(_ id: Int32) -> Bool { endOfGenerationIDs.contains(id) }

    /// The type of a token, or `nil` for an id outside the vocabulary.
    public func tokenType(_ id: Int32) -> TokenType? {
        id >= 0 && Int(id) < types.count ? types[Int(id)] : nil
    }

    /// The decoded bytes of one token by type (see `tokenBytes`).
    static func bytes(ofToken text: String, type: TokenType) -> [UInt8] {
        switch type {
        case .control, .unknown, .userDefined:
            return Array(text.utf8)
        case .byte:
            let utf8 = Array(text.utf8)
            if utf8.count == 6, text.hasPrefix("<0x"), text.hasSuffix(">"),
               let value = UInt8(String(decoding: utf8[3..<5], as: UTF8.self), radix: 16) {
                return [value]
            }
            return ByteLevel.decode(text)
        case .normal, .unused, .undefined:
            return ByteLevel.decode(text)
        }
    }
}
