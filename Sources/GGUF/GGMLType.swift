/// A ggml tensor element type supported by this reader.
///
/// Float types have one element per block; quantized types pack 32 elements per block.
public enum GGMLType: UInt32, Sendable, CaseIterable, CustomStringConvertible {
    /// 32-bit IEEE float.
    case f32 = 0
    /// 16-bit IEEE half float.
    case f16 = 1
    /// 4-bit blocks of 32 with one f16 scale: `d·(q − 8)`.
    case q4_0 = 2
    /// 4-bit blocks of 32 with an f16 scale and minimum: `d·q + m`.
    case q4_1 = 3
    /// 8-bit blocks of 32 with one f16 scale: `d·q`.
    case q8_0 = 8
    /// bfloat16 (the top half of a 32-bit float).
    case bf16 = 30

    /// Elements per block: 1 for float types, 32 for quantized types.
    public var blockSize: Int {
        switch self {
        case .f32, .f16, .bf16: 1
        case .q4_0, .q4_1, .q8_0: 32
        }
    }

    /// Bytes per block: f32 4, f16 2, bf16 2, q4_0 18, q4_1 20, q8_0 34.
    public var bytesPerBlock: Int {
        switch self {
        case .f32: 4
        case .f16, .bf16: 2
        case .q4_0: 18
        case .q4_1: 20
        case .q8_0: 34
        }
    }

    /// Whether the type is block-quantized.
    public var isQuantized: Bool { blockSize > 1 }

    /// The name ggml uses, upper case (`Q4_1`, `F32`, …).
    public var name: String { GGMLType.knownName(typeID: rawValue) ?? "type \(rawValue)" }

    /// The ggml name, as `name`.
    public var description: String { name }

    /// Bytes needed for `count` elements, or nil when `count` is not a whole number of blocks
    /// or the size overflows.
    public func byteCount(elements count: Int) -> Int? {
        guard count >= 0, count % blockSize == 0 else { return nil }
        let (bytes, overflow) = (count / blockSize).multipliedReportingOverflow(by: bytesPerBlock)
        return overflow ? nil : bytes
    }

    /// ggml's name for a type id, including types this reader does not support.
    static func knownName(typeID: UInt32) -> String? {
        let names: [UInt32: String] = [
            0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 6: "Q5_0", 7: "Q5_1", 8: "Q8_0", 9: "Q8_1",
            10: "Q2_K", 11: "Q3_K", 12: "Q4_K", 13: "Q5_K", 14: "Q6_K", 15: "Q8_K",
            16: "IQ2_XXS", 17: "IQ2_XS", 18: "IQ3_XXS", 19: "IQ1_S", 20: "IQ4_NL", 21: "IQ3_S",
            22: "IQ2_S", 23: "IQ4_XS", 24: "I8", 25: "I16", 26: "I32", 27: "I64", 28: "F64",
            29: "IQ1_M", 30: "BF16", 34: "TQ1_0", 35: "TQ2_0", 39: "MXFP4",
        ]
        return names[typeID]
    }
}
