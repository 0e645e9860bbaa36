import CKernels
import Kernels

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

/// How a ``KVStorage`` holds key and value elements.
public enum KVElement: String, Sendable, Codable {
    /// 32-bit floats (the verification path).
    case float32
    /// IEEE half precision: half the memory and bandwidth (the fast path).
    case float16

    /// Bytes of one element.
    public var byteCount: Int { self == .float32 ? 4 : 2 }

    /// The element each precision caches: half precision on the fast path, floats on the f32 path.
    public init(for precision: Precision) {
        self = precision == .fast ? .float16 : .float32
    }
}

/// The key and value rows of cached tokens, for every layer: a sink area plus a ring.
///
/// Token `j < sinkCapacity` lives in sink slot `j`; later tokens live in ring slot
/// `(j - sinkCapacity) % ringCapacity`, so the ring holds the last `ringCapacity` non-sink
/// tokens and nothing is ever moved or reallocated as the document grows. Layout per layer and
/// KV head: keys transposed, `[headDimension][slotStride]` (so scores for 8 consecutive slots are
/// one vector FMA per dimension), values `[slotStride][headDimension]`; keys are stored already
/// rotated at their absolute position. Elements are floats or halves (``KVElement``); the
/// checkpoint rows of ``exportToken(_:into:)`` are floats either way.
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
    /// The element type of the stored rows.
    public let element: KVElement
    /// The kernel path of the half attention, fixed when the storage is created (so that the
    /// process-wide ISA selection changing later cannot change this stream's bits).
    let kernelISA: Int32 = ss_isa()
    private let rawKeys: UnsafeMutableRawPointer
    private let rawValues: UnsafeMutableRawPointer
    /// Holds `rawKeys` and `rawValues` on huge pages; nil when they are ordinary allocations.
    private let arena: HugePageArena?
    /// Storage up to this size goes on huge pages. Every token's attention walks the whole
    /// cache; with 4 KiB pages the transposed key rows alone touch a page per dimension. Larger
    /// caches (a dense cache sized for a long context) keep ordinary pages, which the kernel
    /// only backs as tokens arrive.
    public static let hugePageLimit = 64 << 20

    /// Float keys (only when `element == .float32`).
    var keys: UnsafeMutablePointer<Float> { rawKeys.assumingMemoryBound(to: Float.self) }
    /// Float values (only when `element == .float32`).
    var values: UnsafeMutablePointer<Float> { rawValues.assumingMemoryBound(to: Float.self) }
    /// Half keys, IEEE bits (only when `element == .float16`).
    var halfKeys: UnsafeMutablePointer<UInt16> { rawKeys.assumingMemoryBound(to: UInt16.self) }
    /// Half values, IEEE bits (only when `element == .float16`).
    var halfValues: UnsafeMutablePointer<UInt16> { rawValues.assumingMemoryBound(to: UInt16.self) }

    /// Allocates storage (pages are only touched as tokens arrive).
    /// - Parameter element: floats (default) or halves.
    public init(layerCount: Int, kvHeadCount: Int, headDimension: Int, sinkCapacity: Int, ringCapacity: Int,
                element: KVElement = .float32) {
        self.layerCount = layerCount
        self.kvHeadCount = kvHeadCount
        self.headDimension = headDimension
        self.sinkCapacity = sinkCapacity
        self.ringCapacity = max(1, ringCapacity)
        self.slotCount = sinkCapacity + self.ringCapacity
        self.slotStride = (slotCount + 7) / 8 * 8
        // + 8: kernels read whole 8-slot vectors past the last slot of the last block.
        self.element = element
        let count = layerCount * kvHeadCount * slotStride * headDimension + 8
        let bytes = count * element.byteCount
        if 2 * bytes <= Self.hugePageLimit, let arena = HugePageArena(capacity: 2 * HugePageArena.slotSize(bytes)),
           let k = arena.allocate(bytes), let v = arena.allocate(bytes) {
            (self.arena, rawKeys, rawValues) = (arena, k, v)
        } else {
            arena = nil
            rawKeys = .allocate(byteCount: bytes, alignment: 64)
            rawValues = .allocate(byteCount: bytes, alignment: 64)
        }
        if element == .float32 {
            rawKeys.bindMemory(to: Float.self, capacity: count)
            rawValues.bindMemory(to: Float.self, capacity: count)
        } else {
            rawKeys.bindMemory(to: UInt16.self, capacity: count)
            rawValues.bindMemory(to: UInt16.self, capacity: count)
        }
    }

    deinit {
        if arena == nil {
            rawKeys.deallocate()
            rawValues.deallocate()
        }
    }

    /// Bytes the storage for these sizes allocates (as ``byteCount`` would report).
    public static func byteCount(layerCount: Int, kvHeadCount: Int, headDimension: Int, slots: Int) -> Int {
        2 * layerCount * kvHeadCount * ((slots + 7) / 8 * 8) * headDimension * MemoryLayout<Float>.size
    }

    /// Bytes allocated for keys and values.
    public var byteCount: Int { 2 * layerCount * kvHeadCount * slotStride * headDimension * element.byteCount }

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
        if element == .float16 {
            ss_f32_to_f16_row(key, Int64(headDimension), halfKeys + b + slot, Int64(slotStride))
            ss_f32_to_f16_row(value, Int64(headDimension), halfValues + b + slot * headDimension, 1)
            return
        }
        let k = keys + b + slot
        for i in 0..<headDimension { k[i * slotStride] = key[i] }
        (values + b + slot * headDimension).update(from: value, count: headDimension)
    }

    /// Reads one token's key and value row.
    @inline(__always)
    func load(layer: Int, head: Int, slot: Int, key: UnsafeMutablePointer<Float>, value: UnsafeMutablePointer<Float>) {
        let b = base(layer: layer, head: head)
        if element == .float16 {
            ss_f16_to_f32_row(halfKeys + b + slot, Int64(slotStride), Int64(headDimension), key)
            ss_f16_to_f32_row(halfValues + b + slot * headDimension, 1, Int64(headDimension), value)
            return
        }
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

    /// Bytes of one token's checkpoint row: IEEE halves for a half cache (exactly the values it
    /// holds), floats for a float cache.
    public var checkpointBytesPerToken: Int { floatsPerToken * (element == .float16 ? 2 : 4) }

    /// Writes the checkpoint rows of `tokens` (layout of ``exportToken(_:into:)``, elements as
    /// ``checkpointBytesPerToken`` says) to `out`.
    public func exportRows(_ tokens: Range<Int>, into out: UnsafeMutableRawPointer) {
        let perToken = floatsPerToken
        if element == .float32 {
            let floats = out.assumingMemoryBound(to: Float.self)
            for token in tokens { exportToken(token, into: floats + (token - tokens.lowerBound) * perToken) }
            return
        }
        let row = UnsafeMutablePointer<Float>.allocate(capacity: perToken)
        defer { row.deallocate() }
        let halves = out.assumingMemoryBound(to: UInt16.self)
        for token in tokens {
            exportToken(token, into: row)
            ss_f32_to_f16_row(row, Int64(perToken), halves + (token - tokens.lowerBound) * perToken, 1)
        }
    }

    /// Restores token `token` from a checkpoint row of `bytesPerToken` bytes: halves
    /// (`2 × floatsPerToken`) or floats (`4 × floatsPerToken`, as older checkpoints stored half
    /// caches too). Returns false for any other size.
    public func importRow(_ token: Int, from row: UnsafeRawPointer, bytesPerToken: Int) -> Bool {
        let perToken = floatsPerToken
        switch bytesPerToken {
        case perToken * 4:
            importToken(token, from: row.assumingMemoryBound(to: Float.self))
        case perToken * 2:
            let floats = UnsafeMutablePointer<Float>.allocate(capacity: perToken)
            defer { floats.deallocate() }
            ss_f16_to_f32_row(row.assumingMemoryBound(to: UInt16.self), 1, Int64(perToken), floats)
            importToken(token, from: floats)
        default:
            return false
        }
        return true
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
