/// Why a model could not be loaded or run.
public struct ModelError: Error, CustomStringConvertible, Sendable, Equatable {
    /// Stable machine-readable code, e.g. `model.missing-tensor`.
    public let code: String
    /// The model file concerned.
    public let file: String
    /// What is wrong, as a sentence.
    public let message: String

    public init(code: String, file: String, message: String) {
        self.code = code
        self.file = file
        self.message = message
    }

    public var description: String { "\(file): \(message)" }

    static func missingKey(_ file: String, _ key: String) -> ModelError {
        ModelError(code: "model.missing-key", file: file, message: "the metadata key '\(key)' is missing or has the wrong type.")
    }
    static func missingTensor(_ file: String, _ name: String) -> ModelError {
        ModelError(code: "model.missing-tensor", file: file, message: "the tensor '\(name)' is missing.")
    }
    static func shape(_ file: String, _ name: String, expected: [Int], found: [Int]) -> ModelError {
        ModelError(code: "model.shape-mismatch", file: file,
                   message: "the tensor '\(name)' has shape \(found) but the metadata implies \(expected).")
    }
    static func invalid(_ file: String, _ message: String) -> ModelError {
        ModelError(code: "model.invalid", file: file, message: message)
    }
}
