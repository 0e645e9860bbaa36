import GGUF

/// One model family: what its GGUF metadata leaves implicit and which tensors its layers have.
///
/// Each architecture lives in its own file under `Architectures/` and is registered in
/// ``Architecture/registry``; the loader looks up `general.architecture` there, and everything
/// above the model layer sees only the resulting ``ModelConfig``.
public struct Architecture: Sendable {
    /// The `general.architecture` value (and metadata key prefix).
    public let name: String
    public let ropeStyle: RopeStyle
    public let activation: FeedForwardActivation
    /// The optional tensors every layer has (required for this architecture).
    public let blockTensors: BlockTensors
    /// Whether token embeddings are scaled by √embedding.
    public let scalesEmbedding: Bool
    /// Whether the file must hold a separate `output.weight` (otherwise the embedding is used
    /// when it is absent).
    public let requiresOutputMatrix: Bool
    /// Sets per-layer attention kinds and RoPE bases (the config's `layers` start as global
    /// layers with `rope.freq_base`).
    let configureLayers: @Sendable (GGUFFile, inout ModelConfig) throws -> Void

    public init(
        name: String, ropeStyle: RopeStyle, activation: FeedForwardActivation, blockTensors: BlockTensors = [],
        scalesEmbedding: Bool = false, requiresOutputMatrix: Bool = false,
        configureLayers: @escaping @Sendable (GGUFFile, inout ModelConfig) throws -> Void = { _, _ in }
    ) {
        self.name = name
        self.ropeStyle = ropeStyle
        self.activation = activation
        self.blockTensors = blockTensors
        self.scalesEmbedding = scalesEmbedding
        self.requiresOutputMatrix = requiresOutputMatrix
        self.configureLayers = configureLayers
    }

    /// Every architecture Sinkstream runs, by `general.architecture`.
    public static let registry: [String: Architecture] = Dictionary(
        uniqueKeysWithValues: [Architecture.llama, .qwen2, .gemma3].map { ($0.name, $0) })

    /// The registered architecture of a file.
    /// - Throws: ``ModelError`` `model.architecture` naming the file's architecture and the supported ones.
    public static func of(_ file: GGUFFile) throws -> Architecture {
        let found = file.string("general.architecture")
        guard let found, let architecture = registry[found] else {
            throw ModelError(code: "model.architecture", file: file.path, message: unsupportedReason(found))
        }
        return architecture
    }

    /// The sentence that says an architecture is not supported.
    static func unsupportedReason(_ found: String?) -> String {
        let supported = registry.keys.sorted().joined(separator: ", ")
        guard let found else { return "the file has no general.architecture key (supported architectures: \(supported))." }
        return "the architecture '\(found)' is not supported (supported: \(supported))."
    }
}
