/// ggml's reference quantizers (`quantize_row_*_ref` in `ggml-quants.c`), for writing test models.
///
/// Q4_0, Q4_1, Q5_0, Q5_1 and Q8_0 are bit-exact with ggml (and with `gguf.quants.quantize`,
/// which the fixture checks). The K-quants and IQ4_NL/IQ4_XS follow ggml's algorithms
/// (`make_qkx2_quants` for Q2_K/Q4_K/Q5_K, `make_q3_quants` for Q3_K, `make_qx_quants`
/// for Q6_K, the best-scale search over the non-linear levels for IQ4_NL/IQ4_XS) with the
/// same float32 operations; ggml's output may still differ in rare ties where its C compiler
/// fuses multiply-adds. Block layouts: see ``GGMLType/layout``.
public enum GGMLQuantize {
    /// Encodes `x` as `type`.
    ///
    /// For quantized types a trailing partial block is padded with zeros, so the result always
    /// holds whole blocks.
    public static func quantize(_ x: [Float], as type: GGMLType) -> [UInt8] {
        switch type {
        case .f32:
            var out: [UInt8] = []
            out.reserveCapacity(x.count * 4)
            for value in x { appendLE(value.bitPattern, to: &out) }
            return out
        case .f16:
            var out: [UInt8] = []
            out.reserveCapacity(x.count * 2)
            for value in x { appendLE(GGMLFloat.f32ToF16(value), to: &out) }
            return out
        case .bf16:
            var out: [UInt8] = []
            out.reserveCapacity(x.count * 2)
            for value in x { appendLE(GGMLFloat.f32ToBF16(value), to: &out) }
            return out
        default:
            let size = type.blockSize, bytes = type.bytesPerBlock
            let blocks = (x.count + size - 1) / size
            var out = [UInt8](repeating: 0, count: blocks * bytes)
            var block = [Float](repeating: 0, count: size)
            out.withUnsafeMutableBytes { output in
                guard let base = output.baseAddress else { return }
                for b in 0..<blocks {
                    for j in 0..<size {
                        let i = b * size + j
                        block[j] = i < x.count ? x[i] : 0
                    }
                    block.withUnsafeBufferPointer { xb in
                        encodeBlock(xb, type: type, into: Block(base + b * bytes))
                    }
                }
            }
            return out
        }
    }

    /// One zero-initialized output block.
    struct Block {
        let p: UnsafeMutableRawPointer
        init(_ p: UnsafeMutableRawPointer) { self.p = p }

        @inline(__always) subscript(_ offset: Int) -> UInt8 {
            get { p.load(fromByteOffset: offset, as: UInt8.self) }
            nonmutating set { p.storeBytes(of: newValue, toByteOffset: offset, as: UInt8.self) }
        }

        /// Stores `x` rounded to f16 at `offset` and returns the stored value widened.
        @discardableResult @inline(__always)
        func storeHalf(_ x: Float, at offset: Int) -> Float {
            let bits = GGMLFloat.f32ToF16(x)
            p.storeBytes(of: bits.littleEndian, toByteOffset: offset, as: UInt16.self)
            return GGMLFloat.f16ToF32(bits)
        }
    }

    private static func encodeBlock(_ x: UnsafeBufferPointer<Float>, type: GGMLType, into y: Block) {
        switch type {
        case .f32, .f16, .bf16: return  // not block types; handled by quantize
        case .q8_0: quantizeQ8_0(x, y)
        case .q4_0: quantizeSymmetric(x, y, bits: 4)
        case .q5_0: quantizeSymmetric(x, y, bits: 5)
        case .q4_1: quantizeAffine(x, y, bits: 4)
        case .q5_1: quantizeAffine(x, y, bits: 5)
        case .q2_k: quantizeQ2_K(x, y)
        case .q3_k: quantizeQ3_K(x, y)
        case .q4_k: quantizeQ45_K(x, y, bits: 4)
        case .q5_k: quantizeQ45_K(x, y, bits: 5)
        case .q6_k: quantizeQ6_K(x, y)
        case .iq4_nl: quantizeIQ4(x, y, superBlock: false)
        case .iq4_xs: quantizeIQ4(x, y, superBlock: true)
        }
    }

    // MARK: - 32-element blocks

    /// `quantize_row_q8_0_ref`: d = amax / 127, q = round(x · (1/d)).
    private static func quantizeQ8_0(_ x: UnsafeBufferPointer<Float>, _ y: Block) {
        var amax: Float = 0
        for v in x { amax = max(amax, abs(v)) }
        let d = amax / 127
        let id: Float = d != 0 ? 1 / d : 0
        y.storeHalf(d, at: 0)
        for j in 0..<32 {
            let q = (x[j] * id).rounded(.toNearestOrAwayFromZero)
            y[2 + j] = UInt8(bitPattern: Int8(clampedTruncating: q))
        }
    }

    /// `quantize_row_q4_0_ref` / `q5_0_ref`: d = (value of largest magnitude) / −2^(bits−1),
    /// q = min(2^bits − 1, trunc(x/d + 2^(bits−1) + 0.5)). Q5_0 keeps the fifth bits in `qh`.
    private static func quantizeSymmetric(_ x: UnsafeBufferPointer<Float>, _ y: Block, bits: Int) {
        var amax: Float = 0
        var maxValue: Float = 0
        for v in x where amax < abs(v) {
            amax = abs(v)
            maxValue = v
        }
        let half = Float(1 << (bits - 1))
        let d = maxValue / -half
        let id: Float = d != 0 ? 1 / d : 0
        y.storeHalf(d, at: 0)
        let top = Int8((1 << bits) - 1)
        var q = [UInt8](repeating: 0, count: 32)
        for j in 0..<32 { q[j] = UInt8(bitPattern: min(top, Int8(clampedTruncating: x[j] * id + (half + 0.5)))) }
        packLow4(q, y, qsOffset: bits == 4 ? 2 : 6, qhOffset: bits == 4 ? nil : 2)
    }

    /// `quantize_row_q4_1_ref` / `q5_1_ref`: d = (max − min) / (2^bits − 1), m = min,
    /// q = min(2^bits − 1, trunc((x − min)/d + 0.5)).
    private static func quantizeAffine(_ x: UnsafeBufferPointer<Float>, _ y: Block, bits: Int) {
        var minValue = Float.greatestFiniteMagnitude
        var maxValue = -Float.greatestFiniteMagnitude
        for v in x {
            if v < minValue { minValue = v }
            if v > maxValue { maxValue = v }
        }
        let levels = Float((1 << bits) - 1)
        let d = (maxValue - minValue) / levels
        let id: Float = d != 0 ? 1 / d : 0
        y.storeHalf(d, at: 0)
        y.storeHalf(minValue, at: 2)
        let top = Int8((1 << bits) - 1)
        var q = [UInt8](repeating: 0, count: 32)
        for j in 0..<32 { q[j] = UInt8(bitPattern: min(top, Int8(clampedTruncating: (x[j] - minValue) * id + 0.5))) }
        packLow4(q, y, qsOffset: bits == 4 ? 4 : 8, qhOffset: bits == 4 ? nil : 4)
    }

    /// Packs 32 quants: low nibbles of elements j and j+16 into `qs[j]`; with `qhOffset`, the
    /// fifth bit of element j into bit j of the little-endian u32 there.
    private static func packLow4(_ q: [UInt8], _ y: Block, qsOffset: Int, qhOffset: Int?) {
        var qh: UInt32 = 0
        for j in 0..<16 {
            y[qsOffset + j] = (q[j] & 0x0F) | ((q[j + 16] & 0x0F) << 4)
            qh |= UInt32((q[j] & 0x10) >> 4) << UInt32(j)
            qh |= UInt32((q[j + 16] & 0x10) >> 4) << UInt32(j + 16)
        }
        if let qhOffset { y.p.storeBytes(of: qh.littleEndian, toByteOffset: qhOffset, as: UInt32.self) }
    }

    /// IQ4_NL (`quantize_row_iq4_nl_ref`: one pass, weights x²) and IQ4_XS
    /// (`quantize_iq4_xs` without importance: a ±7 search for each group's scale, then 6-bit
    /// group scales under one f16 super-scale).
    private static func quantizeIQ4(_ x: UnsafeBufferPointer<Float>, _ y: Block, superBlock: Bool) {
        let values = GGMLDequantize.iq4Values
        let v0 = Float(values[0])
        let groups = superBlock ? 8 : 1
        let ntry = superBlock ? 7 : -1
        var L = [UInt8](repeating: 0, count: 32 * groups)
        var scales = [Float](repeating: 0, count: groups)
        var maxScale: Float = 0, amaxScale: Float = 0
        for g in 0..<groups {
            let xb = UnsafeBufferPointer(rebasing: x[(32 * g)..<(32 * g + 32)])
            var amax: Float = 0, maxValue: Float = 0
            for v in xb where abs(v) > amax {
                amax = abs(v)
                maxValue = v
            }
            if amax < groupMaxEps {
                scales[g] = 0
                continue
            }
            func fit(_ id: Float, store: Bool) -> (sumqx: Float, sumq2: Float) {
                var sumqx: Float = 0, sumq2: Float = 0
                for j in 0..<32 {
                    let l = bestIndexIQ4(id * xb[j])
                    if store { L[32 * g + j] = UInt8(l) }
                    let q = Float(values[l])
                    let w = xb[j] * xb[j]
                    sumqx += w * q * xb[j]
                    sumq2 += w * q * q
                }
                return (sumqx, sumq2)
            }
            var d = ntry > 0 ? -maxValue / v0 : maxValue / v0
            let first = fit(1 / d, store: true)
            d = first.sumq2 > 0 ? first.sumqx / first.sumq2 : 0
            var best = d * first.sumqx
            if ntry > 0 {
                for itry in -ntry...ntry {
                    let (sumqx, sumq2) = fit((Float(itry) + v0) / maxValue, store: false)
                    if sumq2 > 0 && sumqx * sumqx > best * sumq2 {
                        d = sumqx / sumq2
                        best = d * sumqx
                    }
                }
            }
            scales[g] = d
            if abs(d) > amaxScale {
                amaxScale = abs(d)
                maxScale = d
            }
        }
        let qsOffset: Int
        if superBlock {
            let d = -maxScale / 32
            y.storeHalf(d, at: 0)
            let id: Float = d != 0 ? 1 / d : 0
            var scalesHigh: UInt16 = 0
            for g in 0..<8 {
                let l = max(-32, min(31, nearestInt(id * scales[g])))
                let dl = d * Float(l)
                let idl: Float = dl != 0 ? 1 / dl : 0
                for j in 0..<32 { L[32 * g + j] = UInt8(bestIndexIQ4(idl * x[32 * g + j])) }
                let biased = UInt8(l + 32)
                y[4 + g / 2] |= (biased & 0xF) << UInt8(4 * (g % 2))
                scalesHigh |= UInt16(biased >> 4) << UInt16(2 * g)
            }
            y.p.storeBytes(of: scalesHigh.littleEndian, toByteOffset: 2, as: UInt16.self)
            qsOffset = 8
        } else {
            y.storeHalf(scales[0], at: 0)
            qsOffset = 2
        }
        for g in 0..<groups {
            for j in 0..<16 { y[qsOffset + 16 * g + j] = L[32 * g + j] | (L[32 * g + 16 + j] << 4) }
        }
    }

    /// The index of the IQ4 level nearest to `x` (ties go up), ggml's `best_index_int8`.
    @inline(__always)
    private static func bestIndexIQ4(_ x: Float) -> Int {
        let values = GGMLDequantize.iq4Values
        let x2 = x + x
        var index = 0
        var step = 8
        while step > 0 {
            let j = index + step
            if x2 >= Float(Int(values[j - 1]) + Int(values[j])) { index = j }
            step >>= 1
        }
        return index
    }

    // MARK: - 256-element super-blocks

    /// `quantize_row_q2_K_ref`: 16 groups of 16 fitted by `make_qkx2_quants` (3 levels
    /// above a minimum, weights |x|), group scales and minimums as 4 bits under f16 `d`/`dmin`.
    private static func quantizeQ2_K(_ x: UnsafeBufferPointer<Float>, _ y: Block) {
        var L = [UInt8](repeating: 0, count: 256)
        var scales = [Float](repeating: 0, count: 16), mins = [Float](repeating: 0, count: 16)
        var maxScale: Float = 0, maxMin: Float = 0
        for g in 0..<16 {
            let xb = UnsafeBufferPointer(rebasing: x[(16 * g)..<(16 * g + 16)])
            let weights = xb.map { abs($0) }
            let fit = makeQKX2Quants(nmax: 3, xb, weights, &L, at: 16 * g, rmin: -0.5, rdelta: 0.1, nstep: 15, useMAD: true)
            scales[g] = fit.scale
            mins[g] = fit.min
            maxScale = max(maxScale, fit.scale)
            maxMin = max(maxMin, fit.min)
        }
        // scales[16] at 0, qs[64] at 16, d at 80, dmin at 82
        let d: Float, dmin: Float
        if maxScale > 0 {
            let iscale = 15 / maxScale
            for g in 0..<16 { y[g] = UInt8(truncatingIfNeeded: nearestInt(iscale * scales[g])) }
            d = y.storeHalf(maxScale / 15, at: 80)
        } else {
            d = y.storeHalf(0, at: 80)
        }
        if maxMin > 0 {
            let iscale = 15 / maxMin
            for g in 0..<16 { y[g] |= UInt8(truncatingIfNeeded: nearestInt(iscale * mins[g]) << 4) }
            dmin = y.storeHalf(maxMin / 15, at: 82)
        } else {
            dmin = y.storeHalf(0, at: 82)
        }
        for g in 0..<16 {
            let dl = d * Float(y[g] & 0xF)
            if dl == 0 { continue }
            let ml = dmin * Float(y[g] >> 4)
            for l in 0..<16 { L[16 * g + l] = UInt8(max(0, min(3, nearestInt((x[16 * g + l] + ml) / dl)))) }
        }
        pack2Bits(L, y, at: 16)
    }

    /// `quantize_row_q3_K_ref`: 16 groups of 16 fitted by `make_q3_quants` (levels −4…3),
    /// signed 6-bit group scales under f16 `d`; the third bit of each quant in `hmask`.
    private static func quantizeQ3_K(_ x: UnsafeBufferPointer<Float>, _ y: Block) {
        var L = [Int8](repeating: 0, count: 256)
        var scales = [Float](repeating: 0, count: 16)
        var maxScale: Float = 0, amax: Float = 0
        for g in 0..<16 {
            scales[g] = makeQ3Quants(nmax: 4, UnsafeBufferPointer(rebasing: x[(16 * g)..<(16 * g + 16)]), &L, at: 16 * g)
            if abs(scales[g]) > amax {
                amax = abs(scales[g])
                maxScale = scales[g]
            }
        }
        // hmask[32] at 0, qs[64] at 32, scales[12] at 96, d at 108
        let d: Float
        if maxScale != 0 {
            let iscale = -32 / maxScale
            for g in 0..<16 {
                let l = UInt8(max(-32, min(31, Int(Int8(truncatingIfNeeded: nearestInt(iscale * scales[g]))))) + 32)
                if g < 8 { y[96 + g] = l & 0xF } else { y[96 + g - 8] |= (l & 0xF) << 4 }
                y[96 + 8 + g % 4] |= (l >> 4) << UInt8(2 * (g / 4))
            }
            d = y.storeHalf(1 / iscale, at: 108)
        } else {
            d = y.storeHalf(0, at: 108)
        }
        for g in 0..<16 {
            let low = g < 8 ? y[96 + g] & 0xF : y[96 + g - 8] >> 4
            let sc = Int(low | (((y[96 + 8 + g % 4] >> UInt8(2 * (g / 4))) & 3) << 4)) - 32
            let dl = d * Float(sc)
            if dl == 0 { continue }
            for l in 0..<16 { L[16 * g + l] = Int8(max(-4, min(3, nearestInt(x[16 * g + l] / dl))) + 4) }
        }
        var q = [UInt8](repeating: 0, count: 256)
        for e in 0..<256 {
            var l = UInt8(bitPattern: L[e])
            if l > 3 {
                y[e % 32] |= UInt8(1) << UInt8(e / 32)
                l -= 4
            }
            q[e] = l
        }
        pack2Bits(q, y, at: 32)
    }

    /// `quantize_row_q4_K_ref` / `q5_K_ref`: 8 groups of 32 fitted by `make_qkx2_quants`
    /// (weights rms + |x|), 6-bit group scales and minimums under f16 `d`/`dmin`.
    private static func quantizeQ45_K(_ x: UnsafeBufferPointer<Float>, _ y: Block, bits: Int) {
        let nmax = (1 << bits) - 1
        var L = [UInt8](repeating: 0, count: 256)
        var scales = [Float](repeating: 0, count: 8), mins = [Float](repeating: 0, count: 8)
        var maxScale: Float = 0, maxMin: Float = 0
        for g in 0..<8 {
            let xb = UnsafeBufferPointer(rebasing: x[(32 * g)..<(32 * g + 32)])
            var sumX2: Float = 0
            for v in xb { sumX2 += v * v }
            let avX = (sumX2 / 32).squareRoot()
            let weights = xb.map { avX + abs($0) }
            let fit = bits == 4
                ? makeQKX2Quants(nmax: nmax, xb, weights, &L, at: 32 * g, rmin: -1, rdelta: 0.1, nstep: 20, useMAD: false)
                : makeQKX2Quants(nmax: nmax, xb, weights, &L, at: 32 * g, rmin: -0.5, rdelta: 0.1, nstep: 15, useMAD: false)
            scales[g] = fit.scale
            mins[g] = fit.min
            maxScale = max(maxScale, fit.scale)
            maxMin = max(maxMin, fit.min)
        }
        // d at 0, dmin at 2, scales[12] at 4
        let invScale: Float = maxScale > 0 ? 63 / maxScale : 0
        let invMin: Float = maxMin > 0 ? 63 / maxMin : 0
        for g in 0..<8 {
            let ls = min(63, UInt8(truncatingIfNeeded: nearestInt(invScale * scales[g])))
            let lm = min(63, UInt8(truncatingIfNeeded: nearestInt(invMin * mins[g])))
            if g < 4 {
                y[4 + g] = ls
                y[4 + g + 4] = lm
            } else {
                y[4 + g + 4] = (ls & 0xF) | ((lm & 0xF) << 4)
                y[4 + g - 4] |= (ls >> 4) << 6
                y[4 + g] |= (lm >> 4) << 6
            }
        }
        let d = y.storeHalf(maxScale / 63, at: 0)
        let dmin = y.storeHalf(maxMin / 63, at: 2)
        for g in 0..<8 {
            let (sc, m) = GGMLDequantize.scaleMinK4(UnsafeRawPointer(y.p + 4), g)
            let dl = d * Float(sc)
            if dl == 0 { continue }
            let ml = dmin * Float(m)
            for l in 0..<32 { L[32 * g + l] = UInt8(max(0, min(nmax, nearestInt((x[32 * g + l] + ml) / dl)))) }
        }
        // Q4_K: qs[128] at 16; Q5_K: qh[32] at 16, qs[128] at 48.
        let qsOffset = bits == 4 ? 16 : 48
        for chunk in 0..<4 {
            for l in 0..<32 {
                var l1 = L[64 * chunk + l], l2 = L[64 * chunk + l + 32]
                if bits == 5 {
                    if l1 > 15 { l1 -= 16; y[16 + l] |= UInt8(1) << UInt8(2 * chunk) }
                    if l2 > 15 { l2 -= 16; y[16 + l] |= UInt8(2) << UInt8(2 * chunk) }
                }
                y[qsOffset + 32 * chunk + l] = l1 | (l2 << 4)
            }
        }
    }

    /// `quantize_row_q6_K_ref`: 16 groups of 16 fitted by `make_qx_quants` (levels −32…31,
    /// weights x²), int8 group scales under f16 `d`.
    private static func quantizeQ6_K(_ x: UnsafeBufferPointer<Float>, _ y: Block) {
        var L = [UInt8](repeating: 0, count: 256)
        var scales = [Float](repeating: 0, count: 16)
        var maxScale: Float = 0, maxAbsScale: Float = 0
        for g in 0..<16 {
            scales[g] = makeQXQuants(nmax: 32, UnsafeBufferPointer(rebasing: x[(16 * g)..<(16 * g + 16)]), &L, at: 16 * g)
            if abs(scales[g]) > maxAbsScale {
                maxAbsScale = abs(scales[g])
                maxScale = scales[g]
            }
        }
        // ql[128] at 0, qh[64] at 128, scales[16] at 192, d at 208
        if maxAbsScale < groupMaxEps { return }  // all zero (d = +0)
        let iscale = -128 / maxScale
        let d = y.storeHalf(1 / iscale, at: 208)
        for g in 0..<16 { y[192 + g] = UInt8(truncatingIfNeeded: min(127, nearestInt(iscale * scales[g]))) }
        for g in 0..<16 {
            let dl = d * Float(Int8(bitPattern: y[192 + g]))
            if dl == 0 { continue }
            for l in 0..<16 { L[16 * g + l] = UInt8(max(-32, min(31, nearestInt(x[16 * g + l] / dl))) + 32) }
        }
        for half in 0..<2 {
            let e = 128 * half
            for l in 0..<32 {
                let q1 = L[e + l], q2 = L[e + l + 32], q3 = L[e + l + 64], q4 = L[e + l + 96]
                y[64 * half + l] = (q1 & 0xF) | ((q3 & 0xF) << 4)
                y[64 * half + l + 32] = (q2 & 0xF) | ((q4 & 0xF) << 4)
                y[128 + 32 * half + l] = (q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6)
            }
        }
    }

    /// Packs 256 2-bit quants: byte `32·(e/128) + e%32` holds element e at bit 2·((e%128)/32).
    private static func pack2Bits(_ L: [UInt8], _ y: Block, at offset: Int) {
        for half in 0..<2 {
            let e = 128 * half
            for l in 0..<32 {
                y[offset + 32 * half + l] = L[e + l] | (L[e + l + 32] << 2) | (L[e + l + 64] << 4) | (L[e + l + 96] << 6)
            }
        }
    }

    // MARK: - ggml's fitting helpers

    /// ggml's `GROUP_MAX_EPS`: groups whose largest magnitude is below it count as zero.
    private static let groupMaxEps: Float = 1e-15

    /// ggml's `nearest_int`: round half to even via the 1.5·2^23 trick. Any input gives some
    /// integer (no trap); callers clamp.
    @inline(__always)
    static func nearestInt(_ x: Float) -> Int {
        let v = x + 12_582_912
        return Int(v.bitPattern & 0x007F_FFFF) - 0x0040_0000
    }

    /// `make_qkx2_quants`: fits `x ≈ scale·L − min` with L in 0…nmax, min ≥ 0, minimizing the
    /// weighted absolute (`useMAD`) or squared error over `nstep + 1` trial scales.
    /// Writes L at `L[offset...]`; returns the scale and the (non-negative) minimum.
    private static func makeQKX2Quants(
        nmax: Int, _ x: UnsafeBufferPointer<Float>, _ weights: [Float], _ L: inout [UInt8], at offset: Int,
        rmin: Float, rdelta: Float, nstep: Int, useMAD: Bool
    ) -> (scale: Float, min: Float) {
        let n = x.count
        var minValue = x[0], maxValue = x[0]
        var sumW = weights[0]
        var sumX = sumW * x[0]
        for i in 1..<n {
            if x[i] < minValue { minValue = x[i] }
            if x[i] > maxValue { maxValue = x[i] }
            let w = weights[i]
            sumW += w
            sumX += w * x[i]
        }
        if minValue > 0 { minValue = 0 }
        if maxValue == minValue {
            for i in 0..<n { L[offset + i] = 0 }
            return (0, -minValue)
        }
        var iscale = Float(nmax) / (maxValue - minValue)
        var scale = 1 / iscale
        var bestError: Float = 0
        for i in 0..<n {
            let l = max(0, min(nmax, nearestInt(iscale * (x[i] - minValue))))
            L[offset + i] = UInt8(l)
            var diff = scale * Float(l) + minValue - x[i]
            diff = useMAD ? abs(diff) : diff * diff
            bestError += weights[i] * diff
        }
        var laux = [UInt8](repeating: 0, count: n)
        for step in 0...nstep {
            iscale = (rmin + rdelta * Float(step) + Float(nmax)) / (maxValue - minValue)
            var sumL: Float = 0, sumL2: Float = 0, sumXL: Float = 0
            for i in 0..<n {
                let l = max(0, min(nmax, nearestInt(iscale * (x[i] - minValue))))
                laux[i] = UInt8(l)
                let w = weights[i], fl = Float(l)
                sumL += w * fl
                sumL2 += w * fl * fl
                sumXL += w * fl * x[i]
            }
            let D = sumW * sumL2 - sumL * sumL
            if D > 0 {
                var thisScale = (sumW * sumXL - sumX * sumL) / D
                var thisMin = (sumL2 * sumX - sumL * sumXL) / D
                if thisMin > 0 {
                    thisMin = 0
                    thisScale = sumXL / sumL2
                }
                var error: Float = 0
                for i in 0..<n {
                    var diff = thisScale * Float(laux[i]) + thisMin - x[i]
                    diff = useMAD ? abs(diff) : diff * diff
                    error += weights[i] * diff
                }
                if error < bestError {
                    for i in 0..<n { L[offset + i] = laux[i] }
                    bestError = error
                    scale = thisScale
                    minValue = thisMin
                }
            }
        }
        return (scale, -minValue)
    }

    /// The value of largest magnitude in `x` (the first one on ties) and its magnitude.
    @inline(__always)
    private static func signedMax(_ x: UnsafeBufferPointer<Float>) -> (value: Float, magnitude: Float) {
        var maxValue: Float = 0, amax: Float = 0
        for v in x where abs(v) > amax {
            amax = abs(v)
            maxValue = v
        }
        return (maxValue, amax)
    }

    /// `make_q3_quants` with `do_rmse`: levels −nmax…nmax−1 (stored biased by nmax), weights
    /// x², then up to 5 rounds of per-element moves that improve the weighted fit.
    private static func makeQ3Quants(nmax: Int, _ x: UnsafeBufferPointer<Float>, _ L: inout [Int8], at offset: Int) -> Float {
        let n = x.count
        let (maxValue, amax) = signedMax(x)
        if amax < groupMaxEps {
            for i in 0..<n { L[offset + i] = 0 }
            return 0
        }
        let iscale = Float(-nmax) / maxValue
        var sumlx: Float = 0, suml2: Float = 0
        for i in 0..<n {
            let l = max(-nmax, min(nmax - 1, nearestInt(iscale * x[i])))
            L[offset + i] = Int8(l)
            let w = x[i] * x[i], fl = Float(l)
            sumlx += w * x[i] * fl
            suml2 += w * fl * fl
        }
        for _ in 0..<5 {
            var changed = 0
            for i in 0..<n {
                let w = x[i] * x[i]
                let old = Float(L[offset + i])
                var slx = sumlx - w * x[i] * old
                if slx > 0 {
                    var sl2 = suml2 - w * old * old
                    let newL = max(-nmax, min(nmax - 1, nearestInt(x[i] * sl2 / slx)))
                    if newL != Int(L[offset + i]) {
                        let fl = Float(newL)
                        slx += w * x[i] * fl
                        sl2 += w * fl * fl
                        if sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2 {
                            L[offset + i] = Int8(newL)
                            sumlx = slx
                            suml2 = sl2
                            changed += 1
                        }
                    }
                }
            }
            if changed == 0 { break }
        }
        for i in 0..<n { L[offset + i] += Int8(nmax) }
        return suml2 > 0 ? sumlx / suml2 : 0
    }

    /// `make_qx_quants` with `rmse_type` 1 and no importance weights: levels −nmax…nmax−1
    /// (stored biased by nmax, as bytes), weights x², best of 19 trial scales.
    private static func makeQXQuants(nmax: Int, _ x: UnsafeBufferPointer<Float>, _ L: inout [UInt8], at offset: Int) -> Float {
        let n = x.count
        let (maxValue, amax) = signedMax(x)
        if amax < groupMaxEps {
            for i in 0..<n { L[offset + i] = 0 }
            return 0
        }
        func sums(_ iscale: Float) -> (sumlx: Float, suml2: Float) {
            var sumlx: Float = 0, suml2: Float = 0
            for i in 0..<n {
                let fl = Float(max(-nmax, min(nmax - 1, nearestInt(iscale * x[i]))))
                let w = x[i] * x[i]
                sumlx += w * x[i] * fl
                suml2 += w * fl * fl
            }
            return (sumlx, suml2)
        }
        func store(_ iscale: Float) {
            for i in 0..<n { L[offset + i] = UInt8(nmax + max(-nmax, min(nmax - 1, nearestInt(iscale * x[i])))) }
        }
        let iscale = Float(-nmax) / maxValue
        store(iscale)
        let (sumlx, suml2) = sums(iscale)
        var scale = suml2 != 0 ? sumlx / suml2 : 0
        var best = scale * sumlx
        for step in -9...9 where step != 0 {
            let trial = -(Float(nmax) + 0.1 * Float(step)) / maxValue
            let (slx, sl2) = sums(trial)
            if sl2 > 0 && slx * slx > best * sl2 {
                store(trial)
                scale = slx / sl2
                best = scale * slx
            }
        }
        return scale
    }

    private static func appendLE<T: FixedWidthInteger>(_ value: T, to out: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
    }
}

extension Int8 {
    /// C's `(int8_t)x` for in-range values (truncation toward zero); NaN gives 0 and
    /// out-of-range values saturate instead of trapping.
    init(clampedTruncating x: Float) {
        if x.isNaN {
            self = 0
        } else if x >= 127 {
            self = 127
        } else if x <= -128 {
            self = -128
        } else {
            self = Int8(x.rounded(.towardZero))
        }
    }
}
