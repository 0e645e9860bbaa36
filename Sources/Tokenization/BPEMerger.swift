/// Byte-pair merging of one pre-token, as llama.cpp's `llm_tokenizer_bpe_session` does it:
/// repeatedly merge the adjacent pair with the lowest merge rank, the leftmost one on ties.
///
/// Symbols are integer ids; a pair key is `left << 32 | right` and maps to
/// `rank << 32 | mergedID`. Holds reusable buffers, so keep one per encoding run.
struct BPEMerger {
    private var ids: [Int32] = []
    private var next: [Int32] = []
    private var prev: [Int32] = []
    private var heap: [HeapEntry] = []

    private struct HeapEntry {
        /// `rank << 32 | leftIndex`: smaller is merged first.
        var order: UInt64
        var right: Int32
        var leftID: Int32
        var rightID: Int32
    }

    /// Merges `symbols` (the initial per-byte ids) and appends the final symbol ids to `output`.
    mutating func merge(_ symbols: UnsafeBufferPointer<Int32>, merges: [UInt64: UInt64], into output: inout [Int32]) {
        let n = symbols.count
        if n == 0 { return }
        if n == 1 {
            output.append(symbols[0])
            return
        }
        ids.removeAll(keepingCapacity: true)
        next.removeAll(keepingCapacity: true)
        prev.removeAll(keepingCapacity: true)
        heap.removeAll(keepingCapacity: true)
        for i in 0..<n {
            ids.append(symbols[i])
            next.append(i + 1 < n ? Int32(i + 1) : -1)
            prev.append(Int32(i - 1))
        }
        for i in 0..<(n - 1) { push(left: Int32(i), right: Int32(i + 1), merges: merges) }

        while let top = pop() {
            let left = Int(UInt32(truncatingIfNeeded: top.order))
            let right = Int(top.right)
            // Skip pairs that are out of date (either side already merged into something else).
            guard ids[left] == top.leftID, ids[right] == top.rightID, next[left] == top.right else { continue }
            guard let value = merges[UInt64(UInt32(bitPattern: top.leftID)) << 32 | UInt64(UInt32(bitPattern: top.rightID))] else { continue }
            ids[left] = Int32(bitPattern: UInt32(truncatingIfNeeded: value))
            ids[right] = -1
            let after = next[right]
            next[left] = after
            next[right] = -1
            if after >= 0 { prev[Int(after)] = Int32(left) }
            if prev[left] >= 0 { push(left: prev[left], right: Int32(left), merges: merges) }
            if after >= 0 { push(left: Int32(left), right: after, merges: merges) }
        }
        var i: Int32 = 0
        while i >= 0 {
            output.append(ids[Int(i)])
            i = next[Int(i)]
        }
    }

    @inline(__always)
    private mutating func push(left: Int32, right: Int32, merges: [UInt64: UInt64]) {
        let l = ids[Int(left)]
        let r = ids[Int(right)]
        guard let value = merges[UInt64(UInt32(bitPattern: l)) << 32 | UInt64(UInt32(bitPattern: r))] else { return }
        let rank = value >> 32
        heap.append(HeapEntry(order: rank << 32 | UInt64(UInt32(bitPattern: left)), right: right, leftID: l, rightID: r))
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            if heap[parent].order <= heap[child].order { break }
            heap.swapAt(parent, child)
            child = parent
        }
    }

    private mutating func pop() -> HeapEntry? {
        guard let last = heap.popLast() else { return nil }
        if heap.isEmpty { return last }
        let top = heap[0]
        heap[0] = last
        var parent = 0
        let count = heap.count
        while true {
            let l = 2 * parent + 1
            if l >= count { break }
            var smallest = l
            if l + 1 < count && heap[l + 1].order < heap[l].order { smallest = l + 1 }
            if heap[parent].order <= heap[smallest].order { break }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
        return top
    }
}
