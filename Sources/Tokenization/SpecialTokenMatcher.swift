/// Finds special tokens in text and splits text around them exactly as llama.cpp's
/// `tokenizer_st_partition` does: for each special token, longest first, split every remaining
/// text fragment at each of its occurrences (left to right, non-overlapping).
///
/// Instead of one pass over the text per token, every occurrence of every token is found in one
/// pass (a byte trie walked only from bytes that start some token); the partition is then
/// replayed over those occurrences in llama.cpp's token order, which gives the same fragments.
struct SpecialTokenMatcher: Sendable {
    /// The tokens, in llama.cpp's partition order (longest first, then by id).
    let tokens: [(id: Int32, length: Int)]
    /// Trie edges: `node << 8 | byte` → child node (node 0 is the root).
    private let edges: EdgeTable
    /// For each trie node, the index in `tokens` of the token ending there, or -1.
    private let terminal: [Int32]
    /// Whether some token starts with this byte.
    private let startsToken: [Bool]
    /// The longest token, in bytes (0 when there are none).
    let maxLength: Int

    var isEmpty: Bool { tokens.isEmpty }

    /// - Parameter specials: `(id, bytes)` pairs; empty byte strings are ignored.
    init(_ specials: [(id: Int32, bytes: [UInt8])]) {
        let sorted = specials.filter { !$0.bytes.isEmpty }
            .sorted { $0.bytes.count != $1.bytes.count ? $0.bytes.count > $1.bytes.count : $0.id < $1.id }
        tokens = sorted.map { (id: $0.id, length: $0.bytes.count) }
        var edges: [UInt32: UInt32] = [:]
        var terminal: [Int32] = [-1]
        var starts = [Bool](repeating: false, count: 256)
        for (index, special) in sorted.enumerated() {
            starts[Int(special.bytes[0])] = true
            var node: UInt32 = 0
            for byte in special.bytes {
                let key = node << 8 | UInt32(byte)
                if let child = edges[key] {
                    node = child
                } else {
                    let child = UInt32(terminal.count)
                    terminal.append(-1)
                    edges[key] = child
                    node = child
                }
            }
            if terminal[Int(node)] < 0 { terminal[Int(node)] = Int32(index) }  // same text twice: the first in order
        }
        self.edges = EdgeTable(edges)
        self.terminal = terminal
        startsToken = starts
        maxLength = sorted.first?.bytes.count ?? 0
    }

    /// Every occurrence of every token in `base[0..<count]`, overlapping ones included, as
    /// `(tokenIndex, position)` pairs in no particular order.
    func occurrences(_ base: UnsafePointer<UInt8>, count: Int) -> [(index: Int32, position: Int)] {
        var found: [(index: Int32, position: Int)] = []
        if tokens.isEmpty { return found }
        startsToken.withUnsafeBufferPointer { starts in
            for i in 0..<count where starts[Int(base[i])] {
                var node: UInt32 = 0
                var j = i
                while j < count {
                    let child = edges.child(node << 8 | UInt32(base[j]))
                    if child == 0 { break }
                    node = child
                    j += 1
                    let t = terminal[Int(node)]
                    if t >= 0 { found.append((index: t, position: i)) }
                }
            }
        }
        return found
    }

    /// The fragments of `base[0..<count]` (llama.cpp `fragment_buffer_variant`), given its
    /// occurrences (from `occurrences`).
    func partition(count: Int, occurrences found: [(index: Int32, position: Int)]) -> [Fragment] {
        if found.isEmpty { return count > 0 ? [.text(start: 0, end: count)] : [] }
        let ordered = found.sorted { $0.index != $1.index ? $0.index < $1.index : $0.position < $1.position }
        var covered = [Bool](repeating: false, count: count)
        var accepted: [(position: Int, index: Int32)] = []
        var current: Int32 = -1
        var lastEnd = 0
        for occurrence in ordered {
            if occurrence.index != current {
                current = occurrence.index
                lastEnd = 0
            }
            let start = occurrence.position
            let end = start + tokens[Int(current)].length
            guard start >= lastEnd else { continue }
            var free = true
            for k in start..<end where covered[k] {
                free = false
                break
            }
            guard free else { continue }
            for k in start..<end { covered[k] = true }
            accepted.append((position: start, index: current))
            lastEnd = end
        }
        accepted.sort { $0.position < $1.position }
        var fragments: [Fragment] = []
        fragments.reserveCapacity(accepted.count * 2 + 1)
        var pos = 0
        for match in accepted {
            if match.position > pos { fragments.append(.text(start: pos, end: match.position)) }
            fragments.append(.token(tokens[Int(match.index)].id, start: match.position))
            pos = match.position + tokens[Int(match.index)].length
        }
        if pos < count { fragments.append(.text(start: pos, end: count)) }
        return fragments
    }

    /// The largest position `p ≤ limit` that no occurrence spans (`start < p < end`): text can be
    /// cut there without changing the partition of either side.
    func cleanCut(atMost limit: Int, occurrences found: [(index: Int32, position: Int)]) -> Int {
        guard limit > 0 else { return 0 }
        var crossed = [Bool](repeating: false, count: limit + 1)
        for o in found where o.position < limit {
            let end = min(o.position + tokens[Int(o.index)].length, limit + 1)
            if o.position + 1 < end {
                for k in (o.position + 1)..<end { crossed[k] = true }
            }
        }
        var p = limit
        while p > 0 && crossed[p] { p -= 1 }
        return p
    }
}

/// The trie's edges in an open-addressing table with a multiplicative hash (this lookup runs at
/// every byte that starts a special token, so `Dictionary`'s seeded hashing is too slow).
private struct EdgeTable: Sendable {
    private let keys: [UInt32]
    /// Child node per slot; 0 = empty (the root is never a child).
    private let values: [UInt32]
    private let shift: UInt64

    init(_ edges: [UInt32: UInt32]) {
        var bits: UInt64 = 4
        while (1 << bits) < edges.count * 2 { bits += 1 }
        let capacity = 1 << Int(bits)
        var keys = [UInt32](repeating: 0, count: capacity)
        var values = [UInt32](repeating: 0, count: capacity)
        shift = 64 - bits
        for (key, child) in edges {
            var slot = Int(truncatingIfNeeded: (UInt64(key) &* 0x9E37_79B9_7F4A_7C15) >> shift)
            while values[slot] != 0 { slot = (slot + 1) & (capacity - 1) }
            keys[slot] = key
            values[slot] = child
        }
        self.keys = keys
        self.values = values
    }

    /// The child for `node << 8 | byte`, or 0.
    @inline(__always)
    func child(_ key: UInt32) -> UInt32 {
        let mask = values.count - 1
        var slot = Int(truncatingIfNeeded: (UInt64(key) &* 0x9E37_79B9_7F4A_7C15) >> shift)
        while true {
            let v = values[slot]
            if v == 0 { return 0 }
            if keys[slot] == key { return v }
            slot = (slot + 1) & mask
        }
    }
}
