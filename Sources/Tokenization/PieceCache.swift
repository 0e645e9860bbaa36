/// A bounded memo of pre-token bytes → token ids for one encoding run, in memory that does not
/// grow with the document.
///
/// Pieces of up to 7 bytes whose result is one or two tokens live in an allocation-free
/// `[UInt64: UInt64]` table (bytes and length packed into the key, ids into the value), for a
/// stream sized for `capacity` entries up front; longer pieces (up to `maxLongPiece` bytes) use a byte-array
/// key and two small allocations an entry, so they get a smaller table (`longCapacity`): a few
/// thousand hold the frequent long words, and a run does not collect every rare one. Each table
/// is emptied when it is full.
struct PieceCache {
    private var small: [UInt64: UInt64] = [:]
    private var long: [[UInt8]: [Int32]] = [:]
    let capacity: Int
    let longCapacity: Int
    static let maxLongPiece = 64

    /// - Parameter reserve: allocate both tables' full size now (a stream's encoder, whose
    ///   memory should be the same after 50,000 tokens as after millions), not as they fill
    ///   (one `encode` call of a short text).
    init(capacity: Int = 1 << 16, longCapacity: Int = 1 << 12, reserve: Bool = false) {
        self.capacity = capacity
        self.longCapacity = longCapacity
        if reserve {
            small.reserveCapacity(capacity)
            long.reserveCapacity(longCapacity)
        }
    }

    @inline(__always)
    static func smallKey(_ p: UnsafePointer<UInt8>, _ n: Int) -> UInt64 {
        var key = UInt64(n) << 56
        for i in 0..<n { key |= UInt64(p[i]) << (8 * UInt64(i)) }
        return key
    }

    /// Appends the cached ids of the piece to `output` and returns `true`, or returns `false`.
    @inline(__always)
    func lookup(_ p: UnsafePointer<UInt8>, _ n: Int, into output: inout [Int32]) -> Bool {
        if n <= 7, let value = small[Self.smallKey(p, n)] {
            output.append(Int32(bitPattern: UInt32(truncatingIfNeeded: value)))
            let second = UInt32(truncatingIfNeeded: value >> 32)
            if second != UInt32.max { output.append(Int32(bitPattern: second)) }
            return true
        }
        if n > Self.maxLongPiece || long.isEmpty { return false }
        guard let ids = long[Array(UnsafeBufferPointer(start: p, count: n))] else { return false }
        output.append(contentsOf: ids)
        return true
    }

    /// Remembers the ids of a piece.
    mutating func store(_ p: UnsafePointer<UInt8>, _ n: Int, ids: ArraySlice<Int32>) {
        if n <= 7 && ids.count <= 2 && !ids.isEmpty {
            if small.count >= capacity { small.removeAll(keepingCapacity: true) }
            let first = UInt64(UInt32(bitPattern: ids[ids.startIndex]))
            let second = ids.count == 2 ? UInt64(UInt32(bitPattern: ids[ids.startIndex + 1])) : UInt64(UInt32.max)
            small[Self.smallKey(p, n)] = first | second << 32
        } else if n <= Self.maxLongPiece {
            if long.count >= longCapacity { long.removeAll(keepingCapacity: true) }
            long[Array(UnsafeBufferPointer(start: p, count: n))] = Array(ids)
        }
    }
}
