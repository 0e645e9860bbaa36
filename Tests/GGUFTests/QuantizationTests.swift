import GGUF
import Testing
import TestSupport

@Suite("Float conversions and the ggml reference quantizers")
struct QuantizationTests {
    @Test("half and bfloat16 conversions, round to nearest even")
    func floats() {
        #expect(GGMLFloat.f16ToF32(0x3C00) == 1)
        #expect(GGMLFloat.f16ToF32(0xC000) == -2)
        #expect(GGMLFloat.f16ToF32(0x0001) == 0x1p-24)
        #expect(GGMLFloat.f16ToF32(0x7C00) == .infinity)
        #expect(GGMLFloat.f16ToF32(0x7E00).isNaN)
        #expect(GGMLFloat.f32ToF16(1 + 0x1p-11) == 0x3C00)  // tie → even
        #expect(GGMLFloat.f32ToF16(1 + 3 * 0x1p-11) == 0x3C02)  // tie → even (up)
        #expect(GGMLFloat.f32ToF16(65520) == 0x7C00)  // overflows to infinity
        #expect(GGMLFloat.bf16ToF32(0x3F80) == 1)
        #expect(GGMLFloat.bf16ToF32(0xC0A0) == -5)
        #expect(GGMLFloat.f32ToBF16(1 + 0x1p-8) == 0x3F80)
        #expect(GGMLFloat.f32ToBF16(1 + 3 * 0x1p-8) == 0x3F82)
        #expect(GGMLFloat.bf16ToF32(GGMLFloat.f32ToBF16(.nan)).isNaN)
        for bits in stride(from: 0, through: 0x7BFF, by: 37) {
            #expect(GGMLFloat.f32ToF16(GGMLFloat.f16ToF32(UInt16(bits))) == UInt16(bits))
        }
    }

    @Test("Q8_0: d = amax/127, q = roundf (halves away from zero)")
    func q8Exact() {
        var x = [Float](repeating: 0, count: 32)
        x[0] = 127; x[1] = -127; x[2] = 0.5; x[3] = -0.5; x[4] = 2.5; x[5] = 1.49
        let bytes = GGMLQuantize.quantize(x, as: .q8_0)
        #expect(bytes.count == 34)
        #expect(bytes[0] == 0x00 && bytes[1] == 0x3C)  // d = 1.0
        #expect(bytes[2...7].map { Int8(bitPattern: $0) } == [127, -127, 1, -1, 3, 1])
        #expect(bytes[8...].allSatisfy { $0 == 0 })
    }

    @Test("Q4_0: d = max-by-magnitude / -8, q = min(15, trunc(x/d + 8.5)), nibble layout")
    func q4_0Exact() {
        // Largest magnitude is -8, so d = 1 and q = min(15, trunc(x + 8.5)).
        var x = [Float](repeating: 0, count: 32)
        x[0] = -8; x[1] = 7; x[2] = 7.4; x[3] = 0.49; x[4] = 0.5; x[16] = -1; x[17] = 6.5
        let bytes = GGMLQuantize.quantize(x, as: .q4_0)
        #expect(bytes.count == 18)
        #expect(bytes[0] == 0x00 && bytes[1] == 0x3C)
        let q: [Int] = (0..<32).map { (j: Int) -> Int in
            j < 16 ? Int(bytes[2 + j] & 0x0f) : Int(bytes[2 + j - 16] >> 4)
        }
        #expect(Array(q[0..<5]) == [0, 15, 15, 8, 9])
        #expect(q[16] == 7 && q[17] == 15)
        let zeros: [UInt8] = [0x00, 0x80] + [UInt8](repeating: 0x88, count: 16)  // d = 0 / -8 = -0.0, as in C
        #expect(GGMLQuantize.quantize([Float](repeating: 0, count: 32), as: .q4_0) == zeros)
    }

    @Test("Q4_1: d = (max-min)/15, m = min, nibble layout")
    func q4_1Exact() {
        let x = (0..<32).map { Float($0 % 16) }
        let bytes = GGMLQuantize.quantize(x, as: .q4_1)
        #expect(bytes.count == 20)
        #expect(Array(bytes[0..<4]) == [0x00, 0x3C, 0x00, 0x00])  // d = 1, m = 0
        let nibbles: [UInt8] = (0..<16).map { (j: Int) -> UInt8 in UInt8(j) | (UInt8(j) << 4) }
        #expect(Array(bytes[4...]) == nibbles)
        let constant = GGMLQuantize.quantize([Float](repeating: 3, count: 32), as: .q4_1)
        var out = [Float](repeating: 0, count: 32)
        constant.withUnsafeBytes { GGMLDequantize.dequantizeRow($0.baseAddress!, type: .q4_1, count: 32, into: &out) }
        #expect(out.allSatisfy { $0 == 3 })
    }

    @Test("quantize → dequantize error stays within the reference bounds (32-element types)",
          arguments: GGMLType.allCases.filter { !$0.isSuperBlock && $0 != .iq4_nl })
    func roundTripBounds(type: GGMLType) {
        let x = QuantizationTests.varyingBlocks(seed: UInt64(type.rawValue) + 100)
        let bytes = GGMLQuantize.quantize(x, as: type)
        #expect(bytes.count == type.byteCount(elements: x.count))
        let y = bytes.withUnsafeBytes { GGMLDequantize.dequantize($0, type: type, count: x.count) }
        #expect(y.count == x.count)
        for block in 0..<(x.count / 32) {
            let xs = x[(block * 32)..<(block * 32 + 32)]
            let lo = xs.min() ?? 0, hi = xs.max() ?? 0
            let amax = max(abs(lo), abs(hi))
            for i in xs.indices {
                let error = abs(x[i] - y[i])
                let bound: Float
                switch type {
                case .f32: bound = 0
                case .f16: bound = abs(x[i]) * 0x1p-11 + 0x1p-25
                case .bf16: bound = abs(x[i]) * 0x1p-8
                case .q8_0: bound = amax / 127 * 0.5 * 1.01 + amax * 1e-3
                case .q4_0: bound = amax / 8 * 1.01 + amax * 1e-3  // the side opposite the max clamps at 15
                case .q5_0: bound = amax / 16 * 1.01 + amax * 1e-3  // likewise at 31
                case .q4_1: bound = (hi - lo) / 15 * 0.5 * 1.01 + (abs(lo) + (hi - lo)) * 1e-3
                case .q5_1: bound = (hi - lo) / 31 * 0.5 * 1.01 + (abs(lo) + (hi - lo)) * 1e-3
                default: bound = 0  // not in the arguments
                }
                #expect(error <= bound, "\(type) element \(i): \(x[i]) → \(y[i])")
            }
        }
    }

    /// 64 blocks of 32 normal values whose scale grows from block to block (every third
    /// block offset away from zero), so that both tiny and large scales are exercised.
    static func varyingBlocks(seed: UInt64) -> [Float] {
        var rng = TinyModel.SplitMix64(seed: seed)
        var x: [Float] = []
        for block in 0..<64 {
            let scale = Float(0.001 * Double(block + 1) * Double(block + 1))
            let offset = block % 3 == 0 ? scale * 2 : 0
            for _ in 0..<32 { x.append(Float(rng.nextNormal()) * scale + offset) }
        }
        return x
    }

    @Test("a trailing partial block is zero-padded and decodes to the given count")
    func partialBlock() {
        let x = (0..<40).map { Float($0) / 40 }
        let bytes = GGMLQuantize.quantize(x, as: .q8_0)
        #expect(bytes.count == 2 * 34)
        var out = [Float](repeating: -99, count: 41)
        bytes.withUnsafeBytes { GGMLDequantize.dequantizeRow($0.baseAddress!, type: .q8_0, count: 40, into: &out) }
        #expect(out[40] == -99)
        for i in 0..<40 { #expect(abs(out[i] - x[i]) < 0.01) }
    }

    @Test("dequantize rejects a buffer that is too short instead of reading past it")
    func shortBuffer() {
        let bytes = [UInt8](repeating: 0, count: 33)
        #expect(bytes.withUnsafeBytes { GGMLDequantize.dequantize($0, type: .q8_0, count: 32) }.isEmpty)
    }
}
