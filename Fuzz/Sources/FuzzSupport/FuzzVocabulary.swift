import GGUF
import Tokenization

/// The tokenizer the tokenizer fuzz target uses: the real model's vocabulary when the model
/// file is present, otherwise the tiny test vocabulary (256 byte tokens, a few merges, the
/// SmolLM2 special tokens), which is the same as `TestSupport.TinyModel`'s.
public enum FuzzVocabulary {
    /// The model file: `SINKSTREAM_MODEL`, else the per-user cache location, if it exists.
    public static var modelPath: String? {
        if let path = FuzzEnvironment.value("SINKSTREAM_MODEL") {
            return FuzzEnvironment.fileExists(path) ? path : nil
        }
        let cache = FuzzEnvironment.value("XDG_CACHE_HOME") ?? ((FuzzEnvironment.value("HOME") ?? "/root") + "/.cache")
        let path = cache + "/sinkstream/models/SmolLM2-135M-Instruct.Q4_1.gguf"
        return FuzzEnvironment.fileExists(path) ? path : nil
    }

    /// Builds the tokenizer from `modelPath`, or the tiny vocabulary; `source` says which.
    public static func make() -> (tokenizer: BPETokenizer, source: String) {
        if let path = modelPath, let tokenizer = try? fromModel(path) {
            return (tokenizer, path)
        }
        do {
            return (try tiny(), "tiny vocabulary")
        } catch {
            FuzzCheck.fail("the tiny vocabulary does not build: \(error)")
        }
    }

    /// The tokenizer stored in a GGUF file (`tokenizer.ggml.*`), nil when keys are missing.
    public static func fromGGUF(_ file: GGUFFile, strictMerges: Bool) throws -> BPETokenizer? {
        guard let tokens = file.stringArray("tokenizer.ggml.tokens"),
              let merges = file.stringArray("tokenizer.ggml.merges") else { return nil }
        func id(_ key: String) -> Int32? { file.integer(key).flatMap { Int32(exactly: $0) } }
        return try BPETokenizer(
            tokens: tokens, tokenTypes: file.integerArray("tokenizer.ggml.token_type"), merges: merges,
            preTokenizer: file.string("tokenizer.ggml.pre") ?? "default",
            bosID: id("tokenizer.ggml.bos_token_id"), eosID: id("tokenizer.ggml.eos_token_id"),
            eotID: id("tokenizer.ggml.eot_token_id"), strictMerges: strictMerges)
    }

    private static func fromModel(_ path: String) throws -> BPETokenizer? {
        try fromGGUF(try GGUFFile(path: path), strictMerges: true)
    }

    /// The BPE merges of the tiny vocabulary, in rank order.
    public static let tinyMerges = ["Ġ t", "h e", "i n", "Ġ a", "e r", "Ġt he", "o n", "r e"]
    /// The special tokens of the tiny vocabulary (type CONTROL).
    public static let tinySpecialTokens = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

    /// The tiny vocabulary's tokens: GPT-2 byte characters, merged tokens, special tokens.
    public static var tinyTokens: [String] {
        byteCharacters + tinyMerges.map { $0.split(separator: " ").joined() } + tinySpecialTokens
    }

    /// GPT-2's `bytes_to_unicode`: the vocabulary text standing for each byte value.
    public static let byteCharacters: [String] = {
        var printable: [Int] = Array(33...126) + Array(161...172) + Array(174...255)
        var codes = printable
        var extra = 0
        for byte in 0..<256 where !printable.contains(byte) {
            printable.append(byte)
            codes.append(256 + extra)
            extra += 1
        }
        var table = [String](repeating: " ", count: 256)
        for (byte, code) in zip(printable, codes) {
            table[byte] = Unicode.Scalar(UInt32(code)).map { String(Character($0)) } ?? " "
        }
        return table
    }()

    /// The bytes whose byte-level token is not in `tokenizer`'s vocabulary. Like llama.cpp,
    /// the tokenizer drops such bytes (SmolLM2 lacks e.g. 0x04, 0x06 and 0xF5…0xFF), so they
    /// are absent from `decode(encode(text))`.
    public static func missingBytes(_ tokenizer: BPETokenizer) -> Set<UInt8> {
        Set((0...255).filter { tokenizer.id(of: byteCharacters[$0]) == nil }.map { UInt8($0) })
    }

    private static func tiny() throws -> BPETokenizer {
        let tokens = tinyTokens
        let normal = 256 + tinyMerges.count
        return try BPETokenizer(
            tokens: tokens, tokenTypes: (0..<tokens.count).map { $0 < normal ? 1 : 3 },
            merges: tinyMerges, preTokenizer: "smollm",
            bosID: Int32(normal + 1), eosID: Int32(normal + 2))
    }
}
