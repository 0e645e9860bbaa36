/// Why a task (summarize, translate) cannot start, continue or write its output.
public struct TaskError: Error, CustomStringConvertible, Sendable, Equatable {
    /// Stable code, e.g. `task.output`.
    public let code: String
    /// What is wrong, as a sentence.
    public let message: String
    public var description: String { message }

    /// Creates an error.
    public init(code: String, message: String) {
        self.code = code
        self.message = message
    }
}
