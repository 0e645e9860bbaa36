/// Scalar reference dequantization of ggml rows into `Float`.
///
/// Every value is computed with the float32 operations, in the order, of the PyPI `gguf`
/// package 0.19.0 (`gguf.quants.dequantize`), so results are bit-identical to it (the
/// fixture `dequant_gguf_0.19.0.json` checks this): each product and difference is rounded
/// to float32 separately (Swift does not fuse `a * b - c` into a multiply-add).
public enum GGMLDequantize {
    /// Decodes `count` elements of `type` starting at `src` into `into`.
    ///
    /// Values (`d`, `m`, `dmin` are the block's f16 fields, `sc` a sub-block scale):
    /// Q8_0 `d·q`; Q4_0 `d·(q − 8)`; Q5_0 `d·(q − 16)`; Q4_1, Q5_1 `d·q + m`;
    /// Q2_K, Q4_K, Q5_K `(d·sc)·q − dmin·m`; Q3_K `(d·(sc − 32))·(q − 4·(1 − h))`;
    /// Q6_K `(d·sc)·(q − 32)`; IQ4_NL `d·kvalues[q]`; IQ4_XS `(d·(sc − 32))·kvalues[q]`;
    /// F16/BF16 widened; F32 copied.
    /// For quantized types `src` must hold `ceil(count / blockSize)` blocks; only `count`
    /// outputs are written.
    /// - Parameters:
    ///   - src: the encoded bytes (any alignment).
    ///   - type: the element type.
    ///   - count: the number of elements to decode.
    ///   - into: the destination, with room for `count` floats.
    public static func dequantizeRow(
        _ src: UnsafeRawPointer, type: GGMLType, count: Int, into dst: UnsafeMutablePointer<Float>
    ) {
        switch type {
        case .f32:
            for i in 0..<count {
                dst[i] = Float(bitPattern: UInt32(littleEndian: src.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)))
            }
        case .f16:
            for i in 0..<count { dst[i] = GGMLFloat.f16ToF32(half(src, i * 2)) }
        case .bf16:
            for i in 0..<count { dst[i] = GGMLFloat.bf16ToF32(half(src, i * 2)) }
        default:
            let layout = type.layout
            let size = layout.blockSize
            var block = 0
            while block * size < count {
                let blockSrc = src + block * layout.bytesPerBlock
                let n = min(size, count - block * size)
                if n == size {
                    decodeBlock(blockSrc, type: type, into: dst + block * size)
                } else {
                    // A trailing partial block: decode it whole, copy what was asked for.
                    withUnsafeTemporaryAllocation(of: Float.self, capacity: size) { tmp in
                        guard let base = tmp.baseAddress else { return }
                        decodeBlock(blockSrc, type: type, into: base)
                        (dst + block * size).update(from: base, count: n)
                    }
                }
                block += 1
            }
        }
    }

    /// Decodes `count` elements into a new array (empty when `src` is too short).
    public static func dequantize(_ src: UnsafeRawBufferPointer, type: GGMLType, count: Int) -> [Float] {
        guard count > 0, let base = src.baseAddress,
              let needed = type.byteCount(elements: (count + type.blockSize - 1) / type.blockSize * type.blockSize),
              needed <= src.count
        else { return [] }
        return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            if let out = buffer.baseAddress { dequantizeRow(base, type: type, count: count, into: out) }
            initialized = count
        }
    }

    /// IQ4_NL's and IQ4_XS's 16 non-linear levels.
    public static let iq4Values: [Int8] = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113]

    /// Decodes one whole block of a quantized type (`type.blockSize` outputs).
    private static func decodeBlock(_ b: UnsafeRawPointer, type: GGMLType, into y: UnsafeMutablePointer<Float>) {
        @inline(__always) func u8(_ offset: Int) -> UInt8 { b.load(fromByteOffset: offset, as: UInt8.self) }
        @inline(__always) func f16(_ offset: Int) -> Float { GGMLFloat.f16ToF32(half(b, offset)) }
        switch type {
        case .f32, .f16, .bf16:
            return  // not block types; handled by dequantizeRow
        case .q8_0:
            let d = f16(0)
            for j in 0..<32 { y[j] = d * Float(Int8(bitPattern: u8(2 + j))) }
        case .q4_0:
            let d = f16(0)
            for j in 0..<32 { y[j] = d * Float(nibble(b, at: 2, element: j) - 8) }
        case .q4_1:
            let d = f16(0), m = f16(2)
            for j in 0..<32 { y[j] = d * Float(nibble(b, at: 4, element: j)) + m }
        case .q5_0:
            let d = f16(0)
            let qh = UInt32(littleEndian: b.loadUnaligned(fromByteOffset: 2, as: UInt32.self))
            for j in 0..<32 {
                let q = nibble(b, at: 6, element: j) | Int((qh >> UInt32(j)) & 1) << 4
                y[j] = d * Float(q - 16)
            }
        case .q5_1:
            let d = f16(0), m = f16(2)
            let qh = UInt32(littleEndian: b.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
            for j in 0..<32 {
                let q = nibble(b, at: 8, element: j) | Int((qh >> UInt32(j)) & 1) << 4
                y[j] = d * Float(q) + m
            }
        case .iq4_nl:
            let d = f16(0)
            for j in 0..<32 { y[j] = d * Float(iq4Values[nibble(b, at: 2, element: j)]) }
        case .q2_k:
            // scales[16] at 0, qs[64] at 16, d at 80, dmin at 82. Group g of 16 elements:
            // scale nibble low, min nibble high; element e's 2 bits are in qs[32·(e/128) + e%32]
            // at bit 2·((e%128)/32).
            let d = f16(80), dmin = f16(82)
            for g in 0..<16 {
                let sc = u8(g)
                let dl = d * Float(sc & 0xF)
                let ml = dmin * Float(sc >> 4)
                for l in 0..<16 {
                    let e = 16 * g + l
                    let q = (u8(16 + 32 * (e / 128) + e % 32) >> UInt8(2 * ((e % 128) / 32))) & 3
                    y[e] = dl * Float(q) - ml
                }
            }
        case .q3_k:
            // hmask[32] at 0, qs[64] at 32, scales[12] at 96, d at 108.
            let d = f16(108)
            for g in 0..<16 {
                let low = (u8(96 + g % 8) >> UInt8(4 * (g / 8))) & 0xF
                let high = (u8(96 + 8 + g % 4) >> UInt8(2 * (g / 4))) & 3
                let dl = d * Float(Int(low | high << 4) - 32)
                for l in 0..<16 {
                    let e = 16 * g + l
                    let ql = Int((u8(32 + 32 * (e / 128) + e % 32) >> UInt8(2 * ((e % 128) / 32))) & 3)
                    let h = Int((u8(e % 32) >> UInt8(e / 32)) & 1)
                    y[e] = dl * Float(ql - ((h ^ 1) << 2))  // the high bit set means no offset
                }
            }
        case .q4_k, .q5_k:
            // d at 0, dmin at 2, scales[12] at 4; Q5_K: qh[32] at 16, qs[128] at 48; Q4_K: qs at 16.
            let d = f16(0), dmin = f16(2)
            let five = type == .q5_k
            let qsOffset = five ? 48 : 16
            for g in 0..<8 {
                let (sc, m) = scaleMinK4(b + 4, g)
                let dl = d * Float(sc)
                let ml = dmin * Float(m)
                for l in 0..<32 {
                    var q = (u8(qsOffset + 32 * (g / 2) + l) >> UInt8(4 * (g % 2))) & 0xF
                    if five { q |= ((u8(16 + l) >> UInt8(g)) & 1) << 4 }
                    y[32 * g + l] = dl * Float(q) - ml
                }
            }
        case .q6_k:
            // ql[128] at 0, qh[64] at 128, scales[16] (int8) at 192, d at 208.
            let d = f16(208)
            for g in 0..<16 {
                let dl = d * Float(Int8(bitPattern: u8(192 + g)))
                for l in 0..<16 {
                    let e = 16 * g + l
                    let low = (u8(64 * (e / 128) + e % 64) >> UInt8(4 * ((e % 128) / 64))) & 0xF
                    let high = (u8(128 + 32 * (e / 128) + e % 32) >> UInt8(2 * ((e % 128) / 32))) & 3
                    y[e] = dl * Float(Int(low | high << 4) - 32)
                }
            }
        case .iq4_xs:
            // d at 0, scales_h (u16) at 2, scales_l[4] at 4, qs[128] at 8.
            let d = f16(0)
            let scalesHigh = UInt16(littleEndian: b.loadUnaligned(fromByteOffset: 2, as: UInt16.self))
            for g in 0..<8 {
                let low = (u8(4 + g / 2) >> UInt8(4 * (g % 2))) & 0xF
                let high = UInt8(truncatingIfNeeded: scalesHigh >> UInt16(2 * g)) & 3
                let dl = d * Float(Int(low | high << 4) - 32)
                for j in 0..<32 {
                    y[32 * g + j] = dl * Float(iq4Values[nibble(b, at: 8 + 16 * g, element: j)])
                }
            }
        }
    }

    /// The 6-bit scale and minimum of group `j` (0..<8) from the 12 packed bytes of Q4_K/Q5_K
    /// (ggml's `get_scale_min_k4`).
    @inline(__always)
    static func scaleMinK4(_ q: UnsafeRawPointer, _ j: Int) -> (scale: UInt8, min: UInt8) {
        @inline(__always) func u8(_ offset: Int) -> UInt8 { q.load(fromByteOffset: offset, as: UInt8.self) }
        if j < 4 {
            return (u8(j) & 63, u8(j + 4) & 63)
        }
        return ((u8(j + 4) & 0xF) | ((u8(j - 4) >> 6) << 4), (u8(j + 4) >> 4) | ((u8(j) >> 6) << 4))
    }

    @inline(__always)
    private static func half(_ src: UnsafeRawPointer, _ offset: Int) -> UInt16 {
        UInt16(littleEndian: src.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    /// Element `j` (0..<32) of 16 nibble-packed bytes at `offset`: low nibbles are elements
    /// 0…15, high nibbles 16…31.
    @inline(__always)
    private static func nibble(_ src: UnsafeRawPointer, at offset: Int, element j: Int) -> Int {
        let byte = src.load(fromByteOffset: offset + (j & 15), as: UInt8.self)
        return Int(j < 16 ? byte & 0x0f : byte >> 4)
    }
}
