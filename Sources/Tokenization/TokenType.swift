/// The GGUF `tokenizer.ggml.token_type` values (llama.cpp `llama_token_type`).
public enum TokenType: Int, Sendable {
    /// A token with no known type.
    case undefined = 0
    /// An ordinary text token.
    case normal = 1
    /// The unknown-token placeholder.
    case unknown = 2
    /// A control token such as `<|im_end|>`.
    case control = 3
    /// A user-defined token, always split out of text before pre-tokenization.
    case userDefined = 4
    /// A reserved, unused slot.
    case unused = 5
    /// A raw byte token `<0xXX>`.
    case byte = 6
}
