import CKernels

/// Matrix products over a thread pool: activations quantized once, rows split statically.
public enum Matmul {
    /// Bytes of one quantized activation row of `cols` floats.
    public static func quantizedRowBytes(_ cols: Int) -> Int { Int(ss_act_row_bytes(Int64(cols))) }

    /// Quantizes `tokens` rows of `cols` floats into `q` (each row by one thread, fixed split).
    public static func quantize(
        _ x: UnsafePointer<Float>, tokens: Int, cols: Int, into q: UnsafeMutableRawPointer, pool: ThreadPool
    ) {
        let rowBytes = quantizedRowBytes(cols)
        let parts = pool.threadCount
        if tokens < parts * 2 {
            for t in 0..<tokens { ss_quantize_act(x + t * cols, Int64(cols), q + t * rowBytes) }
            return
        }
        pool.run { index in
            for t in ThreadPool.share(of: tokens, parts: parts, index: index) {
                ss_quantize_act(x + t * cols, Int64(cols), q + t * rowBytes)
            }
        }
    }

    /// One product in a batch: weights and where their output goes (`tokens × matrix.rows`).
    public struct Product {
        public let matrix: WeightMatrix
        public let out: UnsafeMutablePointer<Float>
        public init(_ matrix: WeightMatrix, _ out: UnsafeMutablePointer<Float>) {
            self.matrix = matrix
            self.out = out
        }
    }

    /// Runs several products that share the same input in one parallel job.
    ///
    /// Each thread takes the same share of every matrix's rows; each output element is computed
    /// by exactly one thread with a fixed arithmetic order, so results are bit-identical for any
    /// thread count.
    public static func run(
        _ products: [Product], x: UnsafePointer<Float>, q: UnsafeRawPointer?, tokens: Int, pool: ThreadPool
    ) {
        let parts = pool.threadCount
        pool.run { index in
            for p in products {
                let rows = ThreadPool.share(of: p.matrix.rows, parts: parts, index: index,
                                            granularity: p.matrix.rowGranularity)
                p.matrix.multiply(x: x, q: q, tokens: tokens, rowRange: rows, out: p.out, ldo: p.matrix.rows)
            }
        }
    }
}
