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

    @Test("With the fixed threshold a 6 MiB block is unmapped when freed, even after an 8 MiB one raised glibc's")
    func largeBlocksLeave() throws {
        ProcessMemory.boundRetention()
        // glibc's dynamic threshold would now be 8 MiB: the next 6 MiB block would come from the heap.
        let first = try #require(malloc(8 * Self.mib))
        touch(first, 8 * Self.mib)
        free(first)
        let block = try #require(malloc(6 * Self.mib))
        touch(block, 6 * Self.mib)
        let pin = try #require(malloc(64))  // keeps the heap's top in use, so free cannot trim it
        let held = ProcessMemory.residentBytes()
        free(block)
        let after = ProcessMemory.residentBytes()
        free(pin)
        #expect(held - after >= 5 * Self.mib, "resident \(held) → \(after) bytes after freeing 6 MiB")
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
