/// A text tokenizer that maps between text and model token ids.
///
/// Implementations are immutable and safe to share between tasks.
public protocol Tokenizer: Sendable {
    /// Splits `text` into token ids.
    ///
    /// - Parameters:
    ///   - text: The text to tokenize. Documents are tokenized with `parseSpecial: false`.
    ///   - parseSpecial: When `true`, occurrences of control-token text (for example
    ///     `<|im_end|>`) become the control token; when `false` they are plain text.
    /// - Returns: The token ids, without any BOS/EOS added.
    func encode(_ text: String, parseSpecial: Bool) -> [Int32]

    /// Turns token ids back into text; bytes that do not form valid UTF-8 become U+FFFD.
    func decode(_ ids: [Int32]) -> String

    /// The raw bytes a token stands for (control tokens: their text); empty for an unknown id.
    func tokenBytes(_ id: Int32) -> [UInt8]

    /// The number of tokens in the vocabulary.
    var vocabularySize: Int { get }
}
