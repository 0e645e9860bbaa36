import Foundation
import GGUF
import Kernels
import Model
import TestSupport
import Testing
import Tokenization

/// Model files written to mislead the loader: every one must be refused by
/// `LanguageModel(path:precision:)` with a typed error naming the file, never a crash or a giant
/// allocation. Each starts from a valid TinyModel file, re-written through GGUFWriter with one
/// edit (or with bytes patched where the writer cannot express the defect).
@Suite("Hostile model files give typed errors")
struct HostileModelTests {
    /// The tiny model's shape: 2 layers, embedding 64, 4 heads, 2 kv heads, ffn 128.
    static let tokens = TinyModel.tokens

    @Test("the unedited tiny model loads at both precisions (the control case)")
    func controlLoads() throws {
        for precision in Precision.allCases {
            let model = try LanguageModel(path: try HostileFile.rewrite(), precision: precision)
            #expect(model.config.vocabularySize == Self.tokens.count)
            #expect(model.weights.layers.count == 2)
        }
    }

    @Test("metadata that contradicts tensor shapes", arguments: [
        ("llama.feed_forward_length", GGUFValue.uint32(256), "model.shape-mismatch", "blk.0.ffn_gate.weight"),
        ("llama.attention.head_count_kv", .uint32(4), "model.shape-mismatch", "blk.0.attn_k.weight"),
        ("llama.block_count", .uint32(3), "model.missing-tensor", "blk.2.attn_norm.weight"),
        ("llama.vocab_size", .uint32(300), "model.shape-mismatch", "token_embd.weight"),
        ("llama.embedding_length", .uint64(1 << 40), "model.invalid", "llama.embedding_length"),
        ("llama.attention.head_count", .uint32(0), "model.invalid", "llama.attention.head_count"),
        ("llama.attention.layer_norm_rms_epsilon", .float32(.nan), "model.invalid", "layer_norm_rms_epsilon"),
        ("llama.embedding_length", .string("64"), "model.missing-key", "llama.embedding_length"),
    ])
    func contradictoryMetadata(key: String, value: GGUFValue, code: String, mention: String) throws {
        let path = try HostileFile.rewrite { $0.set(key, value) }
        let error = try #require(HostileFile.loadError(path) as? ModelError)
        #expect(error.code == code, "\(error)")
        #expect(error.description.contains(mention), "\(error)")
        #expect(error.file == path)
    }

    @Test("a tensor whose shape disagrees with the metadata")
    func wrongTensorShape() throws {
        let path = try HostileFile.rewrite { file in
            file.replaceTensor("blk.1.attn_q.weight", dims: [64, 32], type: .q4_1,
                               data: GGMLQuantize.quantize([Float](repeating: 0.01, count: 64 * 32), as: .q4_1))
        }
        let error = try #require(HostileFile.loadError(path) as? ModelError)
        #expect(error.code == "model.shape-mismatch")
        #expect(error.message.contains("[64, 32]") && error.message.contains("[64, 64]"), "\(error)")
    }

    @Test("a vocabulary that does not match vocab_size, or token types that do not match it")
    func vocabularyMismatch() throws {
        let short = try HostileFile.rewrite {
            $0.set("tokenizer.ggml.tokens", .array(Self.tokens.dropLast().map { .string($0) }))
        }
        let tokensError = try #require(HostileFile.loadError(short) as? ModelError)
        #expect(tokensError.code == "model.vocab-mismatch")
        #expect(tokensError.message.contains("\(Self.tokens.count - 1) tokens") && tokensError.message.contains("\(Self.tokens.count)"))

        let types = try HostileFile.rewrite {
            $0.set("tokenizer.ggml.token_type", .array([GGUFValue](repeating: .int32(1), count: 10)))
        }
        let typesError = try #require(HostileFile.loadError(types) as? ModelError)
        #expect(typesError.code == "model.vocab-mismatch")
        #expect(typesError.message.contains("10 entries"))

        let missing = try HostileFile.rewrite { $0.remove("tokenizer.ggml.tokens") }
        let missingError = try #require(HostileFile.loadError(missing) as? ModelError)
        #expect(missingError.code == "model.missing-key")
    }

    @Test("merges that reference missing tokens or are malformed")
    func badMerges() throws {
        let cases: [(merge: String, expected: TokenizerError)] = [
            ("ab cd", .mergeReferencesUnknownToken(index: 8, line: "ab cd", token: "ab")),
            ("z q", .mergeResultNotInVocabulary(index: 8, line: "z q", result: "zq")),
            ("nospace", .malformedMerge(index: 8, line: "nospace")),
        ]
        for (merge, expected) in cases {
            let path = try HostileFile.rewrite {
                $0.set("tokenizer.ggml.merges", .array((TinyModel.merges + [merge]).map { .string($0) }))
            }
            let error = try #require(HostileFile.loadError(path) as? TokenizerError)
            #expect(error == expected)
            #expect(!error.description.isEmpty)
        }
    }

    @Test("huge declared string lengths and array counts are refused before allocating")
    func hugeDeclaredSizes() throws {
        let base = try [UInt8](Data(contentsOf: URL(fileURLWithPath: try HostileFile.rewrite())))
        let key = Array("tokenizer.ggml.tokens".utf8)
        let keyEnd = try #require(HostileFile.find(key, in: base)) + key.count
        // After the key: value type (u32 = 9), element type (u32 = 8), count (u64), then the
        // first element's length (u64).
        let countOffset = keyEnd + 8
        for (count, expectedCode) in [(UInt64(1) << 40, "gguf.array_too_large"), (.max, "gguf.array_too_large")] {
            var bytes = base
            HostileFile.patch(&bytes, at: countOffset, count)
            let error = try #require(HostileFile.loadError(try HostileFile.write(bytes)) as? GGUFError)
            #expect(error.code == expectedCode, "\(error)")
        }
        for length in [UInt64(1) << 62, .max, UInt64(base.count)] {
            var bytes = base
            HostileFile.patch(&bytes, at: countOffset + 8, length)
            let error = try #require(HostileFile.loadError(try HostileFile.write(bytes)) as? GGUFError)
            #expect(error.code == "gguf.string_too_long", "\(error)")
        }
    }

    @Test("every corrupt variant of the tiny model is refused with its GGUF error code")
    func corruptVariants() throws {
        let base = try [UInt8](Data(contentsOf: URL(fileURLWithPath: try HostileFile.rewrite())))
        let variants = TinyModel.corruptVariants(of: base)
        #expect(variants.count >= 20)
        // A file that parses but cannot run (another architecture, a tensor type without
        // kernels) is refused by the model layer, with every reason in one error.
        let modelLevel = ["unsupported-tensor-type": "model.unsupported", "architecture-gpt2": "model.unsupported"]
        for (name, bytes) in variants {
            let error = try #require(HostileFile.loadError(try HostileFile.write(bytes)), "\(name)")
            let code = (error as? GGUFError)?.code ?? (error as? ModelError)?.code
            #expect(code == (modelLevel[name] ?? TinyModel.expectedErrorCodes[name]), "\(name): \(error)")
        }
    }

    @Test("NaN or Inf in a norm vector, a float matrix or a quantized block scale", arguments: [
        (GGMLType.f32, "blk.0.attn_norm.weight", 5, Float.nan),
        (.f32, "blk.1.ffn_down.weight", 77, .infinity),
        (.f16, "blk.0.attn_v.weight", 3, .nan),
        (.f16, "blk.1.ffn_up.weight", 64 * 128 - 1, -.infinity),
        (.bf16, "blk.0.attn_q.weight", 100, .infinity),
        (.q4_1, "blk.1.attn_output.weight", 64 * 10 + 5, .nan),
        (.q8_0, "token_embd.weight", 64 * 200, .infinity),
    ])
    func nonFiniteWeights(type: GGMLType, tensor: String, element: Int, value: Float) throws {
        let path = try HostileFile.rewrite(weightType: type == .q8_0 ? .q4_1 : type) { file in
            try file.poison(tensor, element: element, with: value)
        }
        for precision in Precision.allCases {
            let error = try #require(HostileFile.loadError(path, precision: precision) as? ModelError)
            #expect(error.code == "model.non-finite", "\(error)")
            #expect(error.message.contains(tensor), "\(error)")
            // Quantized types report the first element of the block whose scale is bad.
            let reported = [GGMLType.q4_1, .q8_0, .q4_0].contains(type) ? element / 32 * 32 : element
            #expect(error.message.contains("at element \(reported)."), "\(error)")
        }
    }

    @Test("the finite scan finds exactly the poisoned element in every type")
    func finiteScan() {
        for type in GGMLType.allCases {
            let count = 256
            let values = (0..<count).map { Float($0 % 13) * 0.1 - 0.6 }
            let clean = GGMLQuantize.quantize(values, as: type)
            #expect(clean.withUnsafeBytes { GGMLFiniteScan.firstNonFinite($0, type: type, count: count) } == nil, "\(type)")
            var poisoned = clean
            HostileFile.poison(&poisoned, type: type, element: 150, with: .infinity)
            let found = poisoned.withUnsafeBytes { GGMLFiniteScan.firstNonFinite($0, type: type, count: count) }
            #expect(found?.element == 150 / type.blockSize * type.blockSize, "\(type)")
            #expect(found?.value == .infinity, "\(type)")
        }
    }
}

/// Writes edited copies of the tiny model for `HostileModelTests`.
enum HostileFile {
    /// The tensors and metadata of a file being rewritten.
    struct Contents {
        var metadata: [(key: String, value: GGUFValue)]
        var tensors: [(name: String, dims: [Int], type: GGMLType, data: [UInt8])]

        /// Sets (or adds) a metadata value.
        mutating func set(_ key: String, _ value: GGUFValue) {
            if let i = metadata.firstIndex(where: { $0.key == key }) {
                metadata[i].value = value
            } else {
                metadata.append((key, value))
            }
        }

        /// Removes a metadata key.
        mutating func remove(_ key: String) {
            metadata.removeAll { $0.key == key }
        }

        /// Replaces a tensor's shape, type and data.
        mutating func replaceTensor(_ name: String, dims: [Int], type: GGMLType, data: [UInt8]) {
            guard let i = tensors.firstIndex(where: { $0.name == name }) else { return }
            tensors[i] = (name, dims, type, data)
        }

        /// Makes one element of a tensor non-finite (for quantized types: its block's scale).
        mutating func poison(_ name: String, element: Int, with value: Float) throws {
            let i = try #require(tensors.firstIndex(where: { $0.name == name }), "no tensor \(name)")
            HostileFile.poison(&tensors[i].data, type: tensors[i].type, element: element, with: value)
        }
    }

    /// Writes the tiny model, applies `edit` and writes the result; returns its path.
    static func rewrite(weightType: GGMLType = .q4_1, _ edit: (inout Contents) throws -> Void = { _ in }) throws -> String {
        let source = try temporaryPath("source.gguf")
        try TinyModel.write(to: source, weightType: weightType)
        defer { try? FileManager.default.removeItem(atPath: source) }
        let file = try GGUFFile(path: source)
        var contents = Contents(
            metadata: file.metadataKeys.compactMap { key in file.metadata[key].map { (key, $0) } },
            tensors: file.tensors.map { ($0.name, $0.dims, $0.type, Array(file.data(of: $0))) })
        try edit(&contents)
        var writer = GGUFWriter(alignment: file.alignment)
        for (key, value) in contents.metadata { writer.set(key, value) }
        for tensor in contents.tensors {
            writer.addTensor(name: tensor.name, dims: tensor.dims, type: tensor.type, data: tensor.data)
        }
        return try write(writer.serialized())
    }

    /// Writes bytes to a fresh temporary file; returns its path.
    static func write(_ bytes: [UInt8]) throws -> String {
        let path = try temporaryPath("hostile.gguf")
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// The error `LanguageModel(path:precision:)` throws, or nil if the model loads.
    static func loadError(_ path: String, precision: Precision = .fast) -> (any Error)? {
        do {
            _ = try LanguageModel(path: path, precision: precision)
            return nil
        } catch {
            return error
        }
    }

    /// The offset of the first occurrence of `needle` in `haystack`.
    static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard needle.count <= haystack.count else { return nil }
        return (0...(haystack.count - needle.count)).first { haystack[$0..<($0 + needle.count)].elementsEqual(needle) }
    }

    /// Overwrites `value`'s little-endian bytes at `offset`.
    static func patch(_ bytes: inout [UInt8], at offset: Int, _ value: UInt64) {
        for i in 0..<8 { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * i)) }
    }

    /// Makes element `element` of encoded `type` data non-finite (quantized: its block's scale).
    static func poison(_ data: inout [UInt8], type: GGMLType, element: Int, with value: Float) {
        let halfBits: UInt16 = value.isNaN ? 0x7E00 : (value < 0 ? 0xFC00 : 0x7C00)
        func store(_ bits: UInt16, at offset: Int) {
            data[offset] = UInt8(bits & 0xFF)
            data[offset + 1] = UInt8(bits >> 8)
        }
        switch type {
        case .f32:
            let bits = value.bitPattern
            for i in 0..<4 { data[4 * element + i] = UInt8(truncatingIfNeeded: bits >> (8 * i)) }
        case .f16:
            store(halfBits, at: 2 * element)
        case .bf16:
            store(UInt16(value.bitPattern >> 16), at: 2 * element)
        default:  // quantized: the block's f16 scale `d`
            store(halfBits, at: element / type.blockSize * type.bytesPerBlock + (type.layout.scaleOffset ?? 0))
        }
    }
}

/// A unique path in this test process's temporary directory.
private func temporaryPath(_ name: String) throws -> String {
    try sharedDirectory.get().appendingPathComponent(UUID().uuidString + "-" + name).path
}

private let sharedDirectory = Result { try Fixtures.temporaryDirectory("hostile-model") }
