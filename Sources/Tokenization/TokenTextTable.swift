/// An open-addressing hash table from a token's vocabulary bytes to its id, looked up straight
/// from a byte range (no `String` is made), for SentencePiece's "is this text a token" test.
///
/// When two tokens have the same text the later id wins, as in llama.cpp's `token_to_id`.
struct TokenTextTable: Sendable {
    private let bytes: [UInt8]
    private let offsets: [Int32]
    /// Slot → token id + 1 (0 is empty).
    private let slots: [Int32]
    private let mask: Int

    init(_ texts: [[UInt8]]) {
        var bytes: [UInt8] = []
        var offsets: [Int32] = [0]
        bytes.reserveCapacity(texts.reduce(0) { $0 + $1.count })
        offsets.reserveCapacity(texts.count + 1)
        for text in texts {
            bytes.append(contentsOf: text)
            offsets.append(Int32(bytes.count))
        }
        var capacity = 16
        while capacity < texts.count * 2 { capacity <<= 1 }
        var slots = [Int32](repeating: 0, count: capacity)
        let mask = capacity - 1
        bytes.withUnsafeBufferPointer { all in
            for (id, text) in texts.enumerated() {
                let h = text.withUnsafeBufferPointer { Self.hash($0.baseAddress!, $0.count) }
                var slot = Int(truncatingIfNeeded: h) & mask
                while true {
                    let existing = slots[slot]
                    if existing == 0 {
                        slots[slot] = Int32(id + 1)
                        break
                    }
                    let e = Int(existing - 1)
                    let start = Int(offsets[e]), end = Int(offsets[e + 1])
                    if end - start == text.count && text.elementsEqual(all[start..<end]) {
                        slots[slot] = Int32(id + 1)  // later id wins
                        break
                    }
                    slot = (slot + 1) & mask
                }
            }
        }
        self.bytes = bytes
        self.offsets = offsets
        self.slots = slots
        self.mask = mask
    }

    @inline(__always)
    static func hash(_ p: UnsafePointer<UInt8>, _ n: Int) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325 ^ UInt64(n)
        for i in 0..<n { h = (h ^ UInt64(p[i])) &* 0x0000_0100_0000_01B3 }
        return h ^ (h >> 29)
    }

    /// The id of the token whose vocabulary text is `p[0..<n]`, or -1.
    @inline(__always)
    func id(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int32 {
        guard n > 0 else { return -1 }
        var slot = Int(truncatingIfNeeded: Self.hash(p, n)) & mask
        return slots.withUnsafeBufferPointer { slots in
            offsets.withUnsafeBufferPointer { offsets in
                bytes.withUnsafeBufferPointer { bytes in
                    while true {
                        let entry = slots[slot]
                        if entry == 0 { return -1 }
                        let e = Int(entry - 1)
                        let start = Int(offsets[e])
                        if Int(offsets[e + 1]) - start == n {
                            var k = 0
                            while k < n && bytes[start + k] == p[k] { k += 1 }
                            if k == n { return Int32(e) }
                        }
                        slot = (slot + 1) & mask
                    }
                }
            }
        }
    }
}
