import CKernels
import Foundation
import Testing

// Tests of the C kernels against scalar references written here in Swift (Double precision),
// on every ISA path the machine supports. The suite is serialized because it switches the
// process-wide ISA selection (ss_set_isa); each test restores the previous selection.

/// A small deterministic generator (SplitMix64).
struct SplitMix {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func float(_ lo: Float, _ hi: Float) -> Float {
        lo + (hi - lo) * Float(next() >> 40) / Float(1 << 24)
    }
    mutating func int(_ upper: Int) -> Int { Int(next() % UInt64(upper)) }
    mutating func floats(_ n: Int, scale: Float = 1) -> [Float] {
        (0..<n).map { _ in float(-scale, scale) }
    }
}

private let quantTypes: [Int32] = [SS_TYPE_Q4_0, SS_TYPE_Q4_1, SS_TYPE_Q8_0]
private let allTypes: [Int32] = [SS_TYPE_F32, SS_TYPE_F16, SS_TYPE_BF16] + quantTypes

/// The ISA paths this machine supports.
var supportedISAs: [Int32] {
    [SS_ISA_SCALAR, SS_ISA_AVX2, SS_ISA_AVXVNNI, SS_ISA_AVX512VNNI].filter { ss_isa_supported($0) == 1 }
}

/// Runs `body` with `isa` forced, restoring the previous selection afterwards.
func withISA<T>(_ isa: Int32, _ body: () throws -> T) rethrows -> T {
    let previous = ss_isa()
    #expect(ss_set_isa(isa) == 1)
    defer { _ = ss_set_isa(previous) }
    return try body()
}

// MARK: - ggml reference quantizers and decoders

func appendU16(_ bytes: inout [UInt8], _ v: UInt16) {
    bytes.append(UInt8(v & 0xff))
    bytes.append(UInt8(v >> 8))
}

func f16Bits(_ x: Float) -> UInt16 { Float16(x).bitPattern }
private func f16Value(_ b: [UInt8], _ o: Int) -> Float {
    Float(Float16(bitPattern: UInt16(b[o]) | UInt16(b[o + 1]) << 8))
}

/// Quantizes a row-major matrix with ggml's reference formulas (or stores F32/F16/BF16).
private func ggmlEncode(_ type: Int32, _ x: [Float]) -> [UInt8] {
    var out: [UInt8] = []
    switch type {
    case SS_TYPE_F32:
        for v in x { withUnsafeBytes(of: v.bitPattern.littleEndian) { out.append(contentsOf: $0) } }
    case SS_TYPE_F16:
        for v in x { appendU16(&out, f16Bits(v)) }
    case SS_TYPE_BF16:
        for v in x { appendU16(&out, UInt16(v.bitPattern >> 16)) }
    default:
        for b in stride(from: 0, to: x.count, by: 32) {
            let blk = Array(x[b..<b + 32])
            switch type {
            case SS_TYPE_Q8_0:
                let amax = blk.map { abs($0) }.max() ?? 0
                let d = amax / 127, id: Float = d != 0 ? 1 / d : 0
                appendU16(&out, f16Bits(d))
                for v in blk { out.append(UInt8(bitPattern: Int8((v * id).rounded()))) }
            case SS_TYPE_Q4_0:
                var maxv: Float = 0
                for v in blk where abs(v) > abs(maxv) { maxv = v }
                let d = maxv / -8, id: Float = d != 0 ? 1 / d : 0
                appendU16(&out, f16Bits(d))
                let q = blk.map { UInt8(min(15, Int8($0 * id + 8.5))) }
                for j in 0..<16 { out.append(q[j] | q[j + 16] << 4) }
            default:  // Q4_1
                let lo = blk.min() ?? 0, hi = blk.max() ?? 0
                let d = (hi - lo) / 15, id: Float = d != 0 ? 1 / d : 0
                appendU16(&out, f16Bits(d))
                appendU16(&out, f16Bits(lo))
                let q = blk.map { UInt8(min(15, Int8(($0 - lo) * id + 0.5))) }
                for j in 0..<16 { out.append(q[j] | q[j + 16] << 4) }
            }
        }
    }
    return out
}

/// One decoded ggml block: scale, min (Q4_1) and integer quants (q-8 for Q4_0).
private struct WeightBlock {
    var d: Float
    var m: Float
    var q: [Int]
}

/// Decodes block `b` of row `r` of a quantized ggml matrix.
private func weightBlock(_ type: Int32, _ w: [UInt8], cols: Int, r: Int, b: Int) -> WeightBlock {
    let size = Int(ss_row_bytes(type, 32))
    let o = (r * cols / 32 + b) * size
    switch type {
    case SS_TYPE_Q8_0:
        return WeightBlock(d: f16Value(w, o), m: 0, q: (0..<32).map { Int(Int8(bitPattern: w[o + 2 + $0])) })
    case SS_TYPE_Q4_0:
        let q = (0..<32).map { j in Int(j < 16 ? w[o + 2 + j] & 15 : w[o + 2 + j - 16] >> 4) - 8 }
        return WeightBlock(d: f16Value(w, o), m: 0, q: q)
    default:
        let q = (0..<32).map { j in Int(j < 16 ? w[o + 4 + j] & 15 : w[o + 4 + j - 16] >> 4) }
        return WeightBlock(d: f16Value(w, o), m: f16Value(w, o + 2), q: q)
    }
}

/// The float value of element k of row r (ggml formulas, as ss_dequantize_row computes them).
private func weightValue(_ type: Int32, _ w: [UInt8], cols: Int, r: Int, k: Int) -> Float {
    switch type {
    case SS_TYPE_F32:
        let o = (r * cols + k) * 4
        return Float(bitPattern: UInt32(w[o]) | UInt32(w[o + 1]) << 8 | UInt32(w[o + 2]) << 16 | UInt32(w[o + 3]) << 24)
    case SS_TYPE_F16:
        return f16Value(w, (r * cols + k) * 2)
    case SS_TYPE_BF16:
        let o = (r * cols + k) * 2
        return Float(bitPattern: (UInt32(w[o]) | UInt32(w[o + 1]) << 8) << 16)
    default:
        let blk = weightBlock(type, w, cols: cols, r: r, b: k / 32)
        let q = Float(blk.q[k % 32])
        return type == SS_TYPE_Q4_1 ? blk.d * q + blk.m : blk.d * q
    }
}

/// A quantized activation block read back from ss_quantize_act's output.
struct ActBlock: Equatable {
    var d: Float
    var s: Float
    var sum: Int32
    var sum16: Int32
    var q: [Int8]
}

func actBlocks(_ bytes: [UInt8], cols: Int, token: Int) -> [ActBlock] {
    let rowBytes = Int(ss_act_row_bytes(Int64(cols)))
    return bytes.withUnsafeBytes { raw in
        (0..<cols / 32).map { b in
            let o = token * rowBytes + b * 48
            return ActBlock(
                d: raw.loadUnaligned(fromByteOffset: o, as: Float.self),
                s: raw.loadUnaligned(fromByteOffset: o + 4, as: Float.self),
                sum: raw.loadUnaligned(fromByteOffset: o + 8, as: Int32.self),
                sum16: raw.loadUnaligned(fromByteOffset: o + 12, as: Int32.self),
                q: (0..<32).map { raw.loadUnaligned(fromByteOffset: o + 16 + $0, as: Int8.self) })
        }
    }
}

// MARK: - C wrappers

func quantizeActs(_ x: [Float], cols: Int, ntok: Int) -> [UInt8] {
    let rowBytes = Int(ss_act_row_bytes(Int64(cols)))
    var out = [UInt8](repeating: 0, count: rowBytes * ntok)
    x.withUnsafeBufferPointer { xp in
        out.withUnsafeMutableBytes { op in
            for t in 0..<ntok {
                ss_quantize_act(xp.baseAddress! + t * cols, Int64(cols), op.baseAddress! + t * rowBytes)
            }
        }
    }
    return out
}

func pack(_ type: Int32, _ w: [UInt8], rows: Int, cols: Int) -> [UInt8] {
    var packed = [UInt8](repeating: 0, count: ss_packed_size(type, Int64(rows), Int64(cols)))
    let rc = packed.withUnsafeMutableBytes { ss_pack(type, w, Int64(rows), Int64(cols), $0.baseAddress) }
    #expect(rc == 1)
    return packed
}

/// Runs ss_gemm_q for tokens [t0, t0+ntok) and rows [rb, re) into `out` (ldo columns).
func gemmQ(_ type: Int32, _ packed: [UInt8], rows: Int, cols: Int, acts: [UInt8], t0: Int = 0,
                   ntok: Int, out: inout [Float], ldo: Int, rb: Int, re: Int) {
    let rowBytes = Int(ss_act_row_bytes(Int64(cols)))
    acts.withUnsafeBytes { ap in
        out.withUnsafeMutableBufferPointer { op in
            ss_gemm_q(type, packed, Int64(rows), Int64(cols), ap.baseAddress! + t0 * rowBytes, Int64(ntok),
                      op.baseAddress! + t0 * ldo, Int64(ldo), Int64(rb), Int64(re))
        }
    }
}

func runGemmF32(_ type: Int32, _ w: [UInt8], rows: Int, cols: Int, x: [Float], t0: Int = 0, ntok: Int,
                     out: inout [Float], ldo: Int, rb: Int, re: Int) {
    x.withUnsafeBufferPointer { xp in
        out.withUnsafeMutableBufferPointer { op in
            ss_gemm_f32(type, w, Int64(rows), Int64(cols), xp.baseAddress! + t0 * cols, Int64(ntok),
                        op.baseAddress! + t0 * ldo, Int64(ldo), Int64(rb), Int64(re))
        }
    }
}

func bitsEqual(_ a: [Float], _ b: [Float]) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { $0.bitPattern == $1.bitPattern }
}

/// Random row boundaries splitting [0, rows) into a few ragged ranges.
func randomSplit(_ rows: Int, _ rng: inout SplitMix) -> [Int] {
    var cuts = Set([0, rows])
    for _ in 0..<min(rows, 5) { cuts.insert(rng.int(rows + 1)) }
    return cuts.sorted()
}

@Suite("CKernels", .serialized)
struct CKernelsTests {
    @Test("ISA selection can be forced to every supported path and rejects the rest")
    func isaSelection() {
        #expect(ss_isa_supported(SS_ISA_SCALAR) == 1)
        #expect(ss_set_isa(42) == 0)
        #expect(ss_set_isa(-1) == 0)
        #expect(String(cString: ss_isa_name(SS_ISA_AVX512VNNI)) == "avx512vnni")
        #expect(String(cString: ss_isa_name(SS_ISA_SCALAR)) == "scalar")
        #expect(String(cString: ss_isa_name(7)) == "?")
        for isa in supportedISAs {
            withISA(isa) {
                #expect(ss_isa() == isa)
                let granularity = ss_row_granularity(SS_TYPE_Q4_1)
                #expect(granularity == (isa == SS_ISA_AVX512VNNI ? 16 : isa == SS_ISA_SCALAR ? 1 : 8))
            }
        }
    }

    @Test("Activation quantization follows the documented formula (with the first-16 sums), bit-identical on every ISA")
    func activationQuantization() throws {
        var rng = SplitMix(state: 1)
        let cols = 1536
        var x = rng.floats(cols, scale: 3)
        for k in 64..<96 { x[k] = 0 }  // an all-zero block
        x[200] = 2.5 * (3.0 / 127.0)  // exercise ties in a block whose amax is 3
        for k in 192..<224 where k != 200 { x[k] = k == 193 ? 3 : 0 }
        // Swift reference of the documented formula.
        var expected: [ActBlock] = []
        for b in 0..<cols / 32 {
            let blk = x[b * 32..<b * 32 + 32]
            let amax = blk.map { abs($0) }.max() ?? 0
            let d = amax / 127, id: Float = d != 0 ? 1 / d : 0
            let q = blk.map { Int8(max(-127, min(127, ($0 * id).rounded(.toNearestOrEven)))) }
            let sum = q.reduce(Int32(0)) { $0 + Int32($1) }
            let sum16 = q[0..<16].reduce(Int32(0)) { $0 + Int32($1) }
            expected.append(ActBlock(d: d, s: d * Float(sum), sum: sum, sum16: sum16, q: q))
        }
        var first: [UInt8]?
        for isa in supportedISAs {
            let bytes = withISA(isa) { quantizeActs(x, cols: cols, ntok: 1) }
            #expect(actBlocks(bytes, cols: cols, token: 0) == expected, "ISA \(isa)")
            if let first { #expect(bytes == first, "ISA \(isa) differs from the first path") }
            first = first ?? bytes
        }
    }

    @Test("Quantized GEMM matches a Swift integer reference on ragged shapes, on every ISA", arguments: quantTypes)
    func gemmQMatchesReference(type: Int32) throws {
        var rng = SplitMix(state: UInt64(type) * 977)
        for (ri, rows) in [1, 7, 33, 192].enumerated() {
            for (ci, cols) in [32, 64, 576, 1536].enumerated() {
                let ntok = [1, 3, 5, 17, 64][(ri + 2 * ci) % 5]  // every count, every shape size
                let w = ggmlEncode(type, rng.floats(rows * cols))
                let x = rng.floats(ntok * cols, scale: 2)
                let acts = quantizeActs(x, cols: cols, ntok: ntok)
                // Reference in Double: exact integer dots per block, then scaling.
                var ref = [Double](repeating: 0, count: ntok * rows)
                var mag = [Double](repeating: 0, count: ntok * rows)
                let blocks = (0..<ntok).map { actBlocks(acts, cols: cols, token: $0) }
                for r in 0..<rows {
                    let wb = (0..<cols / 32).map { weightBlock(type, w, cols: cols, r: r, b: $0) }
                    for t in 0..<ntok {
                        var acc = 0.0, m = 0.0
                        for (b, a) in blocks[t].enumerated() {
                            var isum = 0
                            for j in 0..<32 { isum += wb[b].q[j] * Int(a.q[j]) }
                            let term = Double(wb[b].d) * Double(a.d) * Double(isum)
                            let mterm = Double(wb[b].m) * Double(a.s)
                            acc += term + mterm
                            m += abs(term) + abs(mterm)
                        }
                        ref[t * rows + r] = acc
                        mag[t * rows + r] = m
                    }
                }
                var scalarOut: [Float]?
                for isa in supportedISAs {
                    let out: [Float] = withISA(isa) {
                        let packed = pack(type, w, rows: rows, cols: cols)
                        #expect(ss_packed_isa(packed) == isa)
                        var out = [Float](repeating: .nan, count: ntok * rows)
                        gemmQ(type, packed, rows: rows, cols: cols, acts: acts, ntok: ntok, out: &out, ldo: rows, rb: 0, re: rows)
                        return out
                    }
                    let bad = (0..<out.count).filter { !(abs(Double(out[$0]) - ref[$0]) <= 1e-5 * mag[$0] + 1e-30) }
                    #expect(bad.isEmpty, "type \(type) isa \(isa) \(rows)x\(cols) ntok \(ntok): \(bad.count) mismatches, first \(bad.first.map { "\(out[$0]) vs \(ref[$0])" } ?? "")")
                    if let scalarOut {
                        #expect(bitsEqual(out, scalarOut), "type \(type) isa \(isa) \(rows)x\(cols): not bit-identical to scalar")
                    }
                    scalarOut = scalarOut ?? out
                }
            }
        }
    }

    @Test("Quantized GEMM is bit-identical across row splits, token counts and ldo", arguments: quantTypes)
    func gemmQDeterminism(type: Int32) throws {
        var rng = SplitMix(state: 4242 + UInt64(type))
        let rows = 203, cols = 576, ntok = 128, ldo = 211
        let w = ggmlEncode(type, rng.floats(rows * cols))
        let acts = quantizeActs(rng.floats(ntok * cols), cols: cols, ntok: ntok)
        for isa in supportedISAs {
            withISA(isa) {
                let packed = pack(type, w, rows: rows, cols: cols)
                var full = [Float](repeating: .nan, count: ntok * ldo)
                gemmQ(type, packed, rows: rows, cols: cols, acts: acts, ntok: ntok, out: &full, ldo: ldo, rb: 0, re: rows)
                // Token windows: 1 token alone, 37 tokens, ragged tails.
                for (t0, n) in [(0, 1), (5, 1), (127, 1), (40, 37), (3, 17), (64, 64)] {
                    var part = [Float](repeating: .nan, count: ntok * ldo)
                    gemmQ(type, packed, rows: rows, cols: cols, acts: acts, t0: t0, ntok: n, out: &part, ldo: ldo, rb: 0, re: rows)
                    let range = t0 * ldo..<(t0 + n) * ldo
                    let same = range.allSatisfy { $0 % ldo >= rows || part[$0].bitPattern == full[$0].bitPattern }
                    #expect(same, "type \(type) isa \(isa): tokens \(t0)..<\(t0 + n) differ from the batch")
                }
                // Random ragged row splits.
                for _ in 0..<4 {
                    let cuts = randomSplit(rows, &rng)
                    var split = [Float](repeating: .nan, count: ntok * ldo)
                    for i in 0..<cuts.count - 1 {
                        gemmQ(type, packed, rows: rows, cols: cols, acts: acts, ntok: ntok, out: &split, ldo: ldo, rb: cuts[i], re: cuts[i + 1])
                    }
                    #expect(bitsEqual(split, full), "type \(type) isa \(isa): split \(cuts) differs")
                }
                // Untouched padding columns (ldo > rows) stay as they were.
                #expect(full[rows].isNaN && full[ldo - 1].isNaN)
            }
        }
    }

    @Test("Float GEMM matches a Double reference for every type and is split/batch invariant", arguments: allTypes)
    func gemmF32MatchesReference(type: Int32) throws {
        var rng = SplitMix(state: 99 + UInt64(type))
        let shapes = [(1, 32, 1), (7, 64, 3), (33, 576, 5), (19, 1536, 17)] + (type <= SS_TYPE_F16 || type == SS_TYPE_BF16 ? [(5, 45, 4)] : [])
        for (rows, cols, ntok) in shapes {
            let w = ggmlEncode(type, rng.floats(rows * cols))
            let x = rng.floats(ntok * cols, scale: 2)
            for isa in supportedISAs {
                withISA(isa) {
                    var out = [Float](repeating: .nan, count: ntok * rows)
                    runGemmF32(type, w, rows: rows, cols: cols, x: x, ntok: ntok, out: &out, ldo: rows, rb: 0, re: rows)
                    for r in 0..<rows {
                        let wr = (0..<cols).map { Double(weightValue(type, w, cols: cols, r: r, k: $0)) }
                        for t in 0..<ntok {
                            var ref = 0.0, mag = 0.0
                            for k in 0..<cols {
                                ref += wr[k] * Double(x[t * cols + k])
                                mag += abs(wr[k] * Double(x[t * cols + k]))
                            }
                            let got = Double(out[t * rows + r])
                            #expect(abs(got - ref) <= 1e-5 * mag + 1e-30, "type \(type) isa \(isa) \(rows)x\(cols) r \(r) t \(t): \(got) vs \(ref)")
                        }
                    }
                    // One token alone and a ragged row split give the same bits.
                    var single = [Float](repeating: .nan, count: ntok * rows)
                    let t0 = ntok - 1
                    runGemmF32(type, w, rows: rows, cols: cols, x: x, t0: t0, ntok: 1, out: &single, ldo: rows, rb: 0, re: rows)
                    #expect((0..<rows).allSatisfy { single[t0 * rows + $0].bitPattern == out[t0 * rows + $0].bitPattern })
                    var split = [Float](repeating: .nan, count: ntok * rows)
                    let cut = rows / 2
                    runGemmF32(type, w, rows: rows, cols: cols, x: x, ntok: ntok, out: &split, ldo: rows, rb: 0, re: cut)
                    runGemmF32(type, w, rows: rows, cols: cols, x: x, ntok: ntok, out: &split, ldo: rows, rb: cut, re: rows)
                    #expect(bitsEqual(split, out))
                }
            }
        }
    }

    @Test("Row dequantization matches the ggml formulas", arguments: allTypes)
    func dequantizeRow(type: Int32) {
        var rng = SplitMix(state: 7 + UInt64(type))
        let cols = 96
        let w = ggmlEncode(type, rng.floats(2 * cols, scale: 4))
        var out = [Float](repeating: .nan, count: cols)
        let offset = Int(ss_row_bytes(type, Int64(cols)))
        w.withUnsafeBytes { ss_dequantize_row(type, $0.baseAddress! + offset, Int64(cols), &out) }
        let expected = (0..<cols).map { weightValue(type, w, cols: cols, r: 1, k: $0) }
        #expect(bitsEqual(out, expected))
    }

    @Test("Packing and GEMM reject bad types, shapes and mismatched buffers")
    func badInput() {
        #expect(ss_packed_size(SS_TYPE_F32, 4, 64) == 0)
        #expect(ss_packed_size(SS_TYPE_Q4_1, 4, 40) == 0)
        #expect(ss_pack(SS_TYPE_F16, [UInt8](repeating: 0, count: 512), 4, 64, nil) == 0)
        var dst = [UInt8](repeating: 0, count: 4096)
        #expect(ss_pack(SS_TYPE_Q8_0, [UInt8](repeating: 0, count: 512), 4, 40, &dst) == 0)
        #expect(ss_packed_isa(dst) == -1)
        #expect(ss_row_bytes(SS_TYPE_Q4_1, 64) == 40 && ss_row_bytes(SS_TYPE_Q8_0, 33) == 0)
        // A packed buffer used with the wrong shape or type writes nothing.
        var rng = SplitMix(state: 5)
        let w = ggmlEncode(SS_TYPE_Q4_1, rng.floats(8 * 64))
        let packed = pack(SS_TYPE_Q4_1, w, rows: 8, cols: 64)
        let acts = quantizeActs(rng.floats(64), cols: 64, ntok: 1)
        var out = [Float](repeating: .nan, count: 8)
        gemmQ(SS_TYPE_Q4_0, packed, rows: 8, cols: 64, acts: acts, ntok: 1, out: &out, ldo: 8, rb: 0, re: 8)
        gemmQ(SS_TYPE_Q4_1, packed, rows: 7, cols: 64, acts: acts, ntok: 1, out: &out, ldo: 8, rb: 0, re: 7)
        #expect(out.allSatisfy { $0.isNaN })
        gemmQ(SS_TYPE_Q4_1, packed, rows: 8, cols: 64, acts: acts, ntok: 1, out: &out, ldo: 8, rb: 0, re: 8)
        #expect(out.allSatisfy { $0.isFinite })
    }

    @Test("Q8_0 weights at -128 and activations at +-127 do not saturate on any path")
    func q8Extremes() {
        let rows = 17, cols = 64
        var w: [UInt8] = []
        for _ in 0..<rows * cols / 32 {
            appendU16(&w, f16Bits(1))
            for j in 0..<32 { w.append(j % 2 == 0 ? 0x80 : 0x7f) }  // -128, 127
        }
        let x = (0..<cols).map { $0 % 2 == 0 ? Float(-1) : Float(1) }  // quantizes to -127, 127
        let acts = quantizeActs(x, cols: cols, ntok: 1)
        // Per block: 16 * (-128 * -127) + 16 * (127 * 127) = 518_160; times d_a = 1/127.
        let expected = Double(Float(1) / 127) * 518_160 * 2
        for isa in supportedISAs {
            withISA(isa) {
                let packed = pack(SS_TYPE_Q8_0, w, rows: rows, cols: cols)
                var out = [Float](repeating: .nan, count: rows)
                gemmQ(SS_TYPE_Q8_0, packed, rows: rows, cols: cols, acts: acts, ntok: 1, out: &out, ldo: rows, rb: 0, re: rows)
                #expect(out.allSatisfy { abs(Double($0) - expected) <= 1e-5 * expected }, "isa \(isa): \(out[0]) vs \(expected)")
            }
        }
    }

    @Test("Micro-benchmark (prints GOP/s per ISA and shape; set SINKSTREAM_BENCH=1 for the full list)")
    func benchmark() {
        let full = ProcessInfo.processInfo.environment["SINKSTREAM_BENCH"] == "1"
        let shapes: [(Int32, Int64, Int64, Int64)] = full
            ? [(SS_TYPE_Q4_1, 1536, 576, 1), (SS_TYPE_Q4_1, 1536, 576, 64), (SS_TYPE_Q4_1, 1536, 576, 512),
               (SS_TYPE_Q4_1, 576, 1536, 1), (SS_TYPE_Q4_1, 576, 1536, 64), (SS_TYPE_Q4_1, 576, 1536, 512),
               (SS_TYPE_Q8_0, 49152, 576, 64)]
            : [(SS_TYPE_Q4_1, 1536, 576, 1), (SS_TYPE_Q4_1, 1536, 576, 64)]
        for isa in supportedISAs where isa != SS_ISA_SCALAR || !full {
            withISA(isa) {
                for (type, rows, cols, ntok) in shapes {
                    let iters = Int32(max(3, min(100, 200_000_000 / (rows * cols * ntok))))
                    let gops = ss_bench_gemm(type, rows, cols, ntok, iters, 0)
                    #expect(gops > 0)
                    print("bench \(String(cString: ss_isa_name(isa))) type \(type) \(rows)x\(cols) ntok \(ntok): \(String(format: "%.1f", gops)) GOP/s")
                    let direct = ss_bench_gemm(type, rows, cols, ntok, iters, 1)  // ggml layout, no repacking
                    if isa == SS_ISA_AVX512VNNI && direct > 0 {
                        print("bench ggml-layout (no repack) type \(type) \(rows)x\(cols) ntok \(ntok): \(String(format: "%.1f", direct)) GOP/s")
                    }
                }
            }
        }
    }
}

// MARK: - Half-precision KV cache and attention

/// Double-precision attention over a half cache, the definition ss_attend_f16 documents.
private func referenceAttention(
    qRecent: [Float], qSink: [Float], group: Int, d: Int, keys: [UInt16], values: [UInt16], stride: Int,
    segments: [ss_attn_segment], scale: Float
) -> [Double] {
    var out = [Double](repeating: 0, count: group * d)
    for h in 0..<group {
        var scores: [Double] = [], slots: [Int] = []
        for s in segments {
            let q = s.sink != 0 ? qSink : qRecent
            for k in 0..<Int(s.count) {
                let slot = Int(s.slot) + k
                var acc = 0.0
                for i in 0..<d { acc += Double(q[h * d + i]) * Double(Float(Float16(bitPattern: keys[i * stride + slot]))) }
                scores.append(acc * Double(scale))
                slots.append(slot)
            }
        }
        let m = scores.max() ?? 0
        let e = scores.map { Foundation.exp($0 - m) }
        let sum = e.reduce(0, +)
        for (j, slot) in slots.enumerated() {
            for i in 0..<d { out[h * d + i] += e[j] / sum * Double(Float(Float16(bitPattern: values[slot * d + i]))) }
        }
    }
    return out
}

extension CKernelsTests {
    @Test("Float→half conversion rounds to nearest even like Float16(x), on every ISA, with strides")
    func halfConversion() {
        var rng = SplitMix(state: 77)
        var x = rng.floats(203, scale: 70_000)
        x += [0, -0, 1e-8, -3e-5, 6.1e-5, 65_519, 65_520, .infinity, -.infinity, 2.0009765625, 2.001953125 * 1.000_000_1]
        let expected = x.map { Float16($0).bitPattern }
        for isa in supportedISAs {
            withISA(isa) {
                var dense = [UInt16](repeating: 0, count: x.count)
                ss_f32_to_f16_row(x, Int64(x.count), &dense, 1)
                #expect(dense == expected, "ISA \(isa)")
                var strided = [UInt16](repeating: 0xFFFF, count: x.count * 3)
                ss_f32_to_f16_row(x, Int64(x.count), &strided, 3)
                #expect((0..<x.count).allSatisfy { strided[3 * $0] == expected[$0] && strided[3 * $0 + 1] == 0xFFFF })
                var back = [Float](repeating: 0, count: x.count)
                ss_f16_to_f32_row(strided, 3, Int64(x.count), &back)
                #expect(back.map { Float16($0).bitPattern } == expected)
            }
        }
    }

    @Test("The fused loss's block softmax gives the exact maximum and Σexp within 2e-6 of Double on every ISA; the vector ISAs agree bit for bit",
          arguments: [1, 15, 16, 17, 384, 1024])
    func blockSoftmax(_ n: Int) {
        var rng = SplitMix(state: UInt64(900 + n))
        let logits = rng.floats(n, scale: 30)
        let m = logits.max()!
        let reference = logits.reduce(0.0) { $0 + Foundation.exp(Double($1 - m)) }
        var vectorBits: (sum: UInt32, row: [UInt32])?
        for isa in supportedISAs {
            var row = logits, max: Float = .nan
            let sum = ss_softmax_f32(isa, &row, Int64(n), &max)
            #expect(max == m, "ISA \(isa)")
            #expect(abs(Double(sum) - reference) <= 2e-6 * reference, "ISA \(isa): \(sum) against \(reference)")
            #expect(zip(row, logits).allSatisfy { abs(Double($0) - Foundation.exp(Double($1 - m))) <= 2e-7 }, "ISA \(isa)")
            guard isa != SS_ISA_SCALAR else { continue }
            let bits = (sum.bitPattern, row.map(\.bitPattern))
            if let vectorBits { #expect(vectorBits == bits, "ISA \(isa) differs from the other vector path") }
            else { vectorBits = bits }
        }
    }

    @Test("Half attention matches a Double reference on every ISA, whole and split into merged parts; each head's bits do not depend on the group size; the vector ISAs agree bit for bit",
          arguments: [(1, 64, 3), (7, 64, 3), (33, 64, 7), (100, 256, 4), (517, 64, 3), (300, 256, 1), (45, 128, 2)])
    func halfAttention(visible: Int, d: Int, group: Int) {
        var rng = SplitMix(state: UInt64(visible))
        let stride = 1032 / 8 * 8
        let keys = rng.floats(d * stride, scale: 2).map { Float16($0).bitPattern }
        let values = rng.floats(stride * d, scale: 1).map { Float16($0).bitPattern }
        let qRecent = rng.floats(group * d), qSink = rng.floats(group * d)
        // Sinks, then a wrapped recent part: the pattern of a full ring.
        let sinks = min(4, visible), recent = visible - sinks
        let firstRecent = 1000 - recent / 2
        let segments = [
            ss_attn_segment(slot: 0, count: Int64(sinks), sink: 1),
            ss_attn_segment(slot: Int64(firstRecent), count: Int64(min(recent, 1000 - firstRecent)), sink: 0),
            ss_attn_segment(slot: 4, count: Int64(recent - min(recent, 1000 - firstRecent)), sink: 0),
        ]
        let scale = 1 / Float(d).squareRoot()
        let expected = referenceAttention(qRecent: qRecent, qSink: qSink, group: group, d: d, keys: keys, values: values,
                                          stride: stride, segments: segments, scale: scale)
        var vectorBits: (isa: Int32, whole: [UInt32], merged: [UInt32])?
        for isa in supportedISAs {
            withISA(isa) {
                var scratch = [Float](repeating: 0, count: group * (visible + 16))
                var out = [Float](repeating: 0, count: group * d)
                ss_attend_f16(isa, qRecent, qSink, Int64(group), Int64(d), keys, values, Int64(stride), segments, 3, scale, &scratch, &out, nil)
                let worst = zip(out, expected).map { abs(Double($0) - $1) }.max() ?? 0
                #expect(worst < 2e-5, "ISA \(isa): max |Δ| \(worst)")
                for h in 0..<group {
                    var single = [Float](repeating: 0, count: d)
                    qRecent.withUnsafeBufferPointer { qr in
                        qSink.withUnsafeBufferPointer { qs in
                            ss_attend_f16(isa, qr.baseAddress! + h * d, qs.baseAddress! + h * d, 1, Int64(d), keys, values,
                                          Int64(stride), segments, 3, scale, &scratch, &single, nil)
                        }
                    }
                    #expect(single == Array(out[(h * d)..<((h + 1) * d)]), "ISA \(isa), head \(h)")
                }
                // Split into parts of 37 keys (crossing segment boundaries) and merged.
                let partSize: Int64 = 37
                let parts = (Int64(visible) + partSize - 1) / partSize
                let partFloats = group * (d + 2)
                var partials = [Float](repeating: .nan, count: Int(parts) * partFloats)
                for p in 0..<parts {
                    var piece: [ss_attn_segment] = []
                    var start: Int64 = 0
                    for s in segments {
                        let a = max(p * partSize, start), b = min((p + 1) * partSize, start + s.count)
                        if b > a { piece.append(ss_attn_segment(slot: s.slot + a - start, count: b - a, sink: s.sink)) }
                        start += s.count
                    }
                    partials.withUnsafeMutableBufferPointer { buffer in
                        let part = buffer.baseAddress! + Int(p) * partFloats
                        ss_attend_f16(isa, qRecent, qSink, Int64(group), Int64(d), keys, values, Int64(stride), piece,
                                      Int64(piece.count), scale, &scratch, part, part + group * d)
                    }
                }
                var merged = [Float](repeating: 0, count: group * d)
                ss_attn_merge(Int64(group), Int64(d), parts, partials, &merged)
                let worstSplit = zip(merged, expected).map { abs(Double($0) - $1) }.max() ?? 0
                #expect(worstSplit < 2e-5, "ISA \(isa), split in \(parts): max |Δ| \(worstSplit)")
                // AVX2, AVX-VNNI and AVX-512 share one arithmetic: a stream's losses do not depend
                // on which of them the machine has.
                if isa != SS_ISA_SCALAR {
                    let bits = (isa, out.map(\.bitPattern), merged.map(\.bitPattern))
                    if let first = vectorBits {
                        #expect(bits.1 == first.whole && bits.2 == first.merged, "ISA \(isa) differs from ISA \(first.isa)")
                    } else {
                        vectorBits = bits
                    }
                }
            }
        }
    }
    @Test("A tile of up to SS_ATTN_TILE_TOKENS tokens over nested prefixes gives each token the bits ss_attend_f16 gives it alone, on every ISA, with and without stats",
          arguments: [(2, 64, 3), (4, 64, 3), (3, 256, 4), (4, 64, 7), (4, 128, 1), (4, 64, 16)])
    func halfAttentionTile(tokens: Int, d: Int, group: Int) {
        var rng = SplitMix(state: UInt64(tokens * 1000 + d + group))
        let stride = 1032 / 8 * 8
        let keys = rng.floats(d * stride, scale: 2).map { Float16($0).bitPattern }
        let values = rng.floats(stride * d, scale: 1).map { Float16($0).bitPattern }
        let qRecent = (0..<tokens).map { _ in rng.floats(group * d) }
        let qSink = (0..<tokens).map { _ in rng.floats(group * d) }
        // Sinks, then a wrapped recent part; token t sees 4 more keys than token t - 1 (the first
        // sees a count that ends inside the second segment; one token sees nothing).
        let segments = [
            ss_attn_segment(slot: 0, count: 4, sink: 1),
            ss_attn_segment(slot: 990, count: 10, sink: 0),
            ss_attn_segment(slot: 4, count: 300, sink: 0),
        ]
        let counts: [Int64] = (0..<tokens).map { t in t == 1 && tokens > 2 ? 0 : Int64(11 + 97 * t) }
        let scale = 1 / Float(d).squareRoot()
        let maxCount = Int(counts.max()!)
        for isa in supportedISAs {
            withISA(isa) {
                for withStats in [false, true] {
                    var scratch = [Float](repeating: 0, count: tokens * min(group, 4) * (maxCount + 16) + group * (maxCount + 16))
                    var outs = (0..<tokens).map { _ in [Float](repeating: -7, count: group * d) }
                    var stats = (0..<tokens).map { _ in [Float](repeating: -7, count: 2 * group) }
                    var expectedOut: [[Float]] = [], expectedStats: [[Float]] = []
                    for t in 0..<tokens {
                        // The segments cut at counts[t]: what token t sees alone.
                        var piece: [ss_attn_segment] = [], left = counts[t]
                        for s in segments where left > 0 {
                            piece.append(ss_attn_segment(slot: s.slot, count: min(s.count, left), sink: s.sink))
                            left -= min(s.count, left)
                        }
                        var o = [Float](repeating: -7, count: group * d), st = [Float](repeating: -7, count: 2 * group)
                        if !piece.isEmpty {
                            st.withUnsafeMutableBufferPointer { stp in
                                ss_attend_f16(isa, qRecent[t], qSink[t], Int64(group), Int64(d), keys, values, Int64(stride),
                                              piece, Int64(piece.count), scale, &scratch, &o, withStats ? stp.baseAddress : nil)
                            }
                        }
                        expectedOut.append(o)
                        expectedStats.append(st)
                    }
                    // One flat buffer each, tokens side by side, pointers taken inside one access.
                    let qrFlat = qRecent.flatMap { $0 }, qsFlat = qSink.flatMap { $0 }
                    var outFlat = [Float](repeating: -7, count: tokens * group * d)
                    var statFlat = [Float](repeating: -7, count: tokens * 2 * group)
                    qrFlat.withUnsafeBufferPointer { qr in
                        qsFlat.withUnsafeBufferPointer { qs in
                            outFlat.withUnsafeMutableBufferPointer { o in
                                statFlat.withUnsafeMutableBufferPointer { st in
                                    let n = group * d
                                    let qrp: [UnsafePointer<Float>?] = (0..<tokens).map { qr.baseAddress! + $0 * n }
                                    let qsp: [UnsafePointer<Float>?] = (0..<tokens).map { qs.baseAddress! + $0 * n }
                                    let op: [UnsafeMutablePointer<Float>?] = (0..<tokens).map { o.baseAddress! + $0 * n }
                                    let sp: [UnsafeMutablePointer<Float>?] = (0..<tokens).map { withStats ? st.baseAddress! + $0 * 2 * group : nil }
                                    ss_attend_f16_tile(isa, Int64(tokens), qrp, qsp, Int64(group), Int64(d), keys, values, Int64(stride),
                                                       segments, 3, counts, scale, &scratch, op, sp)
                                }
                            }
                        }
                    }
                    for t in 0..<tokens {
                        outs[t] = Array(outFlat[(t * group * d)..<((t + 1) * group * d)])
                        stats[t] = Array(statFlat[(t * 2 * group)..<((t + 1) * 2 * group)])
                    }
                    for t in 0..<tokens {
                        #expect(outs[t].map(\.bitPattern) == expectedOut[t].map(\.bitPattern), "ISA \(isa), token \(t) of \(tokens), stats \(withStats)")
                        if withStats {
                            #expect(stats[t].map(\.bitPattern) == expectedStats[t].map(\.bitPattern), "ISA \(isa), token \(t) stats")
                        }
                    }
                }
            }
        }
    }
}
