/// Why a document cannot be read or tokenized.
public struct DocumentError: Error, CustomStringConvertible, Sendable, Equatable {
    /// Stable code, e.g. `document.invalid-utf8`.
    public let code: String
    /// The document's path.
    public let path: String
    /// The byte offset concerned, when there is one.
    public let byteOffset: Int64?
    /// What is wrong, as a sentence.
    public let message: String

    public init(code: String, path: String, byteOffset: Int64?, message: String) {
        self.code = code
        self.path = path
        self.byteOffset = byteOffset
        self.message = message
    }

    public var description: String {
        if let byteOffset { return "\(path): \(message) (at byte offset \(byteOffset))" }
        return "\(path): \(message)"
    }

    static func io(_ path: String, _ message: String, at offset: Int64? = nil) -> DocumentError {
        DocumentError(code: "document.io", path: path, byteOffset: offset, message: message)
    }
}
