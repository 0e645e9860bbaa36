import Tokenization

/// A chat prompt format, recognised from the model's `tokenizer.chat_template` (or named with
/// `--template`). Control tokens are inserted by id; message text is never parsed for them.
public enum ChatTemplate: String, Sendable, CaseIterable, Codable {
    case chatml
    case llama2
    case llama3
    case mistral
    /// Gemma: `<start_of_turn>user\n…<end_of_turn>\n<start_of_turn>model\n` (a system message
    /// opens the first user turn, as Gemma's own template does).
    case gemma

    /// One message of a conversation.
    public struct Message: Sendable, Equatable, Codable {
        public var role: String
        public var content: String
        public init(role: String, content: String) {
            self.role = role
            self.content = content
        }
    }

    /// Recognises the format of a Jinja chat template by its markers (as llama.cpp does).
    public static func detect(_ template: String?) -> ChatTemplate? {
        guard let t = template else { return nil }
        if t.contains("<|im_start|>") { return .chatml }
        if t.contains("<|start_header_id|>") { return .llama3 }
        if t.contains("<start_of_turn>") { return .gemma }
        if t.contains("[INST]") { return t.contains("<<SYS>>") ? .llama2 : .mistral }
        return nil
    }

    /// Why a prompt cannot be built.
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let message: String
        public var description: String { message }
    }

    /// Token ids of `messages` followed by the opening of the assistant's reply.
    /// - Throws: ``Failure`` when a control token the format needs is not in the vocabulary.
    public func encode(_ messages: [Message], tokenizer: BPETokenizer) throws -> [Int32] {
        func control(_ text: String) throws -> Int32 {
            guard let id = tokenizer.id(of: text) else {
                throw Failure(message: "the model's vocabulary has no '\(text)' token, which the \(rawValue) chat template needs; choose another with --template.")
            }
            return id
        }
        func text(_ s: String) -> [Int32] { tokenizer.encode(s, parseSpecial: false) }
        var ids: [Int32] = []
        switch self {
        case .chatml:
            let start = try control("<|im_start|>"), end = try control("<|im_end|>")
            for m in messages {
                ids.append(start); ids += text(m.role + "\n" + m.content); ids.append(end); ids += text("\n")
            }
            ids.append(start); ids += text("assistant\n")
        case .llama3:
            let start = try control("<|start_header_id|>"), endHeader = try control("<|end_header_id|>"), eot = try control("<|eot_id|>")
            if let bos = tokenizer.id(of: "<|begin_of_text|>") { ids.append(bos) }
            for m in messages {
                ids.append(start); ids += text(m.role); ids.append(endHeader); ids += text("\n\n" + m.content); ids.append(eot)
            }
            ids.append(start); ids += text("assistant"); ids.append(endHeader); ids += text("\n\n")
        case .gemma:
            let start = try control("<start_of_turn>"), end = try control("<end_of_turn>")
            if let bos = tokenizer.bosID, tokenizer.addsBOS { ids.append(bos) }
            var system = ""
            for m in messages {
                if m.role == "system" { system = m.content; continue }
                let role = m.role == "assistant" ? "model" : m.role
                let body = system.isEmpty ? m.content : system + "\n\n" + m.content
                system = ""
                ids.append(start); ids += text(role + "\n" + body); ids.append(end); ids += text("\n")
            }
            ids.append(start); ids += text("model\n")
        case .llama2, .mistral:
            let bos = try control("<s>")
            var system = ""
            for m in messages {
                switch m.role {
                case "system": system = m.content
                case "user":
                    ids.append(bos)
                    let body = self == .llama2 && !system.isEmpty ? "<<SYS>>\n\(system)\n<</SYS>>\n\n\(m.content)" : m.content
                    ids += text("[INST] " + body + " [/INST]")
                    system = ""
                default:
                    ids += text(" " + m.content)
                    if let eos = tokenizer.id(of: "</s>") { ids.append(eos) }
                }
            }
        }
        return ids
    }
}
