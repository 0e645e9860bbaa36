/// The K/V rows of every layer of a model, in one ``KVStorage`` per layer group.
///
/// Global layers (group 0) follow the stream's attention mode and are shaped by its cache;
/// sliding-window layers (Gemma 3's local layers, group 1) keep their own ring of the model's
/// window plus one chunk, whatever the mode. A model without sliding layers has one group, and
/// then every row, size and checkpoint layout is exactly that group's ``KVStorage``'s.
///
/// Checkpoint rows hold every group's part of a token, group after group; a part whose group no
/// longer holds the token is written as zeros and skipped on import (its slot may belong to a
/// newer token by then).
public final class LayeredKVStorage {
    /// The storages, global layers first.
    public let groups: [KVStorage]
    /// For each model layer: its group and its index inside that group.
    public let layerGroup: [Int], layerIndex: [Int]
    /// The window of group 1's layers, when the model has sliding layers.
    public let slidingWindow: Int?
    public let element: KVElement

    /// Allocates storage for `config`'s layers (pages are only touched as tokens arrive).
    /// - Parameters:
    ///   - sinkCapacity, ringCapacity: the global layers' shape (the mode's cache shape).
    ///   - maxChunk: the most tokens a forward pass stores at once (sizes the sliding ring).
    public init(config c: ModelConfig, sinkCapacity: Int, ringCapacity: Int, maxChunk: Int, element: KVElement = .float32) {
        var group: [Int] = [], index: [Int] = [], counts = [0, 0]
        var window: Int?
        for layer in c.layers {
            let g: Int
            if case .sliding(let w) = layer.attention { g = 1; window = w } else { g = 0 }
            group.append(g)
            index.append(counts[g])
            counts[g] += 1
        }
        var groups = [KVStorage(layerCount: counts[0], kvHeadCount: c.kvHeadCount, headDimension: c.headDimension,
                                sinkCapacity: sinkCapacity, ringCapacity: ringCapacity, element: element)]
        if let window, counts[1] > 0 {
            groups.append(KVStorage(layerCount: counts[1], kvHeadCount: c.kvHeadCount, headDimension: c.headDimension,
                                    sinkCapacity: 0, ringCapacity: window + max(1, maxChunk), element: element))
        }
        self.groups = groups
        self.layerGroup = group
        self.layerIndex = index
        self.slidingWindow = window
        self.element = element
    }

    /// Bytes the storage for these sizes allocates.
    public static func byteCount(config c: ModelConfig, slots: Int, maxChunk: Int, element: KVElement = .float32) -> Int {
        let sliding = c.layers.filter { if case .sliding = $0.attention { true } else { false } }.count
        let window = c.slidingWindow ?? 0
        return (KVStorage.byteCount(layerCount: c.layerCount - sliding, kvHeadCount: c.kvHeadCount, headDimension: c.headDimension, slots: slots)
            + KVStorage.byteCount(layerCount: sliding, kvHeadCount: c.kvHeadCount, headDimension: c.headDimension, slots: window + maxChunk))
            * element.byteCount / 4
    }

    /// Bytes allocated for keys and values.
    public var byteCount: Int { groups.reduce(0) { $0 + $1.byteCount } }

    /// The storage and in-group index of model layer `layer`.
    @inline(__always)
    public func storage(layer: Int) -> (KVStorage, Int) { (groups[layerGroup[layer]], layerIndex[layer]) }

    /// The tokens a sliding layer still needs after `processed` tokens: the last `window − 1`.
    public func slidingLive(processed: Int) -> Range<Int>? {
        guard let window = slidingWindow, groups.count > 1 else { return nil }
        return max(0, processed - window + 1)..<processed
    }

    /// Floats of K and V for one token across all layers (the checkpoint row size).
    public var floatsPerToken: Int { groups.reduce(0) { $0 + $1.floatsPerToken } }

    /// Bytes of one token's checkpoint row (halves for a half cache, floats for a float cache).
    public var checkpointBytesPerToken: Int { groups.reduce(0) { $0 + $1.checkpointBytesPerToken } }

    /// Writes the checkpoint rows of `tokens` to `out`; `holds(group, token)` says whether a
    /// group still holds the token (its part is zeros otherwise).
    public func exportRows(_ tokens: Range<Int>, into out: UnsafeMutableRawPointer, holds: (Int, Int) -> Bool) {
        if groups.count == 1 { groups[0].exportRows(tokens, into: out); return }
        var p = out
        for token in tokens {
            for (g, storage) in groups.enumerated() {
                let bytes = storage.checkpointBytesPerToken
                if holds(g, token) { storage.exportRows(token..<(token + 1), into: p) }
                else { p.initializeMemory(as: UInt8.self, repeating: 0, count: bytes) }
                p += bytes
            }
        }
    }

    /// Restores token `token` from a checkpoint row of `bytesPerToken` bytes (halves or floats);
    /// only the parts of groups for which `holds(group)` is true are imported. Returns false for
    /// a row of any other size.
    public func importRow(_ token: Int, from row: UnsafeRawPointer, bytesPerToken: Int, holds: (Int) -> Bool) -> Bool {
        if groups.count == 1 { return groups[0].importRow(token, from: row, bytesPerToken: bytesPerToken) }
        let total = floatsPerToken
        guard bytesPerToken == 2 * total || bytesPerToken == 4 * total else { return false }
        let unit = bytesPerToken / total
        var p = row
        for (g, storage) in groups.enumerated() {
            let bytes = storage.floatsPerToken * unit
            if holds(g), !storage.importRow(token, from: p, bytesPerToken: bytes) { return false }
            p += bytes
        }
        return true
    }
}
