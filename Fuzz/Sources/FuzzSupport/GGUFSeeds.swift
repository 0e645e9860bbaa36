import GGUF

/// Small valid GGUF files for the GGUF fuzz target's seed corpus, built with `GGUFWriter`:
/// every metadata value type, nested arrays, every tensor type, odd alignments, version 2,
/// and a llama-shaped file with the tiny tokenizer.
public enum GGUFSeeds {
    /// The seeds by file name.
    public static func all() -> [(name: String, bytes: [UInt8])] {
        var seeds: [(name: String, bytes: [UInt8])] = []
        seeds.append(("empty-v3.gguf", GGUFWriter().serialized()))
        seeds.append(("empty-v2.gguf", GGUFWriter(version: 2).serialized()))

        var values = GGUFWriter()
        values.set("u8", .uint8(200))
        values.set("i8", .int8(-3))
        values.set("u16", .uint16(65535))
        values.set("i16", .int16(-300))
        values.set("u32", .uint32(1 << 31))
        values.set("i32", .int32(-7))
        values.set("f32", .float32(1.5))
        values.set("bool", .bool(true))
        values.set("str", .string("héllo"))
        values.set("u64", .uint64(UInt64.max))
        values.set("i64", .int64(Int64.min))
        values.set("f64", .float64(-0.25))
        values.set("strings", .array([.string("a"), .string(""), .string("Ġthe")]))
        values.set("ints", .array([.int32(1), .int32(-2), .int32(3)]))
        values.set("floats", .array([.float32(0.5), .float32(-1)]))
        values.set("nested", .array([.array([.uint8(1), .uint8(2)]), .array([.uint8(3)])]))
        values.set("empty", .array([]))
        seeds.append(("all-value-types.gguf", values.serialized()))

        for alignment in [1, 32, 64] {
            var tensors = GGUFWriter(alignment: alignment)
            tensors.set("general.architecture", .string("llama"))
            for (index, type) in GGMLType.allCases.enumerated() {
                let dims = type.isQuantized ? [type.blockSize, 1 + index % 2] : [4, 1 + index % 3]
                let values = (0..<dims.reduce(1, *)).map { Float($0 % 7) * 0.25 - 0.5 }
                tensors.addTensor(
                    name: "t.\(type.name)", dims: dims, type: type, data: GGMLQuantize.quantize(values, as: type))
            }
            seeds.append(("tensors-align\(alignment).gguf", tensors.serialized()))
        }

        var llama = GGUFWriter()
        llama.set("general.architecture", .string("llama"))
        llama.set("llama.block_count", .uint32(1))
        llama.set("llama.context_length", .uint32(64))
        llama.set("llama.embedding_length", .uint32(32))
        llama.set("llama.feed_forward_length", .uint32(64))
        llama.set("llama.attention.head_count", .uint32(2))
        llama.set("llama.attention.head_count_kv", .uint32(1))
        llama.set("llama.rope.freq_base", .float32(10_000))
        llama.set("llama.attention.layer_norm_rms_epsilon", .float32(1e-5))
        let tokens = FuzzVocabulary.tinyTokens
        let normal = 256 + FuzzVocabulary.tinyMerges.count
        llama.set("llama.vocab_size", .uint32(UInt32(tokens.count)))
        llama.set("tokenizer.ggml.model", .string("gpt2"))
        llama.set("tokenizer.ggml.pre", .string("smollm"))
        llama.set("tokenizer.ggml.tokens", .array(tokens.map { .string($0) }))
        llama.set("tokenizer.ggml.token_type", .array((0..<tokens.count).map { .int32($0 < normal ? 1 : 3) }))
        llama.set("tokenizer.ggml.merges", .array(FuzzVocabulary.tinyMerges.map { .string($0) }))
        llama.set("tokenizer.ggml.bos_token_id", .uint32(UInt32(normal + 1)))
        llama.set("tokenizer.ggml.eos_token_id", .uint32(UInt32(normal + 2)))
        llama.addTensor(name: "output_norm.weight", dims: [32], type: .f32,
                        data: GGMLQuantize.quantize([Float](repeating: 1, count: 32), as: .f32))
        llama.addTensor(name: "token_embd.weight", dims: [32, 4], type: .q8_0,
                        data: GGMLQuantize.quantize((0..<128).map { Float($0) / 64 - 1 }, as: .q8_0))
        seeds.append(("tiny-llama.gguf", llama.serialized()))
        return seeds
    }
}
