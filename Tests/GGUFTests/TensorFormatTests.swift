import Foundation
import GGUF
import Testing
import TestSupport

/// `fixtures/dequant_gguf_0.19.0.json`, written by `scripts/gen-dequant-fixture.py` with the
/// PyPI `gguf` package 0.19.0 (no Python is needed to run the tests).
private enum GGUFReference {
    static func json() throws -> [String: Any] { try Fixtures.json("dequant_gguf_0.19.0.json") }

    static func cases(_ key: String) throws -> [[String: Any]] {
        try #require(try json()[key] as? [[String: Any]], "fixture has no '\(key)' list")
    }

    static func bytes(hex: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(hex.utf8.count / 2)
        var high: UInt8?
        for c in hex.utf8 {
            let v: UInt8 = c <= 57 ? c - 48 : (c | 0x20) - 87
            if let h = high {
                out.append(h << 4 | v)
                high = nil
            } else {
                high = v
            }
        }
        return out
    }

    static func uint32s(_ value: Any?) -> [UInt32] {
        (value as? [NSNumber])?.map(\.uint32Value) ?? []
    }
}

@Suite("Tensor formats: the type table, bit-exact decoding, quantizer round trips")
struct TensorFormatTests {
    @Test("the type table matches ggml's block sizes, bytes per block and names")
    func table() {
        // (id, name, block size, bytes per block) as gguf 0.19.0's GGML_QUANT_SIZES.
        let expected: [(UInt32, String, Int, Int)] = [
            (0, "F32", 1, 4), (1, "F16", 1, 2), (2, "Q4_0", 32, 18), (3, "Q4_1", 32, 20), (6, "Q5_0", 32, 22),
            (7, "Q5_1", 32, 24), (8, "Q8_0", 32, 34), (10, "Q2_K", 256, 84), (11, "Q3_K", 256, 110),
            (12, "Q4_K", 256, 144), (13, "Q5_K", 256, 176), (14, "Q6_K", 256, 210), (20, "IQ4_NL", 32, 18),
            (23, "IQ4_XS", 256, 136), (30, "BF16", 1, 2),
        ]
        #expect(GGMLType.allCases.map(\.rawValue) == expected.map(\.0))
        for (id, name, blockSize, bytes) in expected {
            guard let type = GGMLType(rawValue: id) else {
                Issue.record("type \(id) missing")
                continue
            }
            #expect(type.name == name && type.description == name)
            #expect(type.blockSize == blockSize && type.bytesPerBlock == bytes, "\(name)")
            #expect(type.isQuantized == (blockSize > 1) && type.isSuperBlock == (blockSize == 256), "\(name)")
            #expect(GGMLType.knownName(typeID: id) == name)
            // Every f16 field lies inside the block, and quantized types have a scale.
            #expect(type.layout.halfFieldOffsets.allSatisfy { $0 >= 0 && $0 + 2 <= bytes }, "\(name)")
            #expect((type.layout.scaleOffset != nil) == type.isQuantized, "\(name)")
        }
        #expect(GGMLType.q4_k.byteCount(elements: 512) == 288)
        #expect(GGMLType.q4_k.byteCount(elements: 288) == nil)
        #expect(GGMLType.q8_0.byteCount(elements: Int.max / 32 * 32) == nil)  // the byte count overflows
        #expect(GGMLType.knownName(typeID: 16) == "IQ2_XXS")
        #expect(GGMLType.knownName(typeID: 99) == nil)
    }

    @Test("dequantization is bit-identical to gguf 0.19.0", arguments: GGMLType.allCases)
    func dequantizeMatchesGGUF(type: GGMLType) throws {
        let all = try GGUFReference.cases("dequantize")
        let reference = try #require(all.first { $0["type"] as? String == type.name }, "no fixture for \(type)")
        #expect((reference["type_id"] as? NSNumber)?.uint32Value == type.rawValue)
        #expect((reference["block_size"] as? NSNumber)?.intValue == type.blockSize)
        #expect((reference["bytes_per_block"] as? NSNumber)?.intValue == type.bytesPerBlock)
        let data = GGUFReference.bytes(hex: try #require(reference["data_hex"] as? String))
        let expected = GGUFReference.uint32s(reference["expected_f32_bits"])
        #expect(expected.count == (reference["elements"] as? NSNumber)?.intValue)
        #expect(type.byteCount(elements: expected.count) == data.count)
        let values = data.withUnsafeBytes { GGMLDequantize.dequantize($0, type: type, count: expected.count) }
        #expect(values.count == expected.count)
        let mismatches = zip(values, expected).enumerated().filter { $0.element.0.bitPattern != $0.element.1 }
        #expect(mismatches.isEmpty, """
            \(type): \(mismatches.count) of \(expected.count) values differ; first at \(mismatches.first?.offset ?? -1): \
            \(mismatches.first.map { "\($0.element.0) vs \(Float(bitPattern: $0.element.1))" } ?? "")
            """)
        // A count that ends inside a block decodes the same prefix and writes nothing after it.
        let partial = expected.count - type.blockSize / 2 - 1
        var out = [Float](repeating: -7, count: expected.count)
        data.withUnsafeBytes { GGMLDequantize.dequantizeRow($0.baseAddress!, type: type, count: partial, into: &out) }
        #expect(out[..<partial].map(\.bitPattern) == Array(expected[..<partial]))
        #expect(out[partial...].allSatisfy { $0 == -7 })
    }

    @Test("the fixture covers every type and was made by gguf 0.19.0")
    func fixtureCoverage() throws {
        let json = try GGUFReference.json()
        #expect(json["gguf_version"] as? String == "0.19.0")
        let types = try GGUFReference.cases("dequantize").compactMap { $0["type"] as? String }
        #expect(Set(types) == Set(GGMLType.allCases.map(\.name)))
    }

    @Test("the reference quantizers are bit-identical to gguf 0.19.0's quantize",
          arguments: [GGMLType.f16, .bf16, .q4_0, .q4_1, .q5_0, .q5_1, .q8_0])
    func quantizeMatchesGGUF(type: GGMLType) throws {
        let all = try GGUFReference.cases("quantize")
        let reference = try #require(all.first { $0["type"] as? String == type.name }, "no fixture for \(type)")
        let input = GGUFReference.uint32s(reference["input_f32_bits"]).map(Float.init(bitPattern:))
        let expected = GGUFReference.bytes(hex: try #require(reference["expected_hex"] as? String))
        #expect(!input.isEmpty)
        let encoded = GGMLQuantize.quantize(input, as: type)
        #expect(encoded.count == expected.count)
        let firstDifference = zip(encoded, expected).enumerated().first { $0.element.0 != $0.element.1 }?.offset
        #expect(firstDifference == nil, "\(type): first differing byte \(firstDifference ?? -1)")
    }

    /// 16 super-blocks of normal values: the scale grows from 1e-3 to about 5 between
    /// super-blocks and varies by up to 1.9× between their groups of 32; every fifth
    /// super-block is shifted away from zero (so that minimums matter).
    static func weights(seed: UInt64) -> [Float] {
        var rng = TinyModel.SplitMix64(seed: seed)
        var x: [Float] = []
        for superBlock in 0..<16 {
            let scale = Float(pow(10, -3 + 0.25 * Double(superBlock)))
            let offset = superBlock % 5 == 0 ? 1.5 * scale : 0
            for group in 0..<8 {
                let groupScale = scale * (1 + 0.3 * Float(group % 4))
                for _ in 0..<32 { x.append(Float(rng.nextNormal()) * groupScale + offset) }
            }
        }
        return x
    }

    /// Per type: the largest error relative to its super-block's largest magnitude, and the
    /// largest RMS error relative to its super-block's RMS, allowed: about 1.25× what these
    /// quantizers give on `weights` (measured: Q4_0 0.109/0.099, Q4_1 0.064/0.086,
    /// Q5_0 0.052/0.053, Q5_1 0.030/0.041, Q8_0 0.0040/0.0064, IQ4_NL 0.093/0.084,
    /// Q2_K 0.291/0.338, Q3_K 0.172/0.160, Q4_K 0.064/0.077, Q5_K 0.030/0.038,
    /// Q6_K 0.016/0.019, IQ4_XS 0.073/0.088). The RMS figures are near the optimal
    /// (Lloyd-Max) quantizers of a Gaussian of the same bits (2: 0.34, 3: 0.19, 4: 0.10);
    /// a wrong packing or fit gives errors near 1.
    static let roundTripBounds: [GGMLType: (maxError: Float, rmsError: Float)] = [
        .q4_0: (0.14, 0.125), .q4_1: (0.08, 0.11), .q5_0: (0.066, 0.066), .q5_1: (0.038, 0.051),
        .q8_0: (0.005, 0.008), .iq4_nl: (0.12, 0.105),
        .q2_k: (0.37, 0.42), .q3_k: (0.22, 0.20), .q4_k: (0.08, 0.097), .q5_k: (0.038, 0.048),
        .q6_k: (0.02, 0.024), .iq4_xs: (0.095, 0.11),
    ]

    @Test("quantize → dequantize errors stay within each type's bound", arguments: GGMLType.allCases.filter(\.isQuantized))
    func roundTrip(type: GGMLType) throws {
        let bound = try #require(Self.roundTripBounds[type], "no bound for \(type)")
        let x = Self.weights(seed: UInt64(type.rawValue) + 7)
        let bytes = GGMLQuantize.quantize(x, as: type)
        #expect(bytes.count == type.byteCount(elements: x.count))
        let y = bytes.withUnsafeBytes { GGMLDequantize.dequantize($0, type: type, count: x.count) }
        try #require(y.count == x.count)
        var worstMax: Float = 0, worstRMS: Float = 0
        for s in 0..<(x.count / 256) {
            let range = (256 * s)..<(256 * s + 256)
            let amax = x[range].map(abs).max() ?? 0
            let rms = (x[range].map { $0 * $0 }.reduce(0, +) / 256).squareRoot()
            let errors = range.map { abs(x[$0] - y[$0]) }
            let maxError = (errors.max() ?? 0) / amax
            let rmsError = (errors.map { $0 * $0 }.reduce(0, +) / 256).squareRoot() / rms
            worstMax = max(worstMax, maxError)
            worstRMS = max(worstRMS, rmsError)
        }
        #expect(worstMax <= bound.maxError, "\(type): max error \(worstMax) of the super-block's amax")
        #expect(worstRMS <= bound.rmsError, "\(type): RMS error \(worstRMS) of the super-block's RMS")
        // Constant and all-zero inputs survive (zeros exactly).
        let zeros = GGMLQuantize.quantize([Float](repeating: 0, count: 256), as: type)
        #expect(zeros.withUnsafeBytes { GGMLDequantize.dequantize($0, type: type, count: 256) }.allSatisfy { $0 == 0 })
        let constant = GGMLQuantize.quantize([Float](repeating: 0.25, count: 256), as: type)
        let decoded = constant.withUnsafeBytes { GGMLDequantize.dequantize($0, type: type, count: 256) }
        #expect(decoded.allSatisfy { abs($0 - 0.25) <= 0.25 * bound.maxError }, "\(type): \(decoded.prefix(4))")
    }

    @Test("more bits give smaller errors: Q2_K > Q3_K > Q4_K > Q5_K > Q6_K > Q8_0")
    func errorOrdering() {
        let x = Self.weights(seed: 99)
        func rmsError(_ type: GGMLType) -> Float {
            let y = GGMLQuantize.quantize(x, as: type).withUnsafeBytes { GGMLDequantize.dequantize($0, type: type, count: x.count) }
            return (zip(x, y).map { ($0 - $1) * ($0 - $1) }.reduce(0, +) / Float(x.count)).squareRoot()
        }
        let errors = [GGMLType.q2_k, .q3_k, .q4_k, .q5_k, .q6_k, .q8_0].map(rmsError)
        #expect(zip(errors, errors.dropFirst()).allSatisfy { $0 > $1 }, "\(errors)")
        // The fitted K-quants beat the legacy formats of the same width.
        #expect(rmsError(.q4_k) < rmsError(.q4_1) && rmsError(.q5_k) < rmsError(.q5_1))
        #expect(rmsError(.q4_1) < rmsError(.q4_0) && rmsError(.q5_1) < rmsError(.q5_0))
        #expect(rmsError(.iq4_nl) < rmsError(.q4_0))
    }
}

@Suite("Unsupported, misshapen and inconsistent tensors give clear errors")
struct TensorValidationTests {
    /// A file with a Q8_0 tensor `a`, then `odd` of raw type `typeID`, then a Q4_K tensor `c`.
    static func fileWithType(_ typeID: UInt32) -> [UInt8] {
        var writer = GGUFWriter()
        writer.set("general.architecture", .string("llama"))
        writer.addTensor(name: "a", dims: [32, 2], type: .q8_0, data: GGMLQuantize.quantize([Float](repeating: 1, count: 64), as: .q8_0))
        writer.addTensor(name: "odd", dims: [256, 3], typeID: typeID, data: [UInt8](repeating: 0, count: 200))
        writer.addTensor(name: "c", dims: [256], type: .q4_k, data: GGMLQuantize.quantize([Float](repeating: 1, count: 256), as: .q4_k))
        return writer.serialized()
    }

    @Test("an unknown tensor type is rejected on open, naming the file, tensor, id and ggml name")
    func unknownTypeRejected() throws {
        let error = try #require(try openError(Self.fileWithType(16), name: "iq2.gguf"))
        #expect(error == .unsupportedTensorType(file: error.file, tensor: "odd", typeID: 16))
        #expect(error.code == "gguf.unsupported_tensor_type")
        #expect(error.file.hasSuffix("iq2.gguf"))
        #expect(error.description.hasSuffix(
            "iq2.gguf: tensor 'odd' has ggml type 16 (IQ2_XXS), which is not supported; supported types are F32, F16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS, BF16."))
        let unknown = try #require(try openError(Self.fileWithType(99), name: "x.gguf"))
        #expect(unknown.description.contains("tensor 'odd' has type id 99, which is not a ggml type this reader knows; supported types are F32"))
    }

    @Test("with .record, a file with an unknown tensor type opens and describes it")
    func unknownTypeRecorded() throws {
        let file = try GGUFFile(bytes: Self.fileWithType(16), name: "iq2.gguf", unsupportedTensorTypes: .record)
        #expect(file.tensors.map(\.name) == ["a", "c"])
        #expect(file.tensor("odd") == nil)
        let odd = try #require(file.unsupportedTensors.first)
        #expect(file.unsupportedTensors.count == 1)
        #expect(odd.name == "odd" && odd.dims == [256, 3] && odd.typeID == 16 && odd.typeName == "IQ2_XXS")
        #expect(odd.index == 1 && odd.elementCount == 768)
        #expect(odd.offset > file.tensors[0].offset && odd.offset < file.tensors[1].offset)
        #expect(throws: GGUFError.unsupportedTensorType(file: "iq2.gguf", tensor: "odd", typeID: 16)) {
            try file.requireSupportedTensors()
        }
        // The other tensors still decode.
        let c = try #require(file.tensor("c"))
        #expect(GGMLDequantize.dequantize(file.data(of: c), type: .q4_k, count: 256).allSatisfy { abs($0 - 1) < 0.01 })
        // A file without such tensors passes the check.
        let clean = try GGUFFile(bytes: try tinyModelBytes(), unsupportedTensorTypes: .record)
        #expect(clean.unsupportedTensors.isEmpty)
        try clean.requireSupportedTensors()
        // Duplicate names are caught across supported and unsupported tensors.
        var twice = GGUFWriter()
        twice.addTensor(name: "w", dims: [32], typeID: 16, data: [UInt8](repeating: 0, count: 64))
        twice.addTensor(name: "w", dims: [32], type: .q8_0, data: [UInt8](repeating: 0, count: 34))
        #expect(throws: GGUFError.duplicateTensor(file: "d.gguf", tensor: "w")) {
            try GGUFFile(bytes: twice.serialized(), name: "d.gguf", unsupportedTensorTypes: .record)
        }
    }

    @Test("a super-block tensor whose rows are not a multiple of 256 is rejected", arguments: GGMLType.allCases.filter(\.isSuperBlock))
    func superBlockRowLength(type: GGMLType) throws {
        var writer = GGUFWriter()
        writer.addTensor(name: "blk.0.attn_q.weight", dims: [128, 4], type: type, data: [UInt8](repeating: 0, count: 2 * type.bytesPerBlock))
        let error = try #require(try openError(writer.serialized(), name: "k.gguf"))
        #expect(error == .rowNotBlockMultiple(file: error.file, tensor: "blk.0.attn_q.weight", rowLength: 128, blockSize: 256, type: type.name))
        #expect(error.description.hasSuffix(
            "k.gguf: tensor 'blk.0.attn_q.weight' has a row length of 128, which is not a multiple of the \(type.name) super-block size 256; every row must be whole blocks."))
        let write = #expect(throws: GGUFError.self) { try writer.write(to: try temporaryPath("k.gguf")) }
        #expect(write?.code == "gguf.invalid_writer_input")
    }

    @Test("a tensor whose data is shorter than its type and shape need runs into the next one")
    func overlap() throws {
        // `w` claims [256, 4] as Q4_K (576 bytes) but only 288 bytes were written before `next`.
        // (`next` is long enough that the file itself is not too short for `w`.)
        var writer = GGUFWriter()
        writer.addTensor(name: "w", dims: [256, 4], type: .q4_k, data: [UInt8](repeating: 0, count: 288))
        writer.addTensor(name: "next", dims: [256], type: .f32, data: [UInt8](repeating: 0, count: 1024))
        let error = try #require(try openError(writer.serialized(), name: "o.gguf"))
        #expect(error == .tensorOverlap(file: error.file, tensor: "w", type: "Q4_K", dims: [256, 4], offset: 0,
                                        byteCount: 576, next: "next", nextOffset: 288))
        #expect(error.code == "gguf.tensor_overlap")
        #expect(error.description.hasSuffix(
            "o.gguf: tensor 'w' (Q4_K, shape [256, 4]) needs 576 bytes from data offset 0, which runs into tensor 'next' at data offset 288; the tensor's type or shape does not match its data."))
        // Stored in the other order, the short tensor is the last one: the file is too short.
        var last = GGUFWriter()
        last.addTensor(name: "next", dims: [32], type: .f32, data: [UInt8](repeating: 0, count: 128))
        last.addTensor(name: "w", dims: [256, 4], type: .q6_k, data: [UInt8](repeating: 0, count: 420))
        let short = try #require(try openError(last.serialized(), name: "s.gguf"))
        #expect(short.code == "gguf.tensor_out_of_bounds")
        #expect(short.description.contains("tensor 'w' needs 840 bytes at data offset 128"))
        #expect(short.description.hasSuffix("; the file is truncated or the tensor's type or shape is wrong."))
        // An unknown type's size is unknown, but a known tensor before it must still end in time.
        var beforeUnknown = GGUFWriter()
        beforeUnknown.addTensor(name: "w", dims: [256, 4], type: .q5_k, data: [UInt8](repeating: 0, count: 352))
        beforeUnknown.addTensor(name: "u", dims: [32], typeID: 16, data: [UInt8](repeating: 0, count: 1024))
        let intoUnknown = try #require(try openError(beforeUnknown.serialized(), name: "u.gguf"))
        #expect(intoUnknown.code == "gguf.tensor_overlap")
        #expect(intoUnknown.description.contains("runs into tensor 'u' at data offset 352"))
    }

    @Test("the writer refuses a type id it cannot check")
    func writerRejectsUnknownType() throws {
        var writer = GGUFWriter()
        writer.addTensor(name: "u", dims: [256], typeID: 16, data: [UInt8](repeating: 0, count: 66))
        let error = #expect(throws: GGUFError.self) { try writer.write(to: try temporaryPath("u.gguf")) }
        #expect(error?.description.contains("tensor 'u' has type id 16 (IQ2_XXS), whose data size the writer cannot check") == true)
    }

    @Test("the finite scan checks every f16 field of the new types", arguments: GGMLType.allCases.filter(\.isQuantized))
    func finiteScan(type: GGMLType) {
        let count = 512
        let clean = GGMLQuantize.quantize((0..<count).map { Float($0 % 17) * 0.05 - 0.4 }, as: type)
        #expect(clean.withUnsafeBytes { GGMLFiniteScan.firstNonFinite($0, type: type, count: count) } == nil)
        let block = (count / type.blockSize) - 1  // the last block
        for field in type.layout.halfFieldOffsets {
            for bits: UInt16 in [0x7C00, 0xFC00, 0x7E01] {
                var poisoned = clean
                let at = block * type.bytesPerBlock + field
                poisoned[at] = UInt8(bits & 0xFF)
                poisoned[at + 1] = UInt8(bits >> 8)
                let found = poisoned.withUnsafeBytes { GGMLFiniteScan.firstNonFinite($0, type: type, count: count) }
                #expect(found?.element == block * type.blockSize, "\(type) field \(field)")
                #expect(found.map { !$0.value.isFinite } == true, "\(type) field \(field)")
            }
        }
    }
}
