import GGUF
import Kernels
import Logging
import Tokenization

/// A loaded llama-architecture model: configuration, weights and tokenizer.
///
/// The weights stay memory-mapped; only the fast path's packed copies are allocated.
public final class LlamaModel: Sendable {
    /// Path of the model file.
    public let path: String
    /// The parsed file (owns the mapping the weights point into).
    public let file: GGUFFile
    public let config: LlamaConfig
    public let weights: LlamaWeights
    public let tokenizer: BPETokenizer
    /// The precision the weights were prepared for.
    public let precision: Precision

    /// Loads and checks a model.
    /// - Parameters:
    ///   - path: a GGUF file of a llama-architecture model.
    ///   - precision: `.fast` repacks quantized weights for the integer kernels.
    /// - Throws: `GGUFError` for a malformed file, ``ModelError`` for an unusable model,
    ///   `TokenizerError` for a broken vocabulary.
    public init(path: String, precision: Precision = .fast, logger: Logger? = nil) throws {
        let file = try GGUFFile(path: path)
        try file.requireArchitecture(["llama"])
        let config = try LlamaConfig(file: file)
        let weights = try LlamaWeights(file: file, config: config)
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
        self.weights = weights
        self.tokenizer = tokenizer
        self.precision = precision
        logger?.debug("loaded \(path): \(config.layerCount) layers, \(config.embeddingLength) wide, vocabulary \(config.vocabularySize)")
    }

    /// Loads only the tokenizer of a model file (no weights are read or repacked).
    /// - Throws: as ``init(path:precision:logger:)`` for the header, metadata and vocabulary.
    public static func tokenizer(path: String) throws -> BPETokenizer {
        let file = try GGUFFile(path: path)
        try file.requireArchitecture(["llama"])
        return try loadTokenizer(file: file, config: try LlamaConfig(file: file))
    }

    private static func loadTokenizer(file: GGUFFile, config: LlamaConfig) throws -> BPETokenizer {
        try GGUFTokenizer.load(file: file, vocabularySize: config.vocabularySize)
    }

    /// The chat template stored in the file, if any.
    public var chatTemplate: String? { file.string("tokenizer.chat_template") }
}
