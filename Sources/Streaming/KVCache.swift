import Model

/// Why a stream cannot continue under its attention mode.
public struct StreamingError: Error, CustomStringConvertible, Sendable, Equatable {
    public let code: String
    public let message: String
    public var description: String { message }

    static func contextExceeded(_ limit: Int) -> StreamingError {
        StreamingError(code: "streaming.context-exceeded",
                       message: "dense attention cannot go past the model's context length of \(limit) tokens; use --mode sink (attention sinks plus a rolling window) to score documents of any length.")
    }
}

/// A KV cache policy: which tokens stay cached, and how each new token sees them.
///
/// The rows themselves live in a ``KVStorage`` shaped by ``storageShape(maxChunk:)``; a policy
/// only does the bookkeeping, so every mode shares one forward pass.
public protocol KVCache: Sendable {
    /// Sink tokens kept forever (0 for dense and window).
    var sinkCount: Int { get }
    /// Sink slots and ring slots the storage needs when up to `maxChunk` tokens arrive at once.
    func storageShape(maxChunk: Int) -> (sinks: Int, ring: Int)
    /// Admits token `token` (the next index of the stream) and returns how it attends.
    mutating func append(_ token: Int) throws(StreamingError) -> QueryView
    /// Token ranges held after the last append (for checkpoints).
    var liveRanges: [Range<Int>] { get }
    /// Bookkeeping to save in a checkpoint (restored with ``restore(_:)``).
    var state: [Int] { get }
    /// Restores bookkeeping saved from ``state``.
    mutating func restore(_ state: [Int]) throws(StreamingError)
}
