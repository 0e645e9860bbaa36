/// The tokenizer of a GGUF model, matching llama.cpp, for both kinds of BPE vocabulary:
///
/// - byte-level BPE (`tokenizer.ggml.model = gpt2`: SmolLM2, Qwen 2.5): optional special-token
///   partition → llama.cpp pre-tokenizer → per-piece BPE over byte-level symbols (lowest merge
///   rank first, leftmost on ties) → ids;
/// - SentencePiece BPE (`tokenizer.ggml.model = llama`: Gemma 3), built with
///   `init(sentencePieceTokens:…)`: optional special-token partition → spaces escaped as "▁" →
///   merges by highest token score (leftmost on ties) → `<0xNN>` byte fallback.
///
/// Built from plain arrays (the GGUF `tokenizer.ggml.*` values), immutable and shareable.
/// `encode` never adds BOS; callers add ``bosID`` when ``addsBOS`` is set.
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
    /// Whether a document's ids start with ``bosID`` (`tokenizer.ggml.add_bos_token`).
    public let addsBOS: Bool
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
        "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>",
    ]

    let types: [TokenType]
    /// The bytes each token decodes to.
    let pieces: [[UInt8]]
    /// `pieces[i].count`.
    let pieceLengths: [Int32]
    let textToID: [String: Int32]
    /// The initial symbol id of each byte (a synthetic id ≥ vocabularySize if not in the vocabulary).
    let byteSymbols: [Int32]
    /// `left << 32 | right` → `rank << 32 | merged`.
    let merges: [UInt64: UInt64]
    /// For synthetic ids (index `id - vocabularySize`): llama.cpp's per-byte fallback tokens.
    let fallbacks: [[Int32]]
    /// Special tokens matched in text with parseSpecial (CONTROL, USER_DEFINED, UNKNOWN).
    let specialTokensAll: SpecialTokenMatcher
    /// USER_DEFINED tokens: matched even when parseSpecial is false.
    let specialTokensUser: SpecialTokenMatcher
    /// The SentencePiece model, for `tokenizer.ggml.model = llama` vocabularies.
    let sentencePiece: SentencePieceModel?

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
    ///   - addBOS: `tokenizer.ggml.add_bos_token` (default `false`).
    ///   - strictMerges: When `true` (default), a malformed merge line or one that refers to text
    ///     missing from the vocabulary is an error. When `false`, behave like llama.cpp: skip
    ///     malformed lines, still apply merges over unknown text, and fall back to single-byte
    ///     tokens for a final piece that is not a token.
    /// - Throws: `TokenizerError` for an empty vocabulary, an unknown pre-tokenizer, a short
    ///   type list, or (strict) a bad merge, naming the merge index and line.
    public init(
        tokens: [String], tokenTypes: [Int]?, merges: [String], preTokenizer: String,
        bosID: Int32?, eosID: Int32?, eotID: Int32? = nil, addBOS: Bool = false, strictMerges: Bool = true
    ) throws {
        guard let kind = PreTokenizer(ggmlName: preTokenizer) else {
            throw TokenizerError.unknownPreTokenizer(name: preTokenizer)
        }
        let vocabulary = try Vocabulary(tokens: tokens, tokenTypes: tokenTypes, bosID: bosID, eosID: eosID, eotID: eotID)
        let n = tokens.count
        let types = vocabulary.types
        let textToID = vocabulary.textToID
        self.tokens = tokens
        self.preTokenizer = kind
        self.bosID = vocabulary.bosID
        self.eosID = vocabulary.eosID
        self.eotID = vocabulary.eotID
        self.addsBOS = addBOS
        endOfGenerationIDs = vocabulary.endOfGeneration
        self.types = types
        controlTokenIDs = vocabulary.control
        sentencePiece = nil

        pieces = (0..<n).map { i in Self.bytes(ofToken: tokens[i], type: types[i]) }
        pieceLengths = pieces.map { Int32($0.count) }

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
        specialTokensAll = vocabulary.specialsAll
        specialTokensUser = vocabulary.specialsUser
    }

    /// Builds a SentencePiece tokenizer (`tokenizer.ggml.model = llama`) from the GGUF arrays.
    ///
    /// - Parameters:
    ///   - tokens: `tokenizer.ggml.tokens` ("▁" stands for a space).
    ///   - scores: `tokenizer.ggml.scores` (merge priority; `nil`: all 0).
    ///   - tokenTypes: `tokenizer.ggml.token_type`, or `nil` (every token NORMAL).
    ///   - bosID, eosID, eotID: as for byte-level BPE; ignored when out of range.
    ///   - unknownID: `tokenizer.ggml.unknown_token_id`, used for a byte without a `<0xNN>` token.
    ///   - addSpacePrefix: `tokenizer.ggml.add_space_prefix`: a space before text at the start
    ///     and after each special token.
    ///   - addBOS: `tokenizer.ggml.add_bos_token`.
    /// - Throws: `TokenizerError` for an empty vocabulary or short type or score lists.
    public init(
        sentencePieceTokens tokens: [String], scores: [Float]?, tokenTypes: [Int]?,
        bosID: Int32?, eosID: Int32?, eotID: Int32? = nil, unknownID: Int32? = nil,
        addSpacePrefix: Bool, addBOS: Bool
    ) throws {
        let vocabulary = try Vocabulary(tokens: tokens, tokenTypes: tokenTypes, bosID: bosID, eosID: eosID, eotID: eotID)
        let n = tokens.count
        if let scores, scores.count < n {
            throw TokenizerError.scoresTooShort(count: scores.count, vocabularySize: n)
        }
        let types = vocabulary.types
        self.tokens = tokens
        preTokenizer = .sentencePiece
        self.bosID = vocabulary.bosID
        self.eosID = vocabulary.eosID
        self.eotID = vocabulary.eotID
        addsBOS = addBOS
        endOfGenerationIDs = vocabulary.endOfGeneration
        self.types = types
        controlTokenIDs = vocabulary.control
        pieces = (0..<n).map { i in Self.sentencePieceBytes(ofToken: tokens[i], type: types[i]) }
        pieceLengths = pieces.map { Int32($0.count) }
        textToID = vocabulary.textToID
        byteSymbols = []
        merges = [:]
        fallbacks = []
        specialTokensAll = vocabulary.specialsAll
        specialTokensUser = vocabulary.specialsUser
        let unknown = unknownID.flatMap { $0 >= 0 && Int($0) < n ? $0 : nil }
        sentencePiece = SentencePieceModel(tokens: tokens, scores: scores ?? [Float](repeating: 0, count: n),
                                           unknownID: unknown, addSpacePrefix: addSpacePrefix)
    }

    /// Whether this is a SentencePiece vocabulary (`tokenizer.ggml.model = llama`).
    public var isSentencePiece: Bool { sentencePiece != nil }

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

    /// The decoded bytes of one SentencePiece token: "▁" → space for text tokens.
    static func sentencePieceBytes(ofToken text: String, type: TokenType) -> [UInt8] {
        switch type {
        case .control, .unknown, .userDefined:
            return Array(text.utf8)
        case .byte:
            let utf8 = Array(text.utf8)
            if utf8.count == 6, text.hasPrefix("<0x"), text.hasSuffix(">"),
               let value = UInt8(String(decoding: utf8[3..<5], as: UTF8.self), radix: 16) {
                return [value]
            }
            return utf8
        case .normal, .unused, .undefined:
            var bytes: [UInt8] = []
            bytes.reserveCapacity(text.utf8.count)
            var view = Array(text.utf8)[...]
            while let b = view.first {
                if b == 0xE2, view.count >= 3, view[view.startIndex + 1] == 0x96, view[view.startIndex + 2] == 0x81 {
                    bytes.append(0x20)
                    view = view.dropFirst(3)
                } else {
                    bytes.append(b)
                    view = view.dropFirst()
                }
            }
            return bytes
        }
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

/// What both vocabulary kinds share: types, ids, end-of-generation tokens, special tokens.
struct Vocabulary {
    var types: [TokenType]
    var textToID: [String: Int32]
    var bosID: Int32?
    var eosID: Int32?
    var eotID: Int32?
    var endOfGeneration: Set<Int32>
    var control: Set<Int32>
    var specialsAll: SpecialTokenMatcher
    var specialsUser: SpecialTokenMatcher

    init(tokens: [String], tokenTypes: [Int]?, bosID: Int32?, eosID: Int32?, eotID: Int32?) throws {
        guard !tokens.isEmpty else { throw TokenizerError.emptyVocabulary }
        let n = tokens.count
        if let tokenTypes, tokenTypes.count < n {
            throw TokenizerError.tokenTypesTooShort(count: tokenTypes.count, vocabularySize: n)
        }
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
        for name in BPETokenizer.endOfGenerationNames {
            if let id = textToID[name] {
                eog.insert(id)
                types[Int(id)] = .control
            }
        }
        if let eos = self.eosID { eog.insert(eos) }
        if let eot = self.eotID { eog.insert(eot) }
        endOfGeneration = eog
        self.types = types
        self.textToID = textToID
        control = Set((0..<n).filter { types[$0] == .control }.map { Int32($0) })

        func specials(_ include: (TokenType) -> Bool) -> SpecialTokenMatcher {
            SpecialTokenMatcher((0..<n).filter { include(types[$0]) && !tokens[$0].isEmpty }
                .map { (id: Int32($0), bytes: Array(tokens[$0].utf8)) })
        }
        specialsAll = specials { $0 == .control || $0 == .userDefined || $0 == .unknown }
        specialsUser = specials { $0 == .userDefined }
    }
}
