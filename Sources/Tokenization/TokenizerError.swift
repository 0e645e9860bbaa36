import Foundation

/// An error raised while building a tokenizer or tokenizing a byte stream.
public enum TokenizerError: Error, Equatable, Sendable, CustomStringConvertible, LocalizedError {
    /// The token list is empty.
    case emptyVocabulary
    /// `tokenizer.ggml.pre` names a pre-tokenizer this module does not implement.
    case unknownPreTokenizer(name: String)
    /// The token type list is shorter than the token list.
    case tokenTypesTooShort(count: Int, vocabularySize: Int)
    /// The score list is shorter than the token list.
    case scoresTooShort(count: Int, vocabularySize: Int)
    /// A merge line has no space separating its two halves.
    case malformedMerge(index: Int, line: String)
    /// A merge line names a token that is not in the vocabulary.
    case mergeReferencesUnknownToken(index: Int, line: String, token: String)
    /// The concatenation of a merge's two halves is not in the vocabulary.
    case mergeResultNotInVocabulary(index: Int, line: String, result: String)
    /// The document is not valid UTF-8 at this absolute byte offset.
    case invalidUTF8(byteOffset: Int64)
    /// The streaming encoder cannot be used with this tokenizer.
    case streamingUnsupported(reason: String)
    /// A saved streaming-encoder state could not be restored.
    case invalidStreamingState(reason: String)
    /// Bytes were fed after the final chunk.
    case streamAlreadyFinished

    public var description: String {
        switch self {
        case .emptyVocabulary:
            return "The tokenizer vocabulary is empty, so no text can be tokenized."
        case .unknownPreTokenizer(let name):
            return "The pre-tokenizer '\(name)' (tokenizer.ggml.pre) is not supported; supported names include smollm, starcoder, gpt-2, llama3, llama-bpe and qwen2."
        case .tokenTypesTooShort(let count, let size):
            return "The token type list has \(count) entries but the vocabulary has \(size) tokens."
        case .scoresTooShort(let count, let size):
            return "The token score list (tokenizer.ggml.scores) has \(count) entries but the vocabulary has \(size) tokens."
        case .malformedMerge(let index, let line):
            return "Merge \(index) ('\(line)') is malformed: it needs two tokens separated by a space."
        case .mergeReferencesUnknownToken(let index, let line, let token):
            return "Merge \(index) ('\(line)') refers to the token '\(token)', which is not in the vocabulary."
        case .mergeResultNotInVocabulary(let index, let line, let result):
            return "Merge \(index) ('\(line)') produces '\(result)', which is not in the vocabulary."
        case .invalidUTF8(let offset):
            return "The document is not valid UTF-8 at byte offset \(offset)."
        case .streamingUnsupported(let reason):
            return "The streaming encoder cannot be used with this tokenizer: \(reason)."
        case .invalidStreamingState(let reason):
            return "The saved streaming tokenizer state cannot be restored: \(reason)."
        case .streamAlreadyFinished:
            return "More bytes were fed to the streaming tokenizer after the final chunk."
        }
    }

    public var errorDescription: String? { description }
}
