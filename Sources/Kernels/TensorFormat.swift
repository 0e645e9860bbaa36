import CKernels
import GGUF

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
/// `type_traits_cpu`). The block facts (elements, bytes, field offsets) belong to `GGMLType`;
/// this adds what the kernels do with a type.
public struct TensorFormat: Sendable, Equatable {
    /// The ggml type.
    public let type: GGMLType

    /// ggml type id.
    public var typeID: Int32 { Int32(type.rawValue) }
    /// Lower-case ggml name (`q4_k`, `f16`, …).
    public var name: String { type.layout.name.lowercased() }
    /// Elements per block (1 for float types, 32, or 256 for K-quants and IQ4_XS): a row's length
    /// must be a multiple of it.
    public var blockElements: Int { type.blockSize }
    /// Bytes per block in the ggml layout.
    public var blockBytes: Int { type.bytesPerBlock }
    /// Whether the integer (fast) path has packed kernels for it (`ss_pack` / `ss_gemm_q`): every
    /// quantized type has.
    public var hasPackedKernels: Bool { type.layout.isQuantized }
    /// The activations the fast path multiplies it with (`.float32` for types without packed kernels).
    public var activation: ActivationFormat { hasPackedKernels ? .q8Blocks32 : .float32 }

    /// Bits per weight in the ggml layout.
    public var bitsPerWeight: Double { Double(blockBytes * 8) / Double(blockElements) }

    /// Whether a row of `cols` elements is valid for this format.
    public func acceptsRowLength(_ cols: Int) -> Bool { cols > 0 && cols % blockElements == 0 }

    /// Every type the kernels read (every `GGMLType`), in ggml id order.
    public static let all: [TensorFormat] = GGMLType.allCases.sorted { $0.rawValue < $1.rawValue }.map(TensorFormat.init)

    /// The format of ggml type `typeID`, or nil when the kernels cannot read it.
    public static func of(_ typeID: Int32) -> TensorFormat? {
        typeID < 0 ? nil : GGMLType(rawValue: UInt32(typeID)).map(TensorFormat.init)
    }

    /// The format named `name` (case-insensitive ggml name), or nil.
    public static func named(_ name: String) -> TensorFormat? {
        let lower = name.lowercased()
        return all.first { $0.name == lower }
    }

    public init(_ type: GGMLType) { self.type = type }
}
