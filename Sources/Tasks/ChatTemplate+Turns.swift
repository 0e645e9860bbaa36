import Tokenization

extension ChatTemplate {
    /// The tokens that close an assistant reply, before the next user message in the same
    /// conversation (the generated end token itself is never fed back; this is).
    /// - Throws: ``ChatTemplate/Failure`` when the vocabulary lacks the format's end token.
    public func endOfTurn(tokenizer: BPETokenizer) throws -> [Int32] {
        func control(_ text: String) throws -> Int32 {
            guard let id = tokenizer.id(of: text) else {
                throw Failure(message: "the model's vocabulary has no '\(text)' token, which the \(rawValue) chat template needs; choose another with --template.")
            }
            return id
        }
        switch self {
        case .chatml: return [try control("<|im_end|>")] + tokenizer.encode("\n", parseSpecial: false)
        case .llama3: return [try control("<|eot_id|>")]
        case .llama2, .mistral: return [try control("</s>")]
        case .gemma: return [try control("<end_of_turn>")] + tokenizer.encode("\n", parseSpecial: false)
        }
    }

    /// The model's own format (`tokenizer.chat_template`), else ChatML when its tokens exist.
    public static func forModel(chatTemplate: String?, tokenizer: BPETokenizer) -> ChatTemplate? {
        detect(chatTemplate) ?? (tokenizer.id(of: "<|im_start|>") != nil ? .chatml
            : tokenizer.id(of: "<start_of_turn>") != nil ? .gemma : nil)
    }
}
