#if canImport(Glibc)
import Glibc
#endif
import Pipeline
import Testing

/// The allocator policy that keeps long runs in constant memory. The mmap threshold has no test
/// here: in a process whose heap already has free chunks (the whole suite) glibc serves even a
/// large block from them, so only a fresh process shows it (the memory curve of `bench-runs`).
@Suite("The process gives freed memory back", .serialized)
struct ProcessMemoryTests {
    private static let mib = 1 << 20

    /// Touches every page, so the block is resident.
    private func touch(_ pointer: UnsafeMutableRawPointer, _ bytes: Int) {
        memset(pointer, 1, bytes)
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
