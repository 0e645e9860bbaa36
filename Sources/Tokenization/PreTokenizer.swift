/// The llama.cpp pre-tokenizer regex sets this module implements, chosen by `tokenizer.ggml.pre`.
public enum PreTokenizer: String, Sendable, CaseIterable {
    /// Every `\p{N}` alone, then the GPT-2 pattern (llama.cpp groups smollm with starcoder,
    /// refact, command-r, codeshell, exaone, minerva-7b and mellum2).
    case digitsThenGPT2
    /// The GPT-2 pattern `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)`.
    case gpt2
    /// The Llama 3 pattern (`\p{N}{1,3}`, case-insensitive contractions, newline runs);
    /// a piece that is itself a token skips the merges (`ignore_merges`).
    case llama3
    /// The Qwen 2 pattern (llama.cpp `LLAMA_VOCAB_PRE_TYPE_QWEN2`): the Llama 3 pattern with
    /// single digits (`\p{N}` instead of `\p{N}{1,3}`), merges always applied.
    case qwen2
    /// No regex: SentencePiece vocabularies (`tokenizer.ggml.model = llama`) merge over whole
    /// text. Text is still cut before a space that no vocabulary token can span, which changes
    /// nothing in the result (see `SpaceJoiners`).
    case sentencePiece

    /// The pre-tokenizer llama.cpp uses for a `tokenizer.ggml.pre` value, or `nil`.
    ///
    /// `"gpt2"` is accepted as an alias of llama.cpp's `"gpt-2"`. llama.cpp's `"default"`
    /// (four chained regexes) is not implemented. `.sentencePiece` is chosen by the vocabulary
    /// type, not by this name.
    public init?(ggmlName name: String) {
        switch name {
        case "smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva-7b", "mellum2":
            self = .digitsThenGPT2
        case "gpt-2", "gpt2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es", "jina-v2-de",
             "a.x-4.0", "mellum", "modern-bert", "mpt", "olmo", "jais", "trillion", "granite-docling",
             "exaone4", "jina-v1-en", "jina-v2-code", "roberta-bpe":
            self = .gpt2
        case "llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2",
             "jina-v5-nano":
            self = .llama3
        case "qwen2", "deepseek-r1-qwen":
            self = .qwen2
        default:
            return nil
        }
    }

    /// Whether a piece that is already a whole token bypasses the merges (llama.cpp `ignore_merges`).
    var ignoresMerges: Bool { self == .llama3 }
}
