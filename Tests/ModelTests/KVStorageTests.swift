import Model
import Testing

@Suite("KV storage")
struct KVStorageTests {
    @Test("Export and import round-trip a token's rows for both element types", arguments: [KVElement.float32, .float16])
    func roundTrip(element: KVElement) {
        let storage = KVStorage(layerCount: 2, kvHeadCount: 3, headDimension: 64, sinkCapacity: 4, ringCapacity: 10,
                                element: element)
        #expect(storage.byteCount == 2 * 2 * 3 * 16 * 64 * element.byteCount)
        let n = storage.floatsPerToken
        #expect(n == 2 * 2 * 3 * 64)
        let row = (0..<n).map { Float($0 % 97) * 0.37 - 11.3 }
        let stored = element == .float32 ? row : row.map { Float(Float16($0)) }
        for token in [0, 3, 4, 13, 14, 27] {
            storage.importToken(token, from: row)
            var out = [Float](repeating: .nan, count: n)
            storage.exportToken(token, into: &out)
            #expect(out == stored, "token \(token) (slot \(storage.slot(token)))")
        }
        // A re-import of exported rows is exact (what a checkpoint resume does).
        var first = [Float](repeating: 0, count: n)
        storage.exportToken(27, into: &first)
        storage.importToken(28, from: first)
        var second = [Float](repeating: 0, count: n)
        storage.exportToken(28, into: &second)
        #expect(first == second)
    }

    @Test("Checkpoint rows: halves for a half cache, floats for a float cache; both load into either", arguments: [KVElement.float32, .float16])
    func checkpointRows(element: KVElement) {
        func storage(_ element: KVElement) -> KVStorage {
            KVStorage(layerCount: 2, kvHeadCount: 3, headDimension: 64, sinkCapacity: 4, ringCapacity: 10, element: element)
        }
        let source = storage(element)
        let n = source.floatsPerToken
        #expect(source.checkpointBytesPerToken == n * (element == .float16 ? 2 : 4))
        for token in 0..<14 { source.importToken(token, from: (0..<n).map { Float(($0 * 7 + token) % 101) * 0.173 - 8.1 }) }
        let tokens = 5..<12
        let bytes = source.checkpointBytesPerToken
        var rows = [UInt8](repeating: 0, count: tokens.count * bytes)
        rows.withUnsafeMutableBytes { source.exportRows(tokens, into: $0.baseAddress!) }
        for targetElement in [KVElement.float32, .float16] {
            let target = storage(targetElement)
            for token in tokens {
                let ok = rows.withUnsafeBytes {
                    target.importRow(token, from: $0.baseAddress! + (token - tokens.lowerBound) * bytes, bytesPerToken: bytes)
                }
                #expect(ok)
                var a = [Float](repeating: 0, count: n), b = [Float](repeating: 1, count: n)
                source.exportToken(token, into: &a)
                target.exportToken(token, into: &b)
                // Same bits when the target holds at least the source's precision.
                if targetElement == .float32 || element == .float16 {
                    #expect(a.map(\.bitPattern) == b.map(\.bitPattern), "token \(token), \(element) → \(targetElement)")
                } else {
                    #expect(b == a.map { Float(Float16($0)) })
                }
            }
            #expect(!rows.withUnsafeBytes { target.importRow(0, from: $0.baseAddress!, bytesPerToken: bytes + 2) })
        }
    }
}
