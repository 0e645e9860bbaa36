/// Why a run cannot be resumed or queried.
public struct RunError: Error, CustomStringConvertible, Sendable, Equatable {
    public let code: String
    public let runID: String
    public let message: String
    public var description: String { message }

    public init(code: String, runID: String, message: String) {
        self.code = code
        self.runID = runID
        self.message = message
    }

    public static func unknownRun(_ id: String) -> RunError {
        RunError(code: "run.unknown", runID: id, message: "there is no run '\(id)' in this database; `sinkstream runs` lists them.")
    }
    public static func completed(_ id: String) -> RunError {
        RunError(code: "run.completed", runID: id, message: "run \(id) is already completed; nothing to resume.")
    }
    public static func wrongTask(_ id: String, _ task: String, expected: [String] = ["score"]) -> RunError {
        RunError(code: "run.task", runID: id, message: "run \(id) is a \(task) run and cannot be resumed as a \(expected.joined(separator: " or ")) run.")
    }
    public static func changed(_ id: String, what: String, path: String) -> RunError {
        RunError(code: "run.\(what)-changed", runID: id,
                 message: "run \(id) cannot be resumed: its \(what) \(path) is missing or has changed since the run started (SHA-256 differs).")
    }
    public static func storage(_ id: String, _ detail: String) -> RunError {
        RunError(code: "run.storage", runID: id,
                 message: "run \(id) is paused at its last checkpoint because the run store could not be written: \(detail) Resume with `sinkstream resume \(id)` once the problem is fixed.")
    }
    public static func damaged(_ id: String, _ detail: String) -> RunError {
        RunError(code: "run.damaged", runID: id, message: "run \(id) cannot be resumed: \(detail).")
    }
}
