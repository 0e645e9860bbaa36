import Foundation
import Testing
@testable import Store

@Suite("Loss blocks and range queries")
struct NLLTests {
    @Test("nll(range:) stitches blocks across boundaries and clips to stored tokens")
    func rangeAcrossBlocks() throws {
        let dir = try TemporaryDirectory()
        let store = try RunStore(path: dir.databasePath)
        let run = try store.createRun(Sample.newRun())
        try store.writeCheckpoint(Sample.checkpoint(run.id, at: 300, nll: [Sample.nllBlock(0, 100), Sample.nllBlock(100, 100)], live: []))
        try store.writeCheckpoint(Sample.checkpoint(run.id, at: 300, nll: [Sample.nllBlock(200, 100)], live: []))
        let slice = try store.nll(runID: run.id, range: 95 ..< 205)
        #expect(slice.tokens == 95 ..< 205)
        #expect(slice.nll == (95 ..< 205).map { Float($0) / 1000 })
        #expect(slice.byteOffsets == (95 ..< 205).map { 3 * Int64($0) + 1 })
        #expect(try store.nll(runID: run.id, range: 100 ..< 200).nll.first == 0.1)
        #expect(try store.nll(runID: run.id, range: 250 ..< 400).tokens == 250 ..< 300)
        #expect(try store.nll(runID: run.id, range: 400 ..< 500).nll.isEmpty)
        #expect(try store.nll(runID: run.id, range: 0 ..< 300).nll.count == 300)
    }

    @Test("a gap between stored blocks is reported, not papered over")
    func gap() throws {
        let dir = try TemporaryDirectory()
        let store = try RunStore(path: dir.databasePath)
        let run = try store.createRun(Sample.newRun())
        try store.writeCheckpoint(Sample.checkpoint(run.id, at: 300, nll: [Sample.nllBlock(0, 100), Sample.nllBlock(200, 100)], live: []))
        let error = storeError { _ = try store.nll(runID: run.id, range: 50 ..< 250) }
        #expect(error?.code == .invalidData)
        #expect(error?.description.contains("expected token 100") == true)
    }

    @Test("float and delta-varint blob codings round-trip and reject damaged blobs")
    func blobCoding() throws {
        let losses: [Float] = [0, 1.5, -2.25, .infinity, 1e-30, 12345.678]
        #expect(BlobCoding.decodeFloat32(BlobCoding.encodeFloat32(losses)) == losses)
        #expect(BlobCoding.encodeFloat32([1.0]) == Data([0x00, 0x00, 0x80, 0x3F]))
        let offsets: [Int64] = [0, 1, 5, 200, 199, 1 << 40, 3, Int64.max, Int64.min, 0]
        let encoded = BlobCoding.encodeDeltaVarints(offsets)
        #expect(BlobCoding.decodeDeltaVarints(encoded, count: offsets.count) == offsets)
        let typical = BlobCoding.encodeDeltaVarints((0 ..< 1000).map { Int64($0) * 4 })
        #expect(typical.count == 1000)
        #expect(BlobCoding.decodeDeltaVarints(encoded, count: offsets.count + 1) == nil)
        #expect(BlobCoding.decodeDeltaVarints(encoded.dropLast(), count: offsets.count) == nil)
        #expect(BlobCoding.decodeDeltaVarints(encoded + Data([0]), count: offsets.count) == nil)
        #expect(BlobCoding.decodeFloat32(Data([1, 2, 3])) == nil)
        #expect(try RangeListCoding.decode(RangeListCoding.encode([0 ..< 4, 980 ..< 2000]), runID: "r") == [0 ..< 4, 980 ..< 2000])
        #expect(throws: StoreError.self) { try RangeListCoding.decode("0-4,x", runID: "r") }
    }
}
