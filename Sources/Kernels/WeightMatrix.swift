import CKernels

/// One weight matrix of the model: `rows` output rows of `cols` inputs, in a ggml block format.
///
/// The ggml-layout bytes stay in the memory-mapped model file; for the fast path the matrix is
/// also repacked once into the interleaved layout of the current CPU's micro-kernel. The matrix
/// owns that packed copy, and is the only place that holds raw pointers into the weights.
public final class WeightMatrix: @unchecked Sendable {
    // @unchecked Sendable: immutable after `pack()`, which the loader calls before sharing.

    /// The tensor's name in the model file.
    public let name: String
    /// ggml type id (see ``TensorFormat/all`` for the ones the kernels read).
    public let typeID: Int32
    /// The kernels' description of `typeID` (nil for a type they cannot read).
    public let format: TensorFormat?
    /// Output rows.
    public let rows: Int
    /// Inputs per row.
    public let cols: Int
    /// Bytes of one row in the ggml layout.
    public let rowBytes: Int
    private let raw: UnsafeRawPointer
    /// The float kernels' instruction-set path, fixed at load so results never change mid-run.
    private let floatISA: Int32 = ss_isa()
    private var packed: UnsafeMutableRawPointer?
    /// Holds `packed` when it was put in an arena; nil when `packed` is a private allocation.
    private var arena: HugePageArena?

    /// Wraps ggml-layout weight bytes that outlive this object (e.g. a memory-mapped file).
    public init(name: String, typeID: Int32, rows: Int, cols: Int, rowBytes: Int, bytes: UnsafeRawPointer) {
        self.name = name
        self.typeID = typeID
        self.format = TensorFormat.of(typeID)
        self.rows = rows
        self.cols = cols
        self.rowBytes = rowBytes
        self.raw = bytes
    }

    deinit { if arena == nil { packed?.deallocate() } }

    /// Whether the integer (fast) kernels can use this matrix: its format has packed kernels and
    /// the row length is a multiple of its block.
    public var isQuantized: Bool {
        guard let format, format.hasPackedKernels else { return false }
        return format.acceptsRowLength(cols)
    }

    /// Bytes the packed copy needs (0 for float types).
    public var packedSize: Int { isQuantized ? ss_packed_size(typeID, Int64(rows), Int64(cols)) : 0 }

    /// Repacks the weights for the fast kernels (no-op for float types or when already packed).
    ///
    /// - Parameter arena: where to put the packed copy (kept alive by this matrix); a private
    ///   allocation when nil or full.
    public func pack(into arena: HugePageArena? = nil) {
        guard isQuantized, packed == nil else { return }
        let size = packedSize
        guard size > 0 else { return }
        if let arena, let slot = arena.allocate(size) {
            if ss_pack(typeID, raw, Int64(rows), Int64(cols), slot) == 1 {
                packed = slot
                self.arena = arena
            }
        } else {
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: max(size, 64), alignment: 64)
            if ss_pack(typeID, raw, Int64(rows), Int64(cols), buffer) == 1 {
                packed = buffer
            } else {
                buffer.deallocate()
            }
        }
    }

    /// Row multiple to use when splitting rows between threads.
    public var rowGranularity: Int { isQuantized ? Int(ss_row_granularity(typeID)) : 1 }

    /// Bytes held by the packed copy.
    public var packedBytes: Int { packed == nil ? 0 : packedSize }

    /// Dequantizes row `row` into `out` (`cols` floats).
    public func dequantizeRow(_ row: Int, into out: UnsafeMutablePointer<Float>) {
        ss_dequantize_row(typeID, raw + row * rowBytes, Int64(cols), out)
    }

    /// `out[t*ldo + r] = Σ_k W[r][k] · x[t][k]` for `r` in `rowRange`, `t` in `0..<tokens`.
    ///
    /// - Parameters:
    ///   - x: float activations, `tokens × cols` (used by the f32 path and for float weights).
    ///   - q: the same activations quantized with ``Matmul/quantize`` (used by the fast path).
    @inline(__always)
    public func multiply(
        x: UnsafePointer<Float>, q: UnsafeRawPointer?, tokens: Int, rowRange: Range<Int>,
        out: UnsafeMutablePointer<Float>, ldo: Int
    ) {
        if rowRange.isEmpty { return }
        if let packed, let q {
            ss_gemm_q(typeID, packed, Int64(rows), Int64(cols), q, Int64(tokens), out, Int64(ldo),
                      Int64(rowRange.lowerBound), Int64(rowRange.upperBound))
        } else {
            ss_gemm_f32_isa(floatISA, typeID, raw, Int64(rows), Int64(cols), x, Int64(tokens), out, Int64(ldo),
                        Int64(rowRange.lowerBound), Int64(rowRange.upperBound))
        }
    }
}
