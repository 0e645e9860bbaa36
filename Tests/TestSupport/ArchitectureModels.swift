import Foundation
import Kernels
import Model

/// The real third-party models of the other architectures, with their golden files, loaded
/// once per precision for the whole test run.
public struct ArchitectureModel: Sendable, CustomStringConvertible {
    public let architecture: String
    public let environmentKey: String
    public let fileName: String
    public let golden: String
    public let generation: String

    public static let qwen2 = ArchitectureModel(
        architecture: "qwen2", environmentKey: "SINKSTREAM_TEST_QWEN2", fileName: "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        golden: "qwen2_A.json", generation: "qwen2_gen.json")
    public static let gemma3 = ArchitectureModel(
        architecture: "gemma3", environmentKey: "SINKSTREAM_TEST_GEMMA3", fileName: "gemma-3-270m-q4_k_m.gguf",
        golden: "gemma3_A.json", generation: "gemma3_gen.json")
    public static let all = [qwen2, gemma3]

    public var description: String { architecture }
    public var path: String? { Fixtures.catalogModelPath(environmentKey: environmentKey, fileName: fileName) }

    nonisolated(unsafe) private static var cache: [String: LanguageModel] = [:]
    private static let lock = NSLock()

    /// The loaded model.
    /// - Throws: when the file is missing (integration tests need it: `scripts/test.sh` fetches it).
    public func load(_ precision: Precision) throws -> LanguageModel {
        guard let path else {
            throw ModelError(code: "test.missing-model", file: fileName,
                             message: "the \(architecture) test model is not in the model cache; run `sinkstream model fetch` for it or set \(environmentKey).")
        }
        Self.lock.lock()
        defer { Self.lock.unlock() }
        let key = "\(architecture)/\(precision)"
        if let m = Self.cache[key] { return m }
        let m = try LanguageModel(path: path, precision: precision)
        Self.cache[key] = m
        return m
    }
}
