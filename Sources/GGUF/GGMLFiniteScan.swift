/// Finds NaN or infinite values in encoded tensor data without decoding it.
///
/// Float types are checked element by element; quantized types by the f16 fields of each
/// block (the scale `d`, and the minimum `m`/`dmin` of Q4_1, Q5_1, Q2_K, Q4_K, Q5_K), since
/// with finite f16 fields every decoded value is finite. Only the exponent
/// bits are inspected, so a scan reads each byte once (about 1 GB/s on one core).
public enum GGMLFiniteScan {
    /// The first non-finite value in `count` elements of `type` at `data`, or nil.
    ///
    /// - Parameters:
    ///   - data: the tensor's bytes; a buffer shorter than `count` elements needs is scanned
    ///     only as far as it goes.
    ///   - type: the element type.
    ///   - count: the number of elements.
    /// - Returns: the index of the first element affected (for quantized types the first
    ///   element of the block whose scale is not finite) and the non-finite value.
    public static func firstNonFinite(
        _ data: UnsafeRawBufferPointer, type: GGMLType, count: Int
    ) -> (element: Int, value: Float)? {
        guard let base = data.baseAddress, count > 0 else { return nil }
        let blocks = min((count + type.blockSize - 1) / type.blockSize, data.count / type.bytesPerBlock)
        switch type {
        case .f32:
            for i in 0..<blocks {
                let bits = base.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)
                if bits & 0x7F80_0000 == 0x7F80_0000 { return (i, Float(bitPattern: bits)) }
            }
        case .f16:
            for i in 0..<blocks where isNonFiniteHalf(base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) {
                return (i, half(base, 2 * i))
            }
        case .bf16:
            for i in 0..<blocks {
                let bits = base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)
                if bits & 0x7F80 == 0x7F80 { return (i, Float(bitPattern: UInt32(bits) << 16)) }
            }
        default:
            // The f16 fields of every block (scale `d`, and `m`/`dmin` where the type has one,
            // at the offsets of the type table); the integer sub-scales cannot be non-finite.
            let layout = type.layout
            let fields = layout.halfFieldOffsets
            for block in 0..<blocks {
                let offset = block * layout.bytesPerBlock
                for field in fields
                where isNonFiniteHalf(base.loadUnaligned(fromByteOffset: offset + field, as: UInt16.self)) {
                    return (block * layout.blockSize, half(base, offset + field))
                }
            }
        }
        return nil
    }

    @inline(__always)
    private static func isNonFiniteHalf(_ bits: UInt16) -> Bool {
        bits & 0x7C00 == 0x7C00
    }

    private static func half(_ base: UnsafeRawPointer, _ offset: Int) -> Float {
        GGMLDequantize.dequantize(
            UnsafeRawBufferPointer(start: base + offset, count: 2), type: .f16, count: 1).first ?? .nan
    }
}
