import GGUF
import Tokenization

/// Builds a model's tokenizer from its GGUF `tokenizer.ggml.*` metadata, for every vocabulary
/// kind this project supports:
///
/// - `tokenizer.ggml.model = gpt2`: byte-level BPE with the pre-tokenizer named by
///   `tokenizer.ggml.pre` (SmolLM2: `smollm`, Qwen 2.5: `qwen2`, Llama 3: `llama-bpe`, …);
/// - `tokenizer.ggml.model = llama`: SentencePiece with `tokenizer.ggml.scores` (Gemma 3).
///
/// Whether documents start with BOS comes from `tokenizer.ggml.add_bos_token`; when the key is
/// absent, llama.cpp's defaults apply (SentencePiece and Llama 3 vocabularies add BOS, other
/// byte-level ones do not).
public enum GGUFTokenizer {
    /// Loads the tokenizer of `file`.
    ///
    /// - Parameters:
    ///   - file: The parsed model file.
    ///   - vocabularySize: The model's vocabulary size (rows of the embedding), checked against
    ///     the token list; `nil` skips the check.
    /// - Throws: ``ModelError`` (`model.tokenizer`, `model.missing-key`, `model.vocab-mismatch`)
    ///   naming the file and key, or `TokenizerError` for a broken vocabulary.
    public static func load(file: GGUFFile, vocabularySize: Int?) throws -> BPETokenizer {
        let path = file.path
        let kind = file.string("tokenizer.ggml.model") ?? "(none)"
        guard kind == "gpt2" || kind == "llama" else {
            throw ModelError(code: "model.tokenizer", file: path,
                             message: "the tokenizer type '\(kind)' (tokenizer.ggml.model) is not supported; supported are byte-level BPE ('gpt2') and SentencePiece ('llama').")
        }
        guard let tokens = file.stringArray("tokenizer.ggml.tokens") else { throw ModelError.missingKey(path, "tokenizer.ggml.tokens") }
        if let vocabularySize, tokens.count != vocabularySize {
            throw ModelError(code: "model.vocab-mismatch", file: path,
                             message: "the vocabulary has \(tokens.count) tokens but the model's vocabulary size is \(vocabularySize).")
        }
        let types = file.integerArray("tokenizer.ggml.token_type")
        if let types, types.count != tokens.count {
            throw ModelError(code: "model.vocab-mismatch", file: path,
                             message: "tokenizer.ggml.token_type has \(types.count) entries for \(tokens.count) tokens.")
        }
        func id(_ key: String) -> Int32? {
            guard let v = file.integer(key), v >= 0, v < tokens.count else { return nil }
            return Int32(v)
        }
        let addBOSKey = file.bool("tokenizer.ggml.add_bos_token")
        if kind == "llama" {
            let scores = file.floatArray("tokenizer.ggml.scores")
            if let scores, scores.count != tokens.count {
                throw ModelError(code: "model.vocab-mismatch", file: path,
                                 message: "tokenizer.ggml.scores has \(scores.count) entries for \(tokens.count) tokens.")
            }
            return try BPETokenizer(
                sentencePieceTokens: tokens, scores: scores, tokenTypes: types,
                bosID: id("tokenizer.ggml.bos_token_id"), eosID: id("tokenizer.ggml.eos_token_id"),
                eotID: id("tokenizer.ggml.eot_token_id"), unknownID: id("tokenizer.ggml.unknown_token_id"),
                addSpacePrefix: file.bool("tokenizer.ggml.add_space_prefix") ?? true,
                addBOS: addBOSKey ?? true)
        }
        guard let merges = file.stringArray("tokenizer.ggml.merges") else { throw ModelError.missingKey(path, "tokenizer.ggml.merges") }
        let pre = file.string("tokenizer.ggml.pre") ?? "default"
        return try BPETokenizer(
            tokens: tokens, tokenTypes: types, merges: merges, preTokenizer: pre,
            bosID: id("tokenizer.ggml.bos_token_id"), eosID: id("tokenizer.ggml.eos_token_id"),
            eotID: id("tokenizer.ggml.eot_token_id"),
            addBOS: addBOSKey ?? (PreTokenizer(ggmlName: pre) == .llama3))
    }

    /// Loads only the tokenizer of the model file at `path` (no weights are read).
    /// - Throws: `GGUFError` for a malformed file, else as ``load(file:vocabularySize:)``.
    public static func load(path: String) throws -> BPETokenizer {
        try load(file: try GGUFFile(path: path), vocabularySize: nil)
    }
}
