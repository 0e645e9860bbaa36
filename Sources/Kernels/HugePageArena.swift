#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One anonymous memory region for data that every token streams through: the packed copies of
/// the weight matrices, and the K/V cache.
///
/// Decoding streams every weight once per token (about 100 MB for a 135M model) and, at depth,
/// the whole K/V cache; with 4 KiB pages that is tens of thousands of TLB misses per token
/// (measured with the default model: tg128 roughly 1.8× faster with the weights here). The arena is aligned to 2 MiB and
/// asks the kernel for transparent huge pages (`MADV_HUGEPAGE`, honoured when
/// `/sys/kernel/mm/transparent_hugepage/enabled` is `madvise` or `always`), so the walk over the
/// weights touches a few dozen pages instead. Without huge pages it is an ordinary allocation.
public final class HugePageArena: @unchecked Sendable {
    // @unchecked Sendable: `allocate` is called only by the owner that is setting up (packing
    // weights, creating a cache), before what points into the arena is shared.
    private let base: UnsafeMutableRawPointer
    private let mappedBytes: Int
    private let alignmentOffset: Int
    /// Usable bytes.
    public let capacity: Int
    private var used = 0

    static let hugePage = 2 << 20
    static let slotAlignment = 64

    /// Rounds `bytes` up to the arena's slot alignment.
    public static func slotSize(_ bytes: Int) -> Int { (bytes + slotAlignment - 1) / slotAlignment * slotAlignment }

    /// Maps `capacity` bytes (nil when the system refuses the mapping).
    public init?(capacity: Int) {
        let size = max(Self.hugePage, (capacity + Self.hugePage - 1) / Self.hugePage * Self.hugePage)
        let total = size + Self.hugePage  // room to align the start to a huge page
        guard let raw = mmap(nil, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
              raw != MAP_FAILED else { return nil }
        let offset = (Self.hugePage - Int(bitPattern: raw) % Self.hugePage) % Self.hugePage
        #if os(Linux)
        _ = madvise(raw + offset, size, MADV_HUGEPAGE)
        #endif
        base = raw
        mappedBytes = total
        alignmentOffset = offset
        self.capacity = size
    }

    deinit { munmap(base, mappedBytes) }

    /// The next `bytes` of the arena (64-byte aligned), or nil when it is full.
    public func allocate(_ bytes: Int) -> UnsafeMutableRawPointer? {
        let size = Self.slotSize(bytes)
        guard used + size <= capacity else { return nil }
        defer { used += size }
        return base + alignmentOffset + used
    }
}
