/// Scalar reference dequantization of ggml rows into `Float`.
public enum GGMLDequantize {
    /// Decodes `count` elements of `type` starting at `src` into `into`.
    ///
    /// Values: Q8_0 `d·q`; Q4_0 `d·(q − 8)`; Q4_1 `d·q + m`; F16/BF16 widened; F32 copied.
    /// For quantized types `src` must hold `ceil(count / 32)` blocks; only `count` outputs are written.
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
        case .q8_0:
            forEachBlock(count: count) { block, n in
                let base = block * 34
                let d = GGMLFloat.f16ToF32(half(src, base))
                for j in 0..<n {
                    let q = Int8(bitPattern: src.load(fromByteOffset: base + 2 + j, as: UInt8.self))
                    dst[block * 32 + j] = d * Float(q)
                }
            }
        case .q4_0:
            forEachBlock(count: count) { block, n in
                let base = block * 18
                let d = GGMLFloat.f16ToF32(half(src, base))
                for j in 0..<n {
                    let q = nibble(src, blockQs: base + 2, element: j)
                    dst[block * 32 + j] = d * Float(q - 8)
                }
            }
        case .q4_1:
            forEachBlock(count: count) { block, n in
                let base = block * 20
                let d = GGMLFloat.f16ToF32(half(src, base))
                let m = GGMLFloat.f16ToF32(half(src, base + 2))
                for j in 0..<n {
                    let q = nibble(src, blockQs: base + 4, element: j)
                    dst[block * 32 + j] = d * Float(q) + m
                }
            }
        }
    }

    /// Decodes `count` elements into a new array.
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

    @inline(__always)
    private static func half(_ src: UnsafeRawPointer, _ offset: Int) -> UInt16 {
        UInt16(littleEndian: src.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    @inline(__always)
    private static func nibble(_ src: UnsafeRawPointer, blockQs: Int, element j: Int) -> Int {
        let byte = src.load(fromByteOffset: blockQs + (j & 15), as: UInt8.self)
        return Int(j < 16 ? byte & 0x0f : byte >> 4)
    }

    @inline(__always)
    private static func forEachBlock(count: Int, _ body: (_ block: Int, _ elements: Int) -> Void) {
        var block = 0
        while block * 32 < count {
            body(block, min(32, count - block * 32))
            block += 1
        }
    }
}
