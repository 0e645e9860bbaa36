/// Conversions between `Float` and the 16-bit float formats ggml stores (IEEE half, bfloat16).
public enum GGMLFloat {
    /// IEEE 754 half-precision bits to `Float` (exact).
    @inline(__always)
    public static func f16ToF32(_ bits: UInt16) -> Float {
        Float(Float16(bitPattern: bits))
    }

    /// bfloat16 bits to `Float` (exact: the bits are the top half of a `Float`).
    @inline(__always)
    public static func bf16ToF32(_ bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }

    /// `Float` to IEEE half bits, rounding to nearest even (as ggml's `GGML_FP32_TO_FP16`).
    @inline(__always)
    public static func f32ToF16(_ x: Float) -> UInt16 {
        Float16(x).bitPattern
    }

    /// `Float` to bfloat16 bits, rounding to nearest even; NaNs stay quiet NaNs
    /// (as ggml's `ggml_compute_fp32_to_bf16`).
    @inline(__always)
    public static func f32ToBF16(_ x: Float) -> UInt16 {
        let u = x.bitPattern
        if (u & 0x7fff_ffff) > 0x7f80_0000 {
            return UInt16(truncatingIfNeeded: (u >> 16) | 64)
        }
        return UInt16(truncatingIfNeeded: (u &+ (0x7fff &+ ((u >> 16) & 1))) >> 16)
    }
}
