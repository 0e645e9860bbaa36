#if canImport(Glibc)
import Glibc
#endif
import Pipeline
import Testing

/// The allocator policy that keeps long runs in constant memory. Both tests run in one process
/// with the other suites, so they measure their own allocations with margins, serialized.
@Suite("The process gives freed memory back", .serialized)
struct ProcessMemoryTests {
    private static let mib = 1 << 20

    /// Touches every page, so the block is resident.
    private func touch(_ pointer: UnsafeMutableRawPointer, _ bytes: Int) {
        memset(pointer, 1, bytes)
    }

    /// Whether glibc gave `pointer` its own mapping (the IS_MMAPPED bit of the chunk's size word,
    /// just before the block).
    private func isMapped(_ pointer: UnsafeMutableRawPointer) -> Bool {
        (pointer.load(fromByteOffset: -MemoryLayout<Int>.size, as: Int.self) & 2) != 0
    }

    @Test("With the fixed threshold a 1.5 MiB block (a checkpoint's K/V block) is mapped on its own and unmapped when freed, even after a 2 MiB one raised glibc's; a 512 KiB block is not")
    func largeBlocksLeave() throws {
        ProcessMemory.boundRetention()
        // glibc's dynamic threshold would now be 2 MiB: the next 1.5 MiB block would come from the heap.
        let first = try #require(malloc(2 * Self.mib))
        touch(first, 2 * Self.mib)
        free(first)
        let size = 3 * Self.mib / 2
        let block = try #require(malloc(size))
        touch(block, size)
        let small = try #require(malloc(Self.mib / 2))
        #expect(isMapped(block))
        #expect(!isMapped(small))
        free(small)
        let held = ProcessMemory.residentBytes()
        free(block)
        let after = ProcessMemory.residentBytes()
        #expect(held - after >= Self.mib, "resident \(held) → \(after) bytes after freeing 1.5 MiB")
    }

    @Test("releaseFreed returns the free pages inside the heap, not only at its top")
    func fragmentedHeapShrinks() throws {
        // 32 MiB of 2 KiB blocks, every 64th kept: the free space lies between live blocks.
        let count = 16_384, size = 2048
        var blocks: [UnsafeMutableRawPointer] = []
        blocks.reserveCapacity(count)
        for _ in 0..<count {
            let p = try #require(malloc(size))
            touch(p, size)
            blocks.append(p)
        }
        for (i, p) in blocks.enumerated() where i % 64 != 63 { free(p) }
        let before = ProcessMemory.residentBytes()
        ProcessMemory.releaseFreed()
        let after = ProcessMemory.residentBytes()
        for (i, p) in blocks.enumerated() where i % 64 == 63 { free(p) }
        #expect(before - after >= 20 * Self.mib, "resident \(before) → \(after) bytes after releaseFreed")
    }
}
