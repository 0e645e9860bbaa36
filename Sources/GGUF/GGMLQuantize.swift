/// ggml's reference quantizers (`quantize_row_*_ref`), bit-exact, for writing test models.
///
/// Block layouts (little-endian): Q8_0 `{f16 d; i8 qs[32]}`; Q4_0 `{f16 d; u8 qs[16]}`;
/// Q4_1 `{f16 d; f16 m; u8 qs[16]}`. In the 4-bit types, `qs[j]`'s low nibble is element `j`
/// and its high nibble element `j + 16`.
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
        case .q8_0, .q4_0, .q4_1:
            let blocks = (x.count + 31) / 32
            var out: [UInt8] = []
            out.reserveCapacity(blocks * type.bytesPerBlock)
            var block = [Float](repeating: 0, count: 32)
            for b in 0..<blocks {
                for j in 0..<32 {
                    let i = b * 32 + j
                    block[j] = i < x.count ? x[i] : 0
                }
                switch type {
                case .q8_0: quantizeBlockQ8_0(block, into: &out)
                case .q4_0: quantizeBlockQ4_0(block, into: &out)
                default: quantizeBlockQ4_1(block, into: &out)
                }
            }
            return out
        }
    }

    /// `quantize_row_q8_0_ref`: d = amax / 127, q = round(x · (1/d)).
    private static func quantizeBlockQ8_0(_ x: [Float], into out: inout [UInt8]) {
        var amax: Float = 0
        for v in x { amax = max(amax, abs(v)) }
        let d = amax / 127
        let id: Float = d != 0 ? 1 / d : 0
        appendLE(GGMLFloat.f32ToF16(d), to: &out)
        for v in x {
            let q = (v * id).rounded(.toNearestOrAwayFromZero)
            out.append(UInt8(bitPattern: Int8(clampedTruncating: q)))
        }
    }

    /// `quantize_row_q4_0_ref`: d = (value of largest magnitude) / -8, q = min(15, trunc(x/d + 8.5)).
    private static func quantizeBlockQ4_0(_ x: [Float], into out: inout [UInt8]) {
        var amax: Float = 0
        var maxValue: Float = 0
        for v in x where amax < abs(v) {
            amax = abs(v)
            maxValue = v
        }
        let d = maxValue / -8
        let id: Float = d != 0 ? 1 / d : 0
        appendLE(GGMLFloat.f32ToF16(d), to: &out)
        for j in 0..<16 {
            let lo = min(15, Int8(clampedTruncating: x[j] * id + 8.5))
            let hi = min(15, Int8(clampedTruncating: x[j + 16] * id + 8.5))
            out.append(UInt8(bitPattern: lo) | (UInt8(bitPattern: hi) << 4))
        }
    }

    /// `quantize_row_q4_1_ref`: d = (max - min) / 15, m = min, q = min(15, trunc((x - min)/d + 0.5)).
    private static func quantizeBlockQ4_1(_ x: [Float], into out: inout [UInt8]) {
        var minValue = Float.greatestFiniteMagnitude
        var maxValue = -Float.greatestFiniteMagnitude
        for v in x {
            if v < minValue { minValue = v }
            if v > maxValue { maxValue = v }
        }
        let d = (maxValue - minValue) / 15
        let id: Float = d != 0 ? 1 / d : 0
        appendLE(GGMLFloat.f32ToF16(d), to: &out)
        appendLE(GGMLFloat.f32ToF16(minValue), to: &out)
        for j in 0..<16 {
            let lo = min(15, Int8(clampedTruncating: (x[j] - minValue) * id + 0.5))
            let hi = min(15, Int8(clampedTruncating: (x[j + 16] - minValue) * id + 0.5))
            out.append(UInt8(bitPattern: lo) | (UInt8(bitPattern: hi) << 4))
        }
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
