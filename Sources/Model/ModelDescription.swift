import GGUF
import Kernels

/// What a GGUF file holds, and what (if anything) keeps Sinkstream from running it.
///
/// Built from any file the GGUF reader can parse, supported or not, so `model info` can describe
/// a file it cannot run, and the loader can name every reason at once instead of the first.
public struct ModelDescription: Sendable {
    public let path: String
    public let name: String?
    public let architecture: String?
    public let fileBytes: Int
    /// Elements of all tensors.
    public let parameterCount: Int
    /// Tensor count per ggml type name (`Q4_K`, `F32`, …), supported or not.
    public let tensorTypes: [(type: String, count: Int)]
    /// `tokenizer.ggml.model` (`gpt2`: byte-level BPE, `llama`: SentencePiece).
    public let vocabularyKind: String?
    public let vocabularySize: Int?
    public let contextLength: Int?
    /// The chat template's family, recognised from its text (`chatml`, `gemma`, …), if any.
    public let chatTemplate: String?
    /// Everything Sinkstream cannot run in this file yet, as sentences; empty when it can.
    public let unsupported: [String]

    /// The tokenizer kinds the loader knows.
    public static let vocabularyKinds: Set<String> = ["gpt2", "llama"]

    /// Describes an opened file (open it with `unsupportedTensorTypes: .record` to describe
    /// files with tensor types this build does not read).
    public init(file: GGUFFile) {
        path = file.path
        name = file.string("general.name")
        let arch = file.string("general.architecture")
        architecture = arch
        fileBytes = file.fileSize
        var counts: [String: Int] = [:]
        var parameters = 0
        for t in file.tensors {
            counts[t.type.name, default: 0] += 1
            parameters += t.elementCount
        }
        for t in file.unsupportedTensors {
            counts[t.typeName ?? "type \(t.typeID)", default: 0] += 1
            parameters += t.elementCount
        }
        parameterCount = parameters
        tensorTypes = counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.map { ($0.key, $0.value) }
        vocabularyKind = file.string("tokenizer.ggml.model")
        vocabularySize = file.stringArray("tokenizer.ggml.tokens")?.count
        contextLength = arch.flatMap { file.integer("\($0).context_length") }
        chatTemplate = file.string("tokenizer.chat_template").map(Self.templateFamily)

        var reasons: [String] = []
        if arch == nil || Architecture.registry[arch!] == nil { reasons.append(Architecture.unsupportedReason(arch)) }
        var unreadable: [String: [String]] = [:]
        for t in file.unsupportedTensors { unreadable[t.typeName ?? "type \(t.typeID)", default: []].append(t.name) }
        for t in file.tensors where TensorFormat.of(Int32(t.type.rawValue)) == nil {
            unreadable[t.type.name, default: []].append(t.name)
        }
        for (type, names) in unreadable.sorted(by: { $0.key < $1.key }) {
            let example = names.first.map { " (e.g. '\($0)')" } ?? ""
            reasons.append("\(names.count) tensor\(names.count == 1 ? " has" : "s have") the type \(type)\(example), which is not supported.")
        }
        if let kind = vocabularyKind, !Self.vocabularyKinds.contains(kind) {
            reasons.append("the tokenizer type '\(kind)' is not supported (supported: byte-level BPE 'gpt2', SentencePiece 'llama').")
        } else if vocabularyKind == nil {
            reasons.append("the file has no tokenizer (tokenizer.ggml.model is missing).")
        }
        unsupported = reasons
    }

    /// A chat template's family from its text.
    static func templateFamily(_ template: String) -> String {
        if template.contains("<|im_start|>") { return "chatml" }
        if template.contains("<start_of_turn>") { return "gemma" }
        if template.contains("<|start_header_id|>") { return "llama3" }
        if template.contains("[INST]") { return "mistral" }
        return "other"
    }

    /// Throws one error that names every reason the file cannot run, if there is any.
    /// - Throws: ``ModelError`` `model.unsupported`.
    public func requireSupported() throws {
        guard !unsupported.isEmpty else { return }
        let list = unsupported.count == 1 ? unsupported[0] : unsupported.enumerated().map { "(\($0.offset + 1)) \($0.element)" }.joined(separator: " ")
        throw ModelError(code: "model.unsupported", file: path,
                         message: "Sinkstream cannot run this model: \(list) `sinkstream model info --model \(path)` describes the file.")
    }
}
