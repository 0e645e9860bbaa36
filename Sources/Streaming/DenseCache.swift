import Model

/// Dense attention: every earlier token, absolute positions, up to the context length.
public struct DenseCache: KVCache {
    public let contextLength: Int
    private var count = 0

    public init(contextLength: Int) { self.contextLength = contextLength }

    public var sinkCount: Int { 0 }
    public func storageShape(maxChunk: Int) -> (sinks: Int, ring: Int) { (0, contextLength) }

    public mutating func append(_ token: Int) throws(StreamingError) -> QueryView {
        guard token < contextLength else { throw .contextExceeded(contextLength) }
        count = token + 1
        return .dense(token)
    }

    public var liveRanges: [Range<Int>] { [0..<count] }
    public var state: [Int] { [count] }
    public mutating func restore(_ state: [Int]) throws(StreamingError) {
        guard state.count == 1, state[0] >= 0, state[0] <= contextLength else { throw .badState("dense") }
        count = state[0]
    }
}

extension StreamingError {
    static func badState(_ mode: String) -> StreamingError {
        StreamingError(code: "streaming.bad-state", message: "the saved \(mode) cache state is inconsistent.")
    }
}
