import GGUF
import Testing
import TestSupport

@Suite("GGUFWriter → GGUFFile round trip")
struct RoundTripTests {
    static let values: [(String, GGUFValue)] = [
        ("u8", .uint8(255)), ("i8", .int8(-128)), ("u16", .uint16(65535)), ("i16", .int16(-32768)),
        ("u32", .uint32(4_000_000_000)), ("i32", .int32(-2_000_000_000)), ("f32", .float32(-1.5e-30)),
        ("f32.inf", .float32(.infinity)), ("bool.t", .bool(true)), ("bool.f", .bool(false)),
        ("str", .string("héllo wörld 🌍")), ("str.empty", .string("")),
        ("u64", .uint64(.max)), ("i64", .int64(.min)), ("f64", .float64(-0.1234567890123)),
        ("arr.u8", .array([.uint8(1), .uint8(2)])), ("arr.i32", .array([.int32(-1), .int32(7)])),
        ("arr.str", .array([.string("a"), .string(""), .string("Ġt he")])),
        ("arr.f32", .array([.float32(0.5), .float32(-2)])), ("arr.bool", .array([.bool(true), .bool(false)])),
        ("arr.f64", .array([.float64(1e300)])), ("arr.i64", .array([.int64(-5)])), ("arr.u64", .array([.uint64(9)])),
        ("arr.u16", .array([.uint16(3)])), ("arr.i16", .array([.int16(-3)])), ("arr.i8", .array([.int8(-1)])),
        ("arr.u32", .array([.uint32(11)])),
        ("arr.empty", .array([])),
        ("arr.nested", .array([.array([.uint8(1)]), .array([.string("x"), .string("y")]), .array([]),
                               .array([.array([.float64(2)])])])),
    ]

    static func tensorData(_ type: GGMLType, count: Int, seed: UInt64) -> [UInt8] {
        var rng = TinyModel.SplitMix64(seed: seed)
        return GGMLQuantize.quantize((0..<count).map { _ in Float(rng.nextNormal()) }, as: type)
    }

    @Test("every value type and every tensor type", arguments: [(UInt32(3), 32), (UInt32(2), 64), (UInt32(3), 1)])
    func roundTrip(version: UInt32, alignment: Int) throws {
        var writer = GGUFWriter(version: version, alignment: alignment)
        for (key, value) in Self.values { writer.set(key, value) }
        let shapes: [(GGMLType, [Int])] = [
            (.f32, [3]), (.f16, [5, 3]), (.bf16, [7, 1, 2]), (.q4_0, [64, 3]), (.q4_1, [32, 2, 2, 2]), (.q8_0, [96, 5]),
            (.q5_0, [64, 2]), (.q5_1, [32, 3]), (.iq4_nl, [96, 1, 2]), (.q2_k, [256, 2]), (.q3_k, [512]),
            (.q4_k, [256, 3]), (.q5_k, [768, 1]), (.q6_k, [256, 1, 1, 2]), (.iq4_xs, [512, 2]),
        ]
        #expect(Set(shapes.map(\.0)) == Set(GGMLType.allCases))
        var expected: [String: [UInt8]] = [:]
        for (index, (type, dims)) in shapes.enumerated() {
            let name = "t\(index).\(type.name)"
            let data = Self.tensorData(type, count: dims.reduce(1, *), seed: UInt64(index))
            expected[name] = data
            writer.addTensor(name: name, dims: dims, type: type, data: data)
        }
        let path = try temporaryPath("roundtrip.gguf")
        try writer.write(to: path)
        let file = try GGUFFile(path: path)

        #expect(file.version == version)
        #expect(file.alignment == alignment)
        #expect(file.dataOffset % alignment == 0)
        for (key, value) in Self.values {
            #expect(file.metadata[key] == value, "\(key)")
        }
        let writtenKeys = Self.values.map(\.0) + (alignment == 32 ? [] : ["general.alignment"])
        #expect(file.metadataKeys == writtenKeys)
        #expect(file.tensors.map(\.name) == shapes.indices.map { "t\($0).\(shapes[$0].0.name)" })
        for (tensor, (type, dims)) in zip(file.tensors, shapes) {
            #expect(tensor.type == type)
            #expect(tensor.dims == dims)
            #expect(tensor.elementCount == dims.reduce(1, *))
            #expect(tensor.rowLength == dims[0])
            #expect(tensor.rows == dims.dropFirst().reduce(1, *))
            #expect(tensor.rowBytes * tensor.rows == tensor.byteCount)
            #expect(tensor.byteCount == tensor.elementCount / type.blockSize * type.bytesPerBlock)
            #expect((file.dataOffset + tensor.offset) % alignment == 0)
            #expect(Array(file.data(of: tensor)) == expected[tensor.name])
            #expect(file.tensor(tensor.name) == tensor)
        }
    }

    @Test("serialized() and write(to:) produce the same bytes, deterministically")
    func deterministic() throws {
        var writer = GGUFWriter()
        writer.set("a", .string("b"))
        writer.addTensor(name: "w", dims: [32], type: .q8_0, data: Self.tensorData(.q8_0, count: 32, seed: 9))
        let path = try temporaryPath("same.gguf")
        try writer.write(to: path)
        let file = try GGUFFile(path: path)
        #expect(Array(file.bytes) == writer.serialized())
        #expect(writer.serialized() == writer.serialized())
    }

    @Test("setting a key twice keeps its position and the last value")
    func overwrite() throws {
        var writer = GGUFWriter()
        writer.set("first", .uint8(1))
        writer.set("second", .uint8(2))
        writer.set("first", .string("again"))
        let file = try openGGUF(writer.serialized())
        #expect(file.metadataKeys == ["first", "second"])
        #expect(file.string("first") == "again")
    }

    @Test("a file without tensors or metadata opens")
    func empty() throws {
        let file = try openGGUF(GGUFWriter().serialized())
        #expect(file.tensors.isEmpty)
        #expect(file.metadata.isEmpty)
        #expect(file.fileSize == 24)
    }

    @Test("invalid UTF-8 in a string is replaced with U+FFFD")
    func invalidUTF8() throws {
        var writer = GGUFWriter()
        writer.set("k", .string("zzabc"))
        var bytes = writer.serialized()
        let at = try #require(bytes.indices.first { Array(bytes[$0..<min($0 + 5, bytes.count)]) == Array("zzabc".utf8) })
        bytes[at] = 0xff
        bytes[at + 1] = 0xc3  // a lead byte followed by an ASCII byte
        let file = try openGGUF(bytes)
        #expect(file.string("k") == "\u{FFFD}\u{FFFD}abc")
    }

    @Test("write(to:) rejects inconsistent input")
    func writerValidation() throws {
        let path = try temporaryPath("bad.gguf")
        var sizeMismatch = GGUFWriter()
        sizeMismatch.addTensor(name: "w", dims: [32, 2], type: .q4_0, data: [UInt8](repeating: 0, count: 18))
        var mixed = GGUFWriter()
        mixed.set("m", .array([.uint8(1), .string("x")]))
        var badRow = GGUFWriter()
        badRow.addTensor(name: "w", dims: [16], type: .q8_0, data: [UInt8](repeating: 0, count: 34))
        var twice = GGUFWriter()
        twice.addTensor(name: "w", dims: [1], type: .f32, data: [0, 0, 0, 0])
        twice.addTensor(name: "w", dims: [1], type: .f32, data: [0, 0, 0, 0])
        for writer in [sizeMismatch, mixed, badRow, twice, GGUFWriter(alignment: 48)] {
            let error = #expect(throws: GGUFError.self) { try writer.write(to: path) }
            #expect(error?.code == "gguf.invalid_writer_input")
        }
    }

    @Test("general.alignment that is not a power of two is rejected")
    func badAlignment() throws {
        for value: GGUFValue in [.uint32(48), .uint32(0), .uint64(1 << 21), .string("32")] {
            var writer = GGUFWriter()
            writer.set("general.alignment", value)
            let error = try openError(writer.serialized())
            #expect(error?.code == "gguf.bad_alignment", "\(value)")
        }
    }

    @Test("deeply nested arrays are rejected, not recursed into without limit")
    func nesting() throws {
        var value = GGUFValue.uint8(0)
        for _ in 0..<40 { value = .array([value]) }
        var writer = GGUFWriter()
        writer.set("deep", value)
        let error = try openError(writer.serialized())
        #expect(error?.code == "gguf.nesting_too_deep")
    }
}
