/// A ggml tensor element type that this reader decodes.
///
/// Every fact about a type's blocks lives in one row of ``layout`` (see the table there):
/// float types have one element per block; the legacy quantized types and IQ4_NL pack 32
/// elements per block; the K-quants and IQ4_XS pack 256 elements per super-block.
/// Type ids this enum does not cover are still named by ``knownName(typeID:)``.
public enum GGMLType: UInt32, Sendable, CaseIterable, CustomStringConvertible {
    /// 32-bit IEEE float.
    case f32 = 0
    /// 16-bit IEEE half float.
    case f16 = 1
    /// 4-bit blocks of 32 with one f16 scale: `d·(q − 8)`.
    case q4_0 = 2
    /// 4-bit blocks of 32 with an f16 scale and minimum: `d·q + m`.
    case q4_1 = 3
    /// 5-bit blocks of 32 with one f16 scale: `d·(q − 16)`.
    case q5_0 = 6
    /// 5-bit blocks of 32 with an f16 scale and minimum: `d·q + m`.
    case q5_1 = 7
    /// 8-bit blocks of 32 with one f16 scale: `d·q`.
    case q8_0 = 8
    /// 2-bit super-blocks of 256 (16 groups of 16, 4-bit scales and minimums):
    /// `(d·sc)·q − dmin·m`.
    case q2_k = 10
    /// 3-bit super-blocks of 256 (16 groups of 16, signed 6-bit scales): `(d·(sc − 32))·(q − 4)`.
    case q3_k = 11
    /// 4-bit super-blocks of 256 (8 groups of 32, 6-bit scales and minimums):
    /// `(d·sc)·q − dmin·m`.
    case q4_k = 12
    /// 5-bit super-blocks of 256 (8 groups of 32, 6-bit scales and minimums):
    /// `(d·sc)·q − dmin·m`.
    case q5_k = 13
    /// 6-bit super-blocks of 256 (16 groups of 16, int8 scales): `(d·sc)·(q − 32)`.
    case q6_k = 14
    /// Non-linear 4-bit blocks of 32 with one f16 scale: `d·kvalues[q]`.
    case iq4_nl = 20
    /// Non-linear 4-bit super-blocks of 256 (8 groups of 32, signed 6-bit scales):
    /// `(d·(sc − 32))·kvalues[q]`.
    case iq4_xs = 23
    /// bfloat16 (the top half of a 32-bit float).
    case bf16 = 30

    /// The block facts of one type: one row of the type table.
    public struct Layout: Sendable, Equatable {
        /// ggml's name, upper case (`Q4_K`, `F32`, …).
        public let name: String
        /// Elements per block: 1 (float types), 32 or 256 (super-block types).
        public let blockSize: Int
        /// Encoded bytes per block.
        public let bytesPerBlock: Int
        /// Whether the type is one of the 256-element super-block types (K-quants, IQ4_XS).
        public let isSuperBlock: Bool
        /// Byte offset inside a block of the f16 scale `d`; nil for float types.
        public let scaleOffset: Int?
        /// Byte offset inside a block of the second f16 field (the minimum `m` or `dmin`);
        /// nil when the type has none.
        public let minOffset: Int?

        /// Whether the type is block-quantized.
        public var isQuantized: Bool { blockSize > 1 }
        /// The offsets of every f16 field of a block (the values that must be finite).
        public var halfFieldOffsets: [Int] { [scaleOffset, minOffset].compactMap { $0 } }
    }

    /// The type table: block size, bytes per block and the f16 fields of every type.
    ///
    /// Layouts (little-endian, ggml's `block_*` structs in `ggml-common.h`):
    /// - Q4_0 `{d; qs[16]}`, Q4_1 `{d; m; qs[16]}`, Q5_0 `{d; qh[4]; qs[16]}`,
    ///   Q5_1 `{d; m; qh[4]; qs[16]}`, Q8_0 `{d; qs[32]}`, IQ4_NL `{d; qs[16]}`;
    /// - Q2_K `{scales[16]; qs[64]; d; dmin}`, Q3_K `{hmask[32]; qs[64]; scales[12]; d}`,
    ///   Q4_K `{d; dmin; scales[12]; qs[128]}`, Q5_K `{d; dmin; scales[12]; qh[32]; qs[128]}`,
    ///   Q6_K `{ql[128]; qh[64]; scales[16]; d}`, IQ4_XS `{d; scales_h; scales_l[4]; qs[128]}`.
    public var layout: Layout {
        switch self {
        case .f32: Layout(name: "F32", blockSize: 1, bytesPerBlock: 4, isSuperBlock: false, scaleOffset: nil, minOffset: nil)
        case .f16: Layout(name: "F16", blockSize: 1, bytesPerBlock: 2, isSuperBlock: false, scaleOffset: nil, minOffset: nil)
        case .bf16: Layout(name: "BF16", blockSize: 1, bytesPerBlock: 2, isSuperBlock: false, scaleOffset: nil, minOffset: nil)
        case .q4_0: Layout(name: "Q4_0", blockSize: 32, bytesPerBlock: 18, isSuperBlock: false, scaleOffset: 0, minOffset: nil)
        case .q4_1: Layout(name: "Q4_1", blockSize: 32, bytesPerBlock: 20, isSuperBlock: false, scaleOffset: 0, minOffset: 2)
        case .q5_0: Layout(name: "Q5_0", blockSize: 32, bytesPerBlock: 22, isSuperBlock: false, scaleOffset: 0, minOffset: nil)
        case .q5_1: Layout(name: "Q5_1", blockSize: 32, bytesPerBlock: 24, isSuperBlock: false, scaleOffset: 0, minOffset: 2)
        case .q8_0: Layout(name: "Q8_0", blockSize: 32, bytesPerBlock: 34, isSuperBlock: false, scaleOffset: 0, minOffset: nil)
        case .iq4_nl: Layout(name: "IQ4_NL", blockSize: 32, bytesPerBlock: 18, isSuperBlock: false, scaleOffset: 0, minOffset: nil)
        case .q2_k: Layout(name: "Q2_K", blockSize: 256, bytesPerBlock: 84, isSuperBlock: true, scaleOffset: 80, minOffset: 82)
        case .q3_k: Layout(name: "Q3_K", blockSize: 256, bytesPerBlock: 110, isSuperBlock: true, scaleOffset: 108, minOffset: nil)
        case .q4_k: Layout(name: "Q4_K", blockSize: 256, bytesPerBlock: 144, isSuperBlock: true, scaleOffset: 0, minOffset: 2)
        case .q5_k: Layout(name: "Q5_K", blockSize: 256, bytesPerBlock: 176, isSuperBlock: true, scaleOffset: 0, minOffset: 2)
        case .q6_k: Layout(name: "Q6_K", blockSize: 256, bytesPerBlock: 210, isSuperBlock: true, scaleOffset: 208, minOffset: nil)
        case .iq4_xs: Layout(name: "IQ4_XS", blockSize: 256, bytesPerBlock: 136, isSuperBlock: true, scaleOffset: 0, minOffset: nil)
        }
    }

    /// Elements per block: 1 for float types, 32 or 256 for quantized types.
    @inline(__always)
    public var blockSize: Int { layout.blockSize }

    /// Encoded bytes per block (see ``layout``).
    @inline(__always)
    public var bytesPerBlock: Int { layout.bytesPerBlock }

    /// Whether the type is block-quantized.
    public var isQuantized: Bool { layout.isQuantized }

    /// Whether the type packs 256-element super-blocks (Q2_K…Q6_K, IQ4_XS), so that a row's
    /// length must be a multiple of 256.
    public var isSuperBlock: Bool { layout.isSuperBlock }

    /// The name ggml uses, upper case (`Q4_1`, `F32`, …).
    public var name: String { layout.name }

    /// The ggml name, as `name`.
    public var description: String { name }

    /// Bytes needed for `count` elements, or nil when `count` is not a whole number of blocks
    /// or the size overflows.
    public func byteCount(elements count: Int) -> Int? {
        let layout = layout
        guard count >= 0, count % layout.blockSize == 0 else { return nil }
        let (bytes, overflow) = (count / layout.blockSize).multipliedReportingOverflow(by: layout.bytesPerBlock)
        return overflow ? nil : bytes
    }

    /// ggml's name for a type id, including types this reader does not decode; nil for ids
    /// ggml does not define.
    public static func knownName(typeID: UInt32) -> String? {
        if let type = GGMLType(rawValue: typeID) { return type.name }
        let names: [UInt32: String] = [
            9: "Q8_1", 15: "Q8_K", 16: "IQ2_XXS", 17: "IQ2_XS", 18: "IQ3_XXS", 19: "IQ1_S", 21: "IQ3_S",
            22: "IQ2_S", 24: "I8", 25: "I16", 26: "I32", 27: "I64", 28: "F64", 29: "IQ1_M",
            34: "TQ1_0", 35: "TQ2_0", 39: "MXFP4",
        ]
        return names[typeID]
    }
}
