import Foundation
import TestSupport
import Tokenization

/// The Qwen 2.5 and Gemma 3 tokenizers, read from their GGUF files in the per-user model cache
/// (`sinkstream model fetch qwen2.5-coder-0.5b-instruct` / `gemma-3-270m` put them there) or
/// from `SINKSTREAM_QWEN2_MODEL` / `SINKSTREAM_GEMMA3_MODEL`.
enum ModelTokenizerFixture: String, CaseIterable, Sendable, CustomStringConvertible {
    case qwen2
    case gemma3

    var description: String { rawValue }

    var fileName: String {
        switch self {
        case .qwen2: return "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
        case .gemma3: return "gemma-3-270m-q4_k_m.gguf"
        }
    }

    var environmentKey: String { self == .qwen2 ? "SINKSTREAM_QWEN2_MODEL" : "SINKSTREAM_GEMMA3_MODEL" }

    /// The model file, or `nil` when it is not on disk.
    var path: String? {
        let env = ProcessInfo.processInfo.environment
        if let path = env[environmentKey], !path.isEmpty {
            return FileManager.default.fileExists(atPath: path) ? path : nil
        }
        let cache: String
        if let xdg = env["XDG_CACHE_HOME"], !xdg.isEmpty { cache = xdg } else { cache = (env["HOME"] ?? NSHomeDirectory()) + "/.cache" }
        let path = cache + "/sinkstream/models/" + fileName
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }

    var isAvailable: Bool { path != nil }
    static var anyAvailable: Bool { allCases.contains { $0.isAvailable } }
    static var available: [ModelTokenizerFixture] { allCases.filter(\.isAvailable) }

    private static let qwenTokenizer: Result<BPETokenizer, any Error> = Result { try load(.qwen2) }
    private static let gemmaTokenizer: Result<BPETokenizer, any Error> = Result { try load(.gemma3) }

    func tokenizer() throws -> BPETokenizer {
        try (self == .qwen2 ? Self.qwenTokenizer : Self.gemmaTokenizer).get()
    }

    /// The golden cases (`fixtures/tokenizer_cases_<arch>.json`); ids include the BOS that
    /// llama-tokenize adds when the vocabulary says so.
    func cases() throws -> [TokenizerCase] {
        try TokenizerCase.all(file: "tokenizer_cases_\(rawValue).json")
    }

    /// Passage A (`fixtures/<arch>_A.json`): its text and llama.cpp's ids (with BOS for Gemma).
    func passageA() throws -> TokenizerCase {
        let file = "\(rawValue)_A.json"
        let json = try Fixtures.json(file)
        guard let text = json["text"] as? String, let ids = json["token_ids"] as? [Int] else {
            throw TokenizerFixture.Malformed(source: file, key: "text/token_ids")
        }
        return TokenizerCase(name: "\(rawValue)_A", parseSpecial: false, text: text, ids: ids.map { Int32($0) })
    }

    private static func load(_ which: ModelTokenizerFixture) throws -> BPETokenizer {
        guard let path = which.path else { throw TokenizerFixture.Unavailable() }
        let kv = try TestGGUFMetadataReader.read(path: path)
        func strings(_ key: String) throws -> [String] {
            guard case .array(let items)? = kv[key] else { throw TokenizerFixture.Malformed(source: path, key: key) }
            return try items.map {
                guard case .string(let s) = $0 else { throw TokenizerFixture.Malformed(source: path, key: key) }
                return s
            }
        }
        func int(_ key: String) -> Int32? {
            if case .int(let v)? = kv[key] { return Int32(truncatingIfNeeded: v) }
            return nil
        }
        func bool(_ key: String) -> Bool? {
            if case .bool(let v)? = kv[key] { return v }
            return nil
        }
        var types: [Int]?
        if case .array(let items)? = kv["tokenizer.ggml.token_type"] {
            types = items.compactMap { if case .int(let v) = $0 { return Int(v) } else { return nil } }
        }
        let tokens = try strings("tokenizer.ggml.tokens")
        guard case .string(let model)? = kv["tokenizer.ggml.model"] else {
            throw TokenizerFixture.Malformed(source: path, key: "tokenizer.ggml.model")
        }
        if model == "llama" {
            var scores: [Float]?
            if case .array(let items)? = kv["tokenizer.ggml.scores"] {
                scores = items.compactMap { if case .float(let v) = $0 { return Float(v) } else { return nil } }
            }
            return try BPETokenizer(
                sentencePieceTokens: tokens, scores: scores, tokenTypes: types,
                bosID: int("tokenizer.ggml.bos_token_id"), eosID: int("tokenizer.ggml.eos_token_id"),
                unknownID: int("tokenizer.ggml.unknown_token_id"),
                addSpacePrefix: bool("tokenizer.ggml.add_space_prefix") ?? true,
                addBOS: bool("tokenizer.ggml.add_bos_token") ?? true)
        }
        var pre = "default"
        if case .string(let s)? = kv["tokenizer.ggml.pre"] { pre = s }
        return try BPETokenizer(
            tokens: tokens, tokenTypes: types, merges: try strings("tokenizer.ggml.merges"), preTokenizer: pre,
            bosID: int("tokenizer.ggml.bos_token_id"), eosID: int("tokenizer.ggml.eos_token_id"),
            addBOS: bool("tokenizer.ggml.add_bos_token") ?? false)
    }
}

extension BPETokenizer {
    /// A document's ids as llama.cpp makes them: BOS first when the vocabulary adds it.
    func documentIDs(_ text: String, parseSpecial: Bool = false) -> [Int32] {
        let ids = encode(text, parseSpecial: parseSpecial)
        if addsBOS, let bos = bosID { return [bos] + ids }
        return ids
    }
}
