import Foundation
import Model
import Pipeline
import Store

/// Several documents given one task together: one run per document, all with one batch id,
/// registered before any is worked on so that `resume --batch` finds every one.
public struct TaskBatch: Sendable {
    /// The batch id the runs share.
    public let batchID: String
    /// The registered runs, in input order.
    public private(set) var runIDs: [String] = []
    /// Inputs that could not be registered, with why.
    public private(set) var failures: [(input: String, error: any Error)] = []

    /// Refuses a base model for a task unless `allowBase`.
    /// - Throws: ``ModelError`` `model.base-model`, naming instruct models and --allow-base.
    public static func checkInstructionTuned(model: LanguageModel, modelSHA256: String, kind: TaskKind, allowBase: Bool) throws {
        if !allowBase, model.instructionTuning(sha256: modelSHA256) == .base {
            let instruct = ModelCatalog.entries.filter(\.isInstruct).map(\.name)
            throw ModelError(
                code: "model.base-model", file: model.path,
                message: "this is a base model (not instruction-tuned): it continues text instead of following the \(kind.rawValue) instruction. Use an instruct model, e.g. --model \(instruct.joined(separator: " or --model ")) (see `sinkstream model list`), or pass --allow-base to run it anyway.")
        }
    }

    /// Registers one run per document. A document that cannot be registered is recorded as a
    /// failure and does not stop the others.
    /// - Parameters:
    ///   - documents: each input's name (for messages) and the path to read.
    ///   - configuration: each input's configuration (output paths differ per input).
    /// - Throws: ``ModelError`` `model.base-model` when the model is a base model and `allowBase`
    ///   is false (nothing is registered).
    public init(documents: [(input: String, path: () throws -> String)], model: LanguageModel, modelSHA256: String,
                store: any RunStoring, kind: TaskKind, allowBase: Bool, configuration: (String) -> TaskConfiguration) throws {
        try Self.checkInstructionTuned(model: model, modelSHA256: modelSHA256, kind: kind, allowBase: allowBase)
        batchID = "b" + String(UUID().uuidString.lowercased().filter { $0.isHexDigit }.prefix(6))
        for document in documents {
            do {
                runIDs.append(try TaskRun.register(documentPath: try document.path(), model: model, modelSHA256: modelSHA256,
                                                   config: configuration(document.input), store: store, batchID: batchID))
            } catch {
                failures.append((document.input, error))
            }
        }
    }
}
