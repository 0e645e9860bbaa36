import CKernels
import Foundation
import GGUF
import Kernels
import TestSupport
import Testing

// Tests of the kernels of the formats real GGUF files mix into one layer (Q5_0, Q5_1, Q2_K..Q6_K,
// IQ4_NL, IQ4_XS): dequantization against gguf-python, the float path against a Double
// reference, and the packed integer kernels of every ISA this machine has against the scalar
// reference (bit for bit) and the scalar reference against the float dot product.

/// The formats with the generic packed kernels.
let newQuantTypes: [Int32] = [
    SS_TYPE_Q5_0, SS_TYPE_Q5_1, SS_TYPE_Q2_K, SS_TYPE_Q3_K, SS_TYPE_Q4_K, SS_TYPE_Q5_K, SS_TYPE_Q6_K,
    SS_TYPE_IQ4_NL, SS_TYPE_IQ4_XS,
]

/// Byte offsets of the f16 scale / min fields in one ggml block of `type` (GGMLType's layout).
private func f16Fields(_ type: Int32) -> [Int] {
    TensorFormat.of(type)!.type.layout.halfFieldOffsets
}

/// A rows x cols matrix of random ggml blocks (every bit pattern of quants and integer scales)
/// with f16 scales of either sign around 0.01; `fill` replaces the random bits by a constant.
private func randomBlocks(_ type: Int32, rows: Int, cols: Int, _ rng: inout SplitMix, fill: UInt8? = nil) -> [UInt8] {
    let format = TensorFormat.of(type)!
    let count = Int(ss_row_bytes(type, Int64(cols))) * rows
    var w = (0..<count).map { _ in fill ?? UInt8(truncatingIfNeeded: rng.next()) }
    for b in stride(from: 0, to: count, by: format.blockBytes) {
        for o in f16Fields(type) {
            let h = fill != nil ? f16Bits(0.01) : f16Bits(rng.float(0.002, 0.02) * (rng.int(2) == 0 ? 1 : -1))
            w[b + o] = UInt8(h & 0xff)
            w[b + o + 1] = UInt8(h >> 8)
        }
    }
    return w
}

/// Row `r` of a ggml matrix, dequantized by ss_dequantize_row (checked against gguf-python).
private func dequantized(_ type: Int32, _ w: [UInt8], cols: Int, row r: Int) -> [Float] {
    var out = [Float](repeating: .nan, count: cols)
    let rowBytes = Int(ss_row_bytes(type, Int64(cols)))
    w.withUnsafeBytes { ss_dequantize_row(type, $0.baseAddress! + r * rowBytes, Int64(cols), &out) }
    return out
}

/// The blocks with their f16 scale and min made positive (and a K type's dmin negative, as it is
/// subtracted), so that each dequantized weight is |scale part| + |min part|: the magnitude of
/// what the kernels add, even where the two cancel.
private func magnitudeBlocks(_ type: Int32, _ w: [UInt8]) -> [UInt8] {
    let format = TensorFormat.of(type)!, fields = f16Fields(type)
    var m = w
    for b in stride(from: 0, to: w.count, by: format.blockBytes) {
        m[b + fields[0] + 1] &= 0x7f
        if fields.count > 1 {
            if type == SS_TYPE_Q5_1 { m[b + fields[1] + 1] &= 0x7f } else { m[b + fields[1] + 1] |= 0x80 }
        }
    }
    return m
}

/// Double reference of the quantized GEMM: dequantized weights times dequantized activation
/// quants, and the sum of the magnitudes of the terms (the error scale).
private func quantizedReference(_ type: Int32, _ w: [UInt8], rows: Int, cols: Int, acts: [UInt8], ntok: Int)
    -> (value: [Double], magnitude: [Double]) {
    var value = [Double](repeating: 0, count: ntok * rows), magnitude = value
    let blocks = (0..<ntok).map { actBlocks(acts, cols: cols, token: $0) }
    let wm = magnitudeBlocks(type, w)
    for r in 0..<rows {
        let wr = dequantized(type, w, cols: cols, row: r), wa = dequantized(type, wm, cols: cols, row: r)
        for t in 0..<ntok {
            var acc = 0.0, mag = 0.0
            for k in 0..<cols {
                let a = blocks[t][k / 32]
                let term = Double(wr[k]) * Double(a.d) * Double(a.q[k % 32])
                acc += term
                mag += abs(Double(wa[k]) * Double(a.d) * Double(a.q[k % 32]))
            }
            value[t * rows + r] = acc
            magnitude[t * rows + r] = mag
        }
    }
    return (value, magnitude)
}

/// Runs the packed GEMM of every supported ISA on one problem: each result must equal the scalar
/// path's bits, and the scalar path must be within 1e-5 of the terms' magnitude of `reference`.
private func checkPackedGEMM(_ type: Int32, _ w: [UInt8], rows: Int, cols: Int, acts: [UInt8], ntok: Int, label: String) {
    let (ref, mag) = quantizedReference(type, w, rows: rows, cols: cols, acts: acts, ntok: ntok)
    var scalar: [Float]?
    for isa in supportedISAs {
        let out: [Float] = withISA(isa) {
            let packed = pack(type, w, rows: rows, cols: cols)
            #expect(ss_packed_isa(packed) == isa)
            var out = [Float](repeating: .nan, count: ntok * rows)
            gemmQ(type, packed, rows: rows, cols: cols, acts: acts, ntok: ntok, out: &out, ldo: rows, rb: 0, re: rows)
            return out
        }
        if let scalar {
            let differ = (0..<out.count).filter { out[$0].bitPattern != scalar[$0].bitPattern }
            #expect(differ.isEmpty, "\(label) isa \(isa): \(differ.count) values differ from scalar, first \(differ.first.map { "\(out[$0]) vs \(scalar[$0])" } ?? "")")
        } else {
            let bad = (0..<out.count).filter { !(abs(Double(out[$0]) - ref[$0]) <= 1e-5 * mag[$0] + 1e-30) }
            #expect(bad.isEmpty, "\(label) scalar: \(bad.count) values off the float reference, first \(bad.first.map { "\(out[$0]) vs \(ref[$0])" } ?? "")")
            scalar = out
        }
    }
}

@Suite("CKernels formats", .serialized)
struct KQuantKernelsTests {
    @Test("Row dequantization equals gguf-python 0.19.0 bit for bit (the GGUF module's fixture of random blocks)")
    func dequantizeMatchesGGUFPython() throws {
        // The same fixture the GGUF module's Swift dequantization is checked against.
        let json = try Fixtures.json("dequant_gguf_0.19.0.json")
        let cases = try #require(json["dequantize"] as? [[String: Any]])
        var seen = Set<Int32>()
        for c in cases {
            let type = try #require(c["type_id"] as? NSNumber).int32Value, n = try #require(c["elements"] as? NSNumber).intValue
            guard try #require(c["block_size"] as? NSNumber).intValue > 1 else { continue }  // float types: no C decoder
            let hex = try #require(c["data_hex"] as? String), expected = try #require(c["expected_f32_bits"] as? [NSNumber])
            var bytes: [UInt8] = []
            var index = hex.startIndex
            while index < hex.endIndex {
                let next = hex.index(index, offsetBy: 2)
                bytes.append(UInt8(hex[index..<next], radix: 16)!)
                index = next
            }
            #expect(Int(ss_row_bytes(type, Int64(n))) == bytes.count, "type \(type)")
            var out = [Float](repeating: .nan, count: n)
            ss_dequantize_row(type, bytes, Int64(n), &out)
            let differ = (0..<n).filter { out[$0].bitPattern != expected[$0].uint32Value }
            #expect(differ.isEmpty, "type \(type): \(differ.count) of \(n) values differ")
            seen.insert(type)
        }
        #expect(Set(newQuantTypes).isSubset(of: seen))
    }

    @Test("Packed GEMM: every ISA equals scalar bit for bit, scalar matches the float dot of dequantized weights, ragged shapes",
          arguments: newQuantTypes)
    func packedGEMM(type: Int32) {
        var rng = SplitMix(state: 31 + UInt64(type))
        let qk = TensorFormat.of(type)!.blockElements
        let colsList = [qk, 2 * qk, 3 * qk, 6 * qk] + (qk == 32 ? [896] : [])
        for (ri, rows) in [1, 7, 33, 50].enumerated() {
            for (ci, cols) in colsList.enumerated() {
                let ntok = [1, 3, 5, 9, 17, 64][(ri + 2 * ci) % 6]
                let w = randomBlocks(type, rows: rows, cols: cols, &rng)
                var x = rng.floats(ntok * cols, scale: 2)
                for k in stride(from: 5, to: x.count, by: 97) { x[k] *= 40 }  // outliers, as in Gemma 3
                let acts = quantizeActs(x, cols: cols, ntok: ntok)
                checkPackedGEMM(type, w, rows: rows, cols: cols, acts: acts, ntok: ntok, label: "type \(type) \(rows)x\(cols) ntok \(ntok)")
            }
        }
    }

    @Test("Packed GEMM at the extremes of every stored value and activation quant does not saturate", arguments: newQuantTypes)
    func packedGEMMExtremes(type: Int32) {
        var rng = SplitMix(state: 3)
        let rows = 9, cols = TensorFormat.of(type)!.blockElements * 2
        for fill: UInt8 in [0x00, 0xff, 0x55] {
            let w = randomBlocks(type, rows: rows, cols: cols, &rng, fill: fill)
            for pattern in 0..<3 {
                let x = (0..<cols).map { k -> Float in pattern == 0 ? 1 : pattern == 1 ? -1 : (k / 2 % 2 == 0 ? 1 : -1) }
                let acts = quantizeActs(x, cols: cols, ntok: 1)
                checkPackedGEMM(type, w, rows: rows, cols: cols, acts: acts, ntok: 1, label: "type \(type) fill \(fill) pattern \(pattern)")
            }
        }
    }

    @Test("Packed GEMM is bit-identical across row splits, token windows and ldo", arguments: newQuantTypes)
    func packedGEMMDeterminism(type: Int32) {
        var rng = SplitMix(state: 777 + UInt64(type))
        let qk = TensorFormat.of(type)!.blockElements
        let rows = 203, cols = qk == 256 ? 1536 : 896, ntok = 70, ldo = 211
        let w = randomBlocks(type, rows: rows, cols: cols, &rng)
        let acts = quantizeActs(rng.floats(ntok * cols), cols: cols, ntok: ntok)
        for isa in supportedISAs {
            withISA(isa) {
                let packed = pack(type, w, rows: rows, cols: cols)
                var full = [Float](repeating: .nan, count: ntok * ldo)
                gemmQ(type, packed, rows: rows, cols: cols, acts: acts, ntok: ntok, out: &full, ldo: ldo, rb: 0, re: rows)
                for (t0, n) in [(0, 1), (69, 1), (3, 17), (40, 30), (1, 66)] {
                    var part = [Float](repeating: .nan, count: ntok * ldo)
                    gemmQ(type, packed, rows: rows, cols: cols, acts: acts, t0: t0, ntok: n, out: &part, ldo: ldo, rb: 0, re: rows)
                    let same = (t0 * ldo..<(t0 + n) * ldo).allSatisfy { $0 % ldo >= rows || part[$0].bitPattern == full[$0].bitPattern }
                    #expect(same, "type \(type) isa \(isa): tokens \(t0)..<\(t0 + n) differ from the batch")
                }
                for _ in 0..<3 {
                    let cuts = randomSplit(rows, &rng)
                    var split = [Float](repeating: .nan, count: ntok * ldo)
                    for i in 0..<cuts.count - 1 {
                        gemmQ(type, packed, rows: rows, cols: cols, acts: acts, ntok: ntok, out: &split, ldo: ldo, rb: cuts[i], re: cuts[i + 1])
                    }
                    #expect(bitsEqual(split, full), "type \(type) isa \(isa): split \(cuts) differs")
                }
                #expect(full[rows].isNaN && full[ldo - 1].isNaN)
            }
        }
    }

    @Test("Float GEMM matches a Double reference of the dequantized rows on every ISA, split and batch invariant",
          arguments: newQuantTypes)
    func floatGEMM(type: Int32) {
        var rng = SplitMix(state: 555 + UInt64(type))
        let qk = TensorFormat.of(type)!.blockElements
        for (rows, cols, ntok) in [(1, qk, 1), (7, 2 * qk, 3), (19, qk == 256 ? 4864 : 896, 6)] {
            let w = randomBlocks(type, rows: rows, cols: cols, &rng)
            let x = rng.floats(ntok * cols, scale: 2)
            let wr = (0..<rows).map { dequantized(type, w, cols: cols, row: $0) }
            for isa in supportedISAs {
                withISA(isa) {
                    var out = [Float](repeating: .nan, count: ntok * rows)
                    runGemmF32(type, w, rows: rows, cols: cols, x: x, ntok: ntok, out: &out, ldo: rows, rb: 0, re: rows)
                    for r in 0..<rows {
                        for t in 0..<ntok {
                            var ref = 0.0, mag = 0.0
                            for k in 0..<cols {
                                let term = Double(wr[r][k]) * Double(x[t * cols + k])
                                ref += term
                                mag += abs(term)
                            }
                            let got = Double(out[t * rows + r])
                            #expect(abs(got - ref) <= 1e-5 * mag + 1e-30, "type \(type) isa \(isa) \(rows)x\(cols) r \(r) t \(t): \(got) vs \(ref)")
                        }
                    }
                    var single = [Float](repeating: .nan, count: ntok * rows)
                    runGemmF32(type, w, rows: rows, cols: cols, x: x, t0: ntok - 1, ntok: 1, out: &single, ldo: rows, rb: 0, re: rows)
                    #expect((0..<rows).allSatisfy { single[(ntok - 1) * rows + $0].bitPattern == out[(ntok - 1) * rows + $0].bitPattern })
                    var split = [Float](repeating: .nan, count: ntok * rows)
                    runGemmF32(type, w, rows: rows, cols: cols, x: x, ntok: ntok, out: &split, ldo: rows, rb: 0, re: rows / 2)
                    runGemmF32(type, w, rows: rows, cols: cols, x: x, ntok: ntok, out: &split, ldo: rows, rb: rows / 2, re: rows)
                    #expect(bitsEqual(split, out))
                }
            }
        }
    }

    @Test("Rows that are not a multiple of the block are refused by ss_row_bytes, ss_packed_size and ss_pack")
    func badShapes() {
        for type in newQuantTypes {
            let qk = TensorFormat.of(type)!.blockElements
            let bad = qk == 256 ? 896 : 40  // Qwen2.5's width is not a multiple of 256
            #expect(ss_row_bytes(type, Int64(bad)) == 0, "type \(type)")
            for isa in supportedISAs {
                withISA(isa) {
                    #expect(ss_packed_size(type, 4, Int64(bad)) == 0, "type \(type)")
                    #expect(ss_packed_size(type, 0, Int64(qk)) == 0, "type \(type)")
                    var dst = [UInt8](repeating: 0, count: 1 << 16)
                    #expect(ss_pack(type, [UInt8](repeating: 0, count: 1 << 14), 4, Int64(bad), &dst) == 0, "type \(type)")
                    #expect(ss_packed_isa(dst) == -1)
                }
            }
        }
        #expect(ss_row_bytes(SS_TYPE_Q4_K, 512) == 288 && ss_row_bytes(SS_TYPE_Q5_0, 896) == 616)
    }

    @Test("The format table agrees with the C kernels, and WeightMatrix reads it")
    func formatTable() throws {
        for format in TensorFormat.all {
            #expect(Int(ss_row_bytes(format.typeID, Int64(format.blockElements))) == format.blockBytes, "\(format.name)")
            #expect(TensorFormat.named(format.name.uppercased()) == format)
            let packs = ss_packed_size(format.typeID, 3, Int64(max(256, format.blockElements))) > 0
            #expect(packs == format.hasPackedKernels, "\(format.name)")
        }
        #expect(TensorFormat.of(SS_TYPE_Q6_K)?.bitsPerWeight == 6.5625)
        #expect(TensorFormat.of(99) == nil)
        // A Q4_K matrix whose rows are not a multiple of 256 stays on the float path (nothing packed).
        var rng = SplitMix(state: 8)
        let w = randomBlocks(SS_TYPE_Q4_K, rows: 4, cols: 512, &rng)
        try w.withUnsafeBytes { raw in
            let base = try #require(raw.baseAddress)
            let odd = WeightMatrix(name: "odd", typeID: SS_TYPE_Q4_K, rows: 2, cols: 896, rowBytes: 504, bytes: base)
            #expect(!odd.isQuantized && odd.packedSize == 0)
            odd.pack()
            #expect(odd.packedBytes == 0)
            // A valid one: the fast path and the float path agree to quantization accuracy.
            let m = WeightMatrix(name: "w", typeID: SS_TYPE_Q4_K, rows: 4, cols: 512, rowBytes: 288, bytes: base)
            #expect(m.isQuantized && m.format?.name == "q4_k")
            let x = rng.floats(512)
            let q = quantizeActs(x, cols: 512, ntok: 1)
            var fast = [Float](repeating: .nan, count: 4), slow = fast
            x.withUnsafeBufferPointer { xp in
                m.multiply(x: xp.baseAddress!, q: nil, tokens: 1, rowRange: 0..<4, out: &slow, ldo: 4)
                m.pack()
                #expect(m.packedBytes > 0)
                q.withUnsafeBytes { qp in
                    m.multiply(x: xp.baseAddress!, q: qp.baseAddress!, tokens: 1, rowRange: 0..<4, out: &fast, ldo: 4)
                }
            }
            for r in 0..<4 {
                let wr = dequantized(SS_TYPE_Q4_K, w, cols: 512, row: r)
                let scale = zip(wr, x).map { abs(Double($0) * Double($1)) }.reduce(0, +)
                #expect(abs(Double(fast[r]) - Double(slow[r])) <= 0.02 * scale, "row \(r): \(fast[r]) vs \(slow[r])")
            }
        }
    }
}
