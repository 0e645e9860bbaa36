import Foundation
import GGUF
import Kernels
import Logging
import Tokenization

/// A loaded model of any registered ``Architecture``: configuration, weights and tokenizer.
///
/// The weights stay memory-mapped; only the fast path's packed copies are allocated.
public final class LanguageModel: Sendable {
    /// Path of the model file.
    public let path: String
    /// The parsed file (owns the mapping the weights point into).
    public let file: GGUFFile
    public let config: ModelConfig
    public let architecture: Architecture
    public let weights: ModelWeights
    public let tokenizer: BPETokenizer
    /// The precision the weights were prepared for.
    public let precision: Precision

    /// Loads and checks a model.
    /// - Parameters:
    ///   - path: a GGUF file of a registered architecture.
    ///   - precision: `.fast` repacks quantized weights for the integer kernels.
    /// - Throws: `GGUFError` for a malformed file, ``ModelError`` for an unusable model,
    ///   `TokenizerError` for a broken vocabulary.
    public init(path: String, precision: Precision = .fast, logger: Logger? = nil) throws {
        let file = try GGUFFile(path: path, unsupportedTensorTypes: .record)
        // Every reason the file cannot run (architecture, tensor types, tokenizer), in one error.
        try ModelDescription(file: file).requireSupported()
        let architecture = try Architecture.of(file)
        let config = try ModelConfig(file: file, architecture: architecture)
        let weights = try ModelWeights(file: file, config: config, architecture: architecture)
        let tokenizer = try Self.loadTokenizer(file: file, config: config)
        if precision == .fast {
            // In layer order, in one huge-page arena: decoding walks the weights in this order.
            let matrices = weights.allMatrices
            let arena = HugePageArena(capacity: matrices.reduce(0) { $0 + HugePageArena.slotSize($1.packedSize) })
            for matrix in matrices { matrix.pack(into: arena) }
            // The packed copies serve every product now; only embedding rows are read from the
            // mapping from here on, page by page as tokens need them.
            file.releaseResidentPages()
        }
        self.path = path
        self.file = file
        self.config = config
        self.architecture = architecture
        self.weights = weights
        self.tokenizer = tokenizer
        self.precision = precision
        logger?.debug("loaded \(path): \(architecture.name), \(config.layerCount) layers, \(config.embeddingLength) wide, vocabulary \(config.vocabularySize)")
    }

    private static func loadTokenizer(file: GGUFFile, config: ModelConfig) throws -> BPETokenizer {
        try GGUFTokenizer.load(file: file, vocabularySize: config.vocabularySize)
    }

    /// The chat template stored in the file, if any.
    public var chatTemplate: String? { file.string("tokenizer.chat_template") }
}

/// Whether a model was instruction-tuned (it follows a chat prompt) or is a base model (it
/// continues text).
public enum InstructionTuning: String, Sendable {
    case instruct, base, unknown
}

extension LanguageModel {
    /// From the catalog when the file is a catalog model (by its SHA-256 when given, or its file
    /// name), else from the file's `general.finetune`, `general.name` and `general.basename`
    /// (`…-Instruct`, `…-it`, `…-chat` against `…-base`, `…-pt`).
    public func instructionTuning(sha256: String? = nil) -> InstructionTuning {
        let fileName = (path as NSString).lastPathComponent
        if let entry = ModelCatalog.entries.first(where: { $0.sha256 == sha256 || $0.fileName == fileName }) {
            return entry.isInstruct ? .instruct : .base
        }
        let words = ["general.finetune", "general.name", "general.basename"]
            .compactMap { file.string($0)?.lowercased() }
            .flatMap { $0.split(whereSeparator: { !$0.isLetter && !$0.isNumber }).map(String.init) }
        if words.contains(where: { ["instruct", "it", "chat", "sft", "dpo", "rlhf"].contains($0) }) { return .instruct }
        if words.contains("base") || words.contains("pt") { return .base }
        return .unknown
    }
}
