import Foundation
import GGUF

/// Writes tiny random-weight llama GGUF models shaped like SmolLM2 (same metadata keys and
/// tensor names), and corrupted variants of GGUF bytes for error-path tests.
///
/// Vocabulary: ids 0…255 are the GPT-2 byte-to-unicode characters in byte order, then the
/// results of `merges` in order, then `<|endoftext|>`, `<|im_start|>` (BOS), `<|im_end|>` (EOS).
public enum TinyModel {
    /// The BPE merges of the tiny vocabulary, in rank order.
    public static let merges = ["Ġ t", "h e", "i n", "Ġ a", "e r", "Ġt he", "o n", "r e"]
    /// The special tokens (token type 3), appended after the merged tokens.
    public static let specialTokens = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    /// SmolLM2's chat template.
    public static let chatTemplate = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"

    /// The tiny vocabulary: 256 byte tokens, merged tokens, special tokens.
    public static var tokens: [String] {
        byteToUnicode.map { String($0) } + merges.map { $0.replacingOccurrences(of: " ", with: "") } + specialTokens
    }

    /// The id of a special token in the tiny vocabulary.
    public static func specialTokenID(_ token: String) -> Int? {
        specialTokens.firstIndex(of: token).map { 256 + merges.count + $0 }
    }

    /// GPT-2's `bytes_to_unicode`: the printable character standing for each byte value.
    public static let byteToUnicode: [Character] = {
        var printable: [Int] = Array(33...126) + Array(161...172) + Array(174...255)
        var codes = printable
        var extra = 0
        for byte in 0..<256 where !printable.contains(byte) {
            printable.append(byte)
            codes.append(256 + extra)
            extra += 1
        }
        var table = [Character](repeating: " ", count: 256)
        for (byte, code) in zip(printable, codes) {
            table[byte] = Character(Unicode.Scalar(UInt32(code)) ?? " ")
        }
        return table
    }()

    /// Writes a valid random-weight llama GGUF.
    ///
    /// - Parameters:
    ///   - path: the output file.
    ///   - seed: the SplitMix64 seed; the same arguments give identical bytes.
    ///   - weightType: the type of the layer matrices (norms are always F32), any `GGMLType`,
    ///     encoded by `GGMLQuantize`.
    ///   - layers, embedding, heads, kvHeads, ffn, context: the model's shape. Matrix rows are
    ///     `embedding` or `ffn` long, so both must be multiples of the weight type's block size
    ///     (256 for the K-quants and IQ4_XS, e.g. `embedding: 256, ffn: 512`).
    ///   - embeddingType: the type of `token_embd.weight` (Q8_0 as in the real model).
    ///   - storedAsF32: write every matrix as F32 holding the values its type decodes to: the
    ///     same weights as the file written without it, in the float format.
    /// - Throws: `GGUFError.invalidWriterInput` for inconsistent shapes, `.writeFailed`.
    public static func write(
        to path: String, seed: UInt64 = 1, weightType: GGMLType = .q4_1, layers: Int = 2,
        embedding: Int = 64, heads: Int = 4, kvHeads: Int = 2, ffn: Int = 128, context: Int = 512,
        embeddingType: GGMLType = .q8_0, storedAsF32: Bool = false
    ) throws {
        guard layers > 0, embedding > 0, heads > 0, kvHeads > 0, ffn > 0, context > 0,
              embedding % heads == 0, heads % kvHeads == 0, (embedding / heads) % 2 == 0
        else {
            throw GGUFError.invalidWriterInput(
                file: path,
                reason: "inconsistent tiny model shape (layers \(layers), embedding \(embedding), heads \(heads), kv heads \(kvHeads), ffn \(ffn), context \(context))")
        }
        for (role, type) in [("weight", weightType), ("embedding", embeddingType)] {
            let widths = role == "weight" ? [embedding, ffn] : [embedding]
            guard widths.allSatisfy({ $0 % type.blockSize == 0 }) else {
                throw GGUFError.invalidWriterInput(
                    file: path,
                    reason: "\(role) type \(type) needs rows that are multiples of \(type.blockSize) elements, but embedding is \(embedding) and ffn \(ffn)")
            }
        }
        let headDim = embedding / heads
        let kvDim = kvHeads * headDim
        let vocab = tokens
        var rng = SplitMix64(seed: seed)
        var w = GGUFWriter()

        w.set("general.architecture", .string("llama"))
        w.set("general.type", .string("model"))
        w.set("general.name", .string("Tiny Random Llama"))
        w.set("general.organization", .string("Sinkstream"))
        w.set("general.finetune", .string("random"))
        w.set("general.basename", .string("tiny-llama"))
        w.set("general.size_label", .string("tiny"))
        w.set("general.license", .string("apache-2.0"))
        w.set("general.languages", .array([.string("en")]))
        w.set("llama.block_count", .uint32(UInt32(layers)))
        w.set("llama.context_length", .uint32(UInt32(context)))
        w.set("llama.embedding_length", .uint32(UInt32(embedding)))
        w.set("llama.feed_forward_length", .uint32(UInt32(ffn)))
        w.set("llama.attention.head_count", .uint32(UInt32(heads)))
        w.set("llama.attention.head_count_kv", .uint32(UInt32(kvHeads)))
        w.set("llama.rope.freq_base", .float32(100_000))
        w.set("llama.attention.layer_norm_rms_epsilon", .float32(1e-5))
        w.set("general.file_type", .uint32(fileType(weightType)))
        w.set("llama.vocab_size", .uint32(UInt32(vocab.count)))
        w.set("llama.rope.dimension_count", .uint32(UInt32(headDim)))
        w.set("tokenizer.ggml.add_space_prefix", .bool(false))
        w.set("tokenizer.ggml.add_bos_token", .bool(false))
        w.set("tokenizer.ggml.model", .string("gpt2"))
        w.set("tokenizer.ggml.pre", .string("smollm"))
        w.set("tokenizer.ggml.tokens", .array(vocab.map { .string($0) }))
        let normalCount = 256 + merges.count
        w.set("tokenizer.ggml.token_type", .array((0..<vocab.count).map { .int32($0 < normalCount ? 1 : 3) }))
        w.set("tokenizer.ggml.merges", .array(merges.map { .string($0) }))
        let endOfText = UInt32(normalCount), imStart = UInt32(normalCount + 1), imEnd = UInt32(normalCount + 2)
        w.set("tokenizer.ggml.bos_token_id", .uint32(imStart))
        w.set("tokenizer.ggml.eos_token_id", .uint32(imEnd))
        w.set("tokenizer.ggml.unknown_token_id", .uint32(endOfText))
        w.set("tokenizer.ggml.padding_token_id", .uint32(imEnd))
        w.set("tokenizer.chat_template", .string(chatTemplate))
        w.set("general.quantization_version", .uint32(2))

        func matrix(_ name: String, _ dims: [Int], _ type: GGMLType) {
            let values = (0..<dims.reduce(1, *)).map { _ in Float(rng.nextNormal() * 0.02) }
            let data = GGMLQuantize.quantize(values, as: type)
            if storedAsF32 {
                let decoded = data.withUnsafeBytes { GGMLDequantize.dequantize($0, type: type, count: values.count) }
                w.addTensor(name: name, dims: dims, type: .f32, data: GGMLQuantize.quantize(decoded, as: .f32))
            } else {
                w.addTensor(name: name, dims: dims, type: type, data: data)
            }
        }
        func norm(_ name: String) {
            let values = (0..<embedding).map { _ in Float(1 + rng.nextNormal() * 0.05) }
            w.addTensor(name: name, dims: [embedding], type: .f32, data: GGMLQuantize.quantize(values, as: .f32))
        }
        // Same order as the real SmolLM2 file.
        matrix("token_embd.weight", [embedding, vocab.count], embeddingType)
        for layer in 0..<layers {
            let p = "blk.\(layer)."
            norm(p + "attn_norm.weight")
            matrix(p + "ffn_down.weight", [ffn, embedding], weightType)
            matrix(p + "ffn_gate.weight", [embedding, ffn], weightType)
            matrix(p + "ffn_up.weight", [embedding, ffn], weightType)
            norm(p + "ffn_norm.weight")
            matrix(p + "attn_k.weight", [embedding, kvDim], weightType)
            matrix(p + "attn_output.weight", [embedding, embedding], weightType)
            matrix(p + "attn_q.weight", [embedding, embedding], weightType)
            matrix(p + "attn_v.weight", [embedding, kvDim], weightType)
        }
        norm("output_norm.weight")
        try w.write(to: path)
    }

    /// The `GGUFError.code` each corrupt variant must produce (`architecture-gpt2` opens
    /// fine and fails only `requireArchitecture(["llama"])`).
    public static let expectedErrorCodes: [String: String] = [
        "empty-file": "gguf.truncated",
        "truncated-in-header": "gguf.truncated",
        "truncated-in-metadata": "gguf.truncated",
        "truncated-in-tensor-infos": "gguf.truncated",
        "truncated-in-data": "gguf.tensor_out_of_bounds",
        "wrong-magic": "gguf.bad_magic",
        "version-1": "gguf.unsupported_version",
        "too-many-tensors": "gguf.too_many_tensors",
        "too-many-metadata-entries": "gguf.too_many_metadata_entries",
        "huge-string-length": "gguf.string_too_long",
        "huge-array-count": "gguf.array_too_large",
        "unknown-value-type": "gguf.unknown_value_type",
        "duplicate-metadata-key": "gguf.duplicate_metadata_key",
        "bad-dimension-count": "gguf.bad_dimension_count",
        "zero-dimension": "gguf.bad_dimension",
        "element-count-overflow": "gguf.element_count_overflow",
        "unsupported-tensor-type": "gguf.unsupported_tensor_type",
        "row-not-block-multiple": "gguf.row_not_block_multiple",
        "duplicate-tensor-name": "gguf.duplicate_tensor",
        "tensor-offset-misaligned": "gguf.misaligned_tensor",
        "tensor-offset-past-end": "gguf.tensor_out_of_bounds",
        "architecture-gpt2": "gguf.unsupported_architecture",
    ]

    /// Corrupted copies of a valid GGUF file's bytes, one per kind of defect (see
    /// `expectedErrorCodes`). Variants that need a feature the input lacks (e.g. two tensor
    /// names of equal length) are left out; an unparseable input gives only the first ones.
    public static func corruptVariants(of bytes: [UInt8]) -> [(name: String, bytes: [UInt8])] {
        var variants: [(name: String, bytes: [UInt8])] = [("empty-file", [])]
        func patched(_ name: String, _ edit: (inout [UInt8]) -> Void) {
            var copy = bytes
            edit(&copy)
            variants.append((name, copy))
        }
        if bytes.count > 12 { variants.append(("truncated-in-header", Array(bytes[..<12]))) }
        patched("wrong-magic") { $0.replaceLE(at: 0, UInt32(0x4747_5546)) }  // "FUGG"
        patched("version-1") { $0.replaceLE(at: 4, UInt32(1)) }
        patched("too-many-tensors") { $0.replaceLE(at: 8, UInt64(1) << 40) }
        patched("too-many-metadata-entries") { $0.replaceLE(at: 16, UInt64(1) << 40) }
        guard let layout = GGUFLayoutScan(bytes) else { return variants }

        if let first = layout.entries.first {
            patched("huge-string-length") { $0.replaceLE(at: first.keyOffset, UInt64(1) << 62) }
            patched("unknown-value-type") { $0.replaceLE(at: first.typeOffset, UInt32(13)) }
        }
        if let scalar = layout.entries.first(where: { [4, 5, 10, 11, 12].contains($0.type) }) {
            variants.append(("truncated-in-metadata", Array(bytes[..<(scalar.valueOffset + 2)])))
        }
        if let array = layout.entries.first(where: { $0.type == 9 }) {
            patched("huge-array-count") { $0.replaceLE(at: array.valueOffset + 4, UInt64(1) << 62) }
        }
        if let (a, b) = firstPair(layout.entries, by: { $0.key.utf8.count }) {
            patched("duplicate-metadata-key") {
                $0.replaceSubrange((b.keyOffset + 8)..<(b.keyOffset + 8 + b.key.utf8.count), with: Array(a.key.utf8))
            }
        }
        if let tensor = layout.tensors.first {
            variants.append(("truncated-in-tensor-infos", Array(bytes[..<(tensor.offsetFieldOffset + 3)])))
            if let lastDataByte = layout.tensors.map({ layout.dataOffset + Int($0.offset) }).max(),
               lastDataByte < bytes.count, bytes.count - 1 > layout.dataOffset {
                variants.append(("truncated-in-data", Array(bytes[..<(bytes.count - 1)])))
            }
            patched("bad-dimension-count") { $0.replaceLE(at: tensor.dimsOffset - 4, UInt32(5)) }
            patched("zero-dimension") { $0.replaceLE(at: tensor.dimsOffset, UInt64(0)) }
            if tensor.dimensionCount >= 2 {
                patched("element-count-overflow") {
                    $0.replaceLE(at: tensor.dimsOffset, UInt64(1) << 40)
                    $0.replaceLE(at: tensor.dimsOffset + 8, UInt64(1) << 40)
                }
            }
            patched("unsupported-tensor-type") { $0.replaceLE(at: tensor.typeFieldOffset, UInt32(16)) }  // IQ2_XXS
            if let quantized = layout.tensors.first(where: { [2, 3, 8].contains($0.type) }) {
                patched("row-not-block-multiple") { $0.replaceLE(at: quantized.dimsOffset, UInt64(33)) }
            }
            if layout.alignment > 1 {
                patched("tensor-offset-misaligned") { $0.replaceLE(at: tensor.offsetFieldOffset, tensor.offset + 1) }
            }
            let pastEnd = UInt64((bytes.count + layout.alignment) / layout.alignment * layout.alignment)
            patched("tensor-offset-past-end") { $0.replaceLE(at: tensor.offsetFieldOffset, pastEnd) }
        }
        if let (a, b) = firstPair(layout.tensors, by: { $0.name.utf8.count }) {
            patched("duplicate-tensor-name") {
                $0.replaceSubrange((b.nameOffset + 8)..<(b.nameOffset + 8 + b.name.utf8.count), with: Array(a.name.utf8))
            }
        }
        if let arch = layout.entries.first(where: { $0.key == "general.architecture" && $0.type == 8 }),
           let end = layout.skip(type: 8, at: arch.valueOffset) {
            // Replace the string, then re-pad so that the data section starts aligned again.
            var header = Array(bytes[..<arch.valueOffset])
            header.appendLE(UInt64(4))
            header.append(contentsOf: Array("gpt2".utf8))
            header.append(contentsOf: bytes[end..<layout.headerEnd])
            let padded = (header.count + layout.alignment - 1) / layout.alignment * layout.alignment
            header.append(contentsOf: [UInt8](repeating: 0, count: padded - header.count))
            if layout.dataOffset <= bytes.count {
                header.append(contentsOf: bytes[layout.dataOffset...])
            }
            variants.append(("architecture-gpt2", header))
        }
        return variants
    }

    private static func firstPair<T>(_ items: [T], by length: (T) -> Int) -> (T, T)? {
        var seen: [Int: T] = [:]
        for item in items {
            if let earlier = seen[length(item)] { return (earlier, item) }
            seen[length(item)] = item
        }
        return nil
    }

    /// llama.cpp's `general.file_type` (`LLAMA_FTYPE_*`) for a model whose matrices are
    /// `type` (the K-quants as their "small" mixes, in which every matrix has that type).
    public static func fileType(_ type: GGMLType) -> UInt32 {
        switch type {
        case .f32: 0
        case .f16: 1
        case .q4_0: 2
        case .q4_1: 3
        case .q8_0: 7
        case .q5_0: 8
        case .q5_1: 9
        case .q2_k: 10
        case .q3_k: 11
        case .q4_k: 14
        case .q5_k: 16
        case .q6_k: 18
        case .iq4_nl: 25
        case .iq4_xs: 30
        case .bf16: 32
        }
    }

    /// A deterministic SplitMix64 generator.
    public struct SplitMix64: RandomNumberGenerator, Sendable {
        private var state: UInt64

        /// Creates a generator from a seed.
        public init(seed: UInt64) { state = seed }

        /// The next 64 random bits.
        public mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }

        /// A uniform double in [0, 1).
        public mutating func nextUniform() -> Double {
            Double(next() >> 11) * 0x1.0p-53
        }

        /// A standard normal sample (Box–Muller).
        public mutating func nextNormal() -> Double {
            let u1 = max(nextUniform(), 1e-300)
            let u2 = nextUniform()
            return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
        }
    }
}

/// Offsets of the fields of a well-formed GGUF header, for building corrupt variants.
private struct GGUFLayoutScan {
    struct Entry {
        var key: String
        var keyOffset: Int
        var typeOffset: Int
        var valueOffset: Int
        var type: UInt32
    }

    struct Tensor {
        var name: String
        var nameOffset: Int
        var dimensionCount: Int
        var dimsOffset: Int
        var typeFieldOffset: Int
        var type: UInt32
        var offsetFieldOffset: Int
        var offset: UInt64
    }

    let bytes: [UInt8]
    var entries: [Entry] = []
    var tensors: [Tensor] = []
    var alignment = 32
    var headerEnd = 0
    var dataOffset = 0

    /// Scans `bytes`; nil when they are not a readable GGUF v2/v3 header.
    init?(_ bytes: [UInt8]) {
        self.bytes = bytes
        guard bytes.count >= 24, let tensorCount = u64(8), let kvCount = u64(16),
              tensorCount < 1 << 20, kvCount < 1 << 20 else { return nil }
        var offset = 24
        for _ in 0..<Int(kvCount) {
            guard let keyLength = u64(offset), let key = string(at: offset),
                  let type = u32(offset + 8 + Int(keyLength)) else { return nil }
            let typeOffset = offset + 8 + Int(keyLength)
            guard let end = skip(type: type, at: typeOffset + 4) else { return nil }
            entries.append(Entry(key: key, keyOffset: offset, typeOffset: typeOffset, valueOffset: typeOffset + 4, type: type))
            if key == "general.alignment", let value = u32(typeOffset + 4), value > 0 { alignment = Int(value) }
            offset = end
        }
        for _ in 0..<Int(tensorCount) {
            guard let nameLength = u64(offset), let name = string(at: offset),
                  let dimensionCount = u32(offset + 8 + Int(nameLength)), dimensionCount <= 4 else { return nil }
            let dimsOffset = offset + 12 + Int(nameLength)
            let typeFieldOffset = dimsOffset + 8 * Int(dimensionCount)
            guard let type = u32(typeFieldOffset), let tensorOffset = u64(typeFieldOffset + 4) else { return nil }
            tensors.append(Tensor(
                name: name, nameOffset: offset, dimensionCount: Int(dimensionCount), dimsOffset: dimsOffset,
                typeFieldOffset: typeFieldOffset, type: type, offsetFieldOffset: typeFieldOffset + 4, offset: tensorOffset))
            offset = typeFieldOffset + 12
        }
        headerEnd = offset
        dataOffset = (offset + alignment - 1) / alignment * alignment
    }

    /// The offset just past a value of `type` starting at `offset`, or nil.
    func skip(type: UInt32, at offset: Int) -> Int? {
        switch type {
        case 0, 1, 7: return offset + 1 <= bytes.count ? offset + 1 : nil
        case 2, 3: return offset + 2 <= bytes.count ? offset + 2 : nil
        case 4, 5, 6: return offset + 4 <= bytes.count ? offset + 4 : nil
        case 10, 11, 12: return offset + 8 <= bytes.count ? offset + 8 : nil
        case 8:
            guard let length = u64(offset), length <= UInt64(bytes.count - offset - 8) else { return nil }
            return offset + 8 + Int(length)
        case 9:
            guard let elementType = u32(offset), let count = u64(offset + 4),
                  count <= UInt64(bytes.count) else { return nil }
            var position = offset + 12
            for _ in 0..<Int(count) {
                guard let next = skip(type: elementType, at: position) else { return nil }
                position = next
            }
            return position
        default:
            return nil
        }
    }

    private func u32(_ offset: Int) -> UInt32? {
        guard offset >= 0, offset + 4 <= bytes.count else { return nil }
        return (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[offset + $1]) << (8 * $1) }
    }

    private func u64(_ offset: Int) -> UInt64? {
        guard offset >= 0, offset + 8 <= bytes.count else { return nil }
        return (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[offset + $1]) << (8 * $1) }
    }

    private func string(at offset: Int) -> String? {
        guard let end = skip(type: 8, at: offset) else { return nil }
        return String(decoding: bytes[(offset + 8)..<end], as: UTF8.self)
    }
}

fileprivate extension Array where Element == UInt8 {
    /// Overwrites `value`'s little-endian bytes at `offset` (ignored if out of range).
    mutating func replaceLE<T: FixedWidthInteger>(at offset: Int, _ value: T) {
        let width = MemoryLayout<T>.size
        guard offset >= 0, offset + width <= count else { return }
        for i in 0..<width { self[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * i)) }
    }

    /// Appends `value`'s little-endian bytes.
    mutating func appendLE<T: FixedWidthInteger>(_ value: T) {
        for i in 0..<MemoryLayout<T>.size { append(UInt8(truncatingIfNeeded: value >> (8 * i))) }
    }
}
