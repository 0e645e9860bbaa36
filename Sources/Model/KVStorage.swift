/// Which cached tokens one query attends to, and at which RoPE position the sinks see it.
///
/// A query for token `t` attends to the sink tokens `0..<sinkCount` and to the recent tokens
/// `recentFirst...t`. Recent keys are stored rotated at their absolute index, so their distance
/// to the query (rotated at `t`) is `t - j` as the slot positions of StreamingLLM require; the
/// sinks are scored with a second copy of the query rotated at `sinkPosition` (the current
/// token's slot index), which gives them the distance `sinkPosition - s`.
public struct QueryView: Sendable, Equatable, Codable {
    public var sinkCount: Int
    public var recentFirst: Int
    public var sinkPosition: Int

    public init(sinkCount: Int, recentFirst: Int, sinkPosition: Int) {
        self.sinkCount = sinkCount
        self.recentFirst = recentFirst
        self.sinkPosition = sinkPosition
    }

    /// The dense view of token `t`: everything before it, absolute positions.
    public static func dense(_ t: Int) -> QueryView {
        QueryView(sinkCount: 0, recentFirst: 0, sinkPosition: t)
    }
}

/// The key and value rows of cached tokens, for every layer: a sink area plus a ring.
///
/// Token `j < sinkCapacity` lives in sink slot `j`; later tokens live in ring slot
/// `(j - sinkCapacity) % ringCapacity`, so the ring holds the last `ringCapacity` non-sink
/// tokens and nothing is ever moved or reallocated as the document grows. Layout per layer and
/// KV head: keys transposed, `[headDimension][slotStride]` (so scores for 8 consecutive slots are
/// one vector FMA per dimension), values `[slotStride][headDimension]`; keys are stored already
/// rotated at their absolute position.
public final class KVStorage {
    public let layerCount: Int
    public let kvHeadCount: Int
    public let headDimension: Int
    public let sinkCapacity: Int
    public let ringCapacity: Int
    /// Slots per layer and head (`sinkCapacity + ringCapacity`).
    public let slotCount: Int
    /// Allocated slots per layer and head: `slotCount` rounded up to a multiple of 8, so that
    /// kernels may read whole 8-slot vectors past the last valid slot.
    public let slotStride: Int
    let keys: UnsafeMutablePointer<Float>
    let values: UnsafeMutablePointer<Float>

    /// Allocates storage (pages are only touched as tokens arrive).
    public init(layerCount: Int, kvHeadCount: Int, headDimension: Int, sinkCapacity: Int, ringCapacity: Int) {
        self.layerCount = layerCount
        self.kvHeadCount = kvHeadCount
        self.headDimension = headDimension
        self.sinkCapacity = sinkCapacity
        self.ringCapacity = max(1, ringCapacity)
        self.slotCount = sinkCapacity + self.ringCapacity
        self.slotStride = (slotCount + 7) / 8 * 8
        // + 8: kernels read whole 8-slot vectors past the last slot of the last block.
        let count = layerCount * kvHeadCount * slotStride * headDimension + 8
        keys = .allocate(capacity: count)
        values = .allocate(capacity: count)
    }

    deinit {
        keys.deallocate()
        values.deallocate()
    }

    /// Bytes the storage for these sizes allocates (as ``byteCount`` would report).
    public static func byteCount(layerCount: Int, kvHeadCount: Int, headDimension: Int, slots: Int) -> Int {
        2 * layerCount * kvHeadCount * ((slots + 7) / 8 * 8) * headDimension * MemoryLayout<Float>.size
    }

    /// Bytes allocated for keys and values.
    public var byteCount: Int { 2 * layerCount * kvHeadCount * slotStride * headDimension * MemoryLayout<Float>.size }

    /// The slot that token `token` occupies.
    @inline(__always)
    public func slot(_ token: Int) -> Int {
        token < sinkCapacity ? token : sinkCapacity + (token - sinkCapacity) % ringCapacity
    }

    /// Start of one layer and head's block (the same for keys and values).
    @inline(__always)
    func base(layer: Int, head: Int) -> Int {
        (layer * kvHeadCount + head) * slotStride * headDimension
    }

    /// Writes one token's key (strided, transposed) and value row.
    @inline(__always)
    func store(layer: Int, head: Int, slot: Int, key: UnsafePointer<Float>, value: UnsafePointer<Float>) {
        let b = base(layer: layer, head: head)
        let k = keys + b + slot
        for i in 0..<headDimension { k[i * slotStride] = key[i] }
        (values + b + slot * headDimension).update(from: value, count: headDimension)
    }

    /// Reads one token's key and value row.
    @inline(__always)
    func load(layer: Int, head: Int, slot: Int, key: UnsafeMutablePointer<Float>, value: UnsafeMutablePointer<Float>) {
        let b = base(layer: layer, head: head)
        let k = keys + b + slot
        for i in 0..<headDimension { key[i] = k[i * slotStride] }
        value.update(from: values + b + slot * headDimension, count: headDimension)
    }

    /// Floats of K and V for one token across all layers (the checkpoint row size).
    public var floatsPerToken: Int { 2 * layerCount * kvHeadCount * headDimension }

    /// Copies token `token`'s key and value rows of every layer into `out` (``floatsPerToken``).
    public func exportToken(_ token: Int, into out: UnsafeMutablePointer<Float>) {
        let s = slot(token)
        var p = out
        for layer in 0..<layerCount {
            for head in 0..<kvHeadCount {
                load(layer: layer, head: head, slot: s, key: p, value: p + headDimension)
                p += 2 * headDimension
            }
        }
    }

    /// Restores token `token`'s rows from the layout written by ``exportToken(_:into:)``.
    public func importToken(_ token: Int, from source: UnsafePointer<Float>) {
        let s = slot(token)
        var p = source
        for layer in 0..<layerCount {
            for head in 0..<kvHeadCount {
                store(layer: layer, head: head, slot: s, key: p, value: p + headDimension)
                p += 2 * headDimension
            }
        }
    }
}
