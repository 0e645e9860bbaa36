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
}
