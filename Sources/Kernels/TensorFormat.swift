import CKernels

/// How activations are presented to a weight format's kernels.
public enum ActivationFormat: String, Sendable, Codable {
    /// Float activations (the f32 path: rows dequantized, float dot products).
    case float32
    /// 48-byte blocks of 32 int8 quants with a scale and sums (``Matmul/quantize``, `ss_act_block`).
    /// Every packed weight format pairs with it, so a layer mixing formats quantizes its input once.
    case q8Blocks32
}

/// What the kernels know about one ggml tensor type: one entry of ``TensorFormat/all``, the
/// table every caller reads instead of testing raw type ids (in the manner of ggml's
/// `type_traits_cpu`).
public struct TensorFormat: Sendable, Equatable {
    /// ggml type id.
    public let typeID: Int32
    /// Lower-case ggml name (`q4_k`, `f16`, …).
    public let name: String
    /// Elements per block (1 for float types, 32, or 256 for K-quants and IQ4_XS): a row's length
    /// must be a multiple of it.
    public let blockElements: Int
    /// Bytes per block in the ggml layout.
    public let blockBytes: Int
    /// Whether the integer (fast) path has packed kernels for it (`ss_pack` / `ss_gemm_q`).
    public let hasPackedKernels: Bool
    /// The activations the fast path multiplies it with (`.float32` for types without packed kernels).
    public let activation: ActivationFormat

    /// Bits per weight in the ggml layout.
    public var bitsPerWeight: Double { Double(blockBytes * 8) / Double(blockElements) }

    /// Whether a row of `cols` elements is valid for this format.
    public func acceptsRowLength(_ cols: Int) -> Bool { cols > 0 && cols % blockElements == 0 }

    /// Every type the kernels read, in ggml id order.
    public static let all: [TensorFormat] = [
        float(SS_TYPE_F32, "f32", bytes: 4),
        float(SS_TYPE_F16, "f16", bytes: 2),
        packed(SS_TYPE_Q4_0, "q4_0", 32, 18),
        packed(SS_TYPE_Q4_1, "q4_1", 32, 20),
        packed(SS_TYPE_Q5_0, "q5_0", 32, 22),
        packed(SS_TYPE_Q5_1, "q5_1", 32, 24),
        packed(SS_TYPE_Q8_0, "q8_0", 32, 34),
        packed(SS_TYPE_Q2_K, "q2_k", 256, 84),
        packed(SS_TYPE_Q3_K, "q3_k", 256, 110),
        packed(SS_TYPE_Q4_K, "q4_k", 256, 144),
        packed(SS_TYPE_Q5_K, "q5_k", 256, 176),
        packed(SS_TYPE_Q6_K, "q6_k", 256, 210),
        packed(SS_TYPE_IQ4_NL, "iq4_nl", 32, 18),
        packed(SS_TYPE_IQ4_XS, "iq4_xs", 256, 136),
        float(SS_TYPE_BF16, "bf16", bytes: 2),
    ]

    /// The format of ggml type `typeID`, or nil when the kernels cannot read it.
    public static func of(_ typeID: Int32) -> TensorFormat? {
        byID[typeID]
    }

    /// The format named `name` (case-insensitive ggml name), or nil.
    public static func named(_ name: String) -> TensorFormat? {
        let lower = name.lowercased()
        return all.first { $0.name == lower }
    }

    private static let byID: [Int32: TensorFormat] = Dictionary(uniqueKeysWithValues: all.map { ($0.typeID, $0) })

    private static func float(_ id: Int32, _ name: String, bytes: Int) -> TensorFormat {
        TensorFormat(typeID: id, name: name, blockElements: 1, blockBytes: bytes, hasPackedKernels: false, activation: .float32)
    }

    private static func packed(_ id: Int32, _ name: String, _ elements: Int, _ bytes: Int) -> TensorFormat {
        TensorFormat(typeID: id, name: name, blockElements: elements, blockBytes: bytes, hasPackedKernels: true,
                     activation: .q8Blocks32)
    }
}
