import CKernels

/// Single-thread speed of the quantized GEMM kernels, per instruction-set path.
public enum KernelBenchmark {
    /// One measured kernel: a weight type and shape on one instruction-set path.
    public struct Figure: Sendable, Codable, Equatable {
        /// Instruction-set path (`scalar`, `avx2`, `avxvnni`, `avx512vnni`).
        public var isa: String
        /// Weight format (``TensorFormat/name``: `q4_1`, `q4_k`, …).
        public var type: String
        public var rows: Int
        public var cols: Int
        public var tokens: Int
        /// Giga-operations per second (2 per multiply-add), best of the repetitions.
        public var gops: Double
    }

    /// A benchmarked product shape.
    public struct Shape: Sendable {
        public var typeID: Int32
        public var rows: Int
        public var cols: Int
        public var tokens: Int
        public init(typeID: Int32, rows: Int, cols: Int, tokens: Int) {
            self.typeID = typeID
            self.rows = rows
            self.cols = cols
            self.tokens = tokens
        }
    }

    /// Feed-forward products of a SmolLM2-135M forward pass for every format with packed
    /// kernels, at decode (1 token) and prefill (64 tokens) sizes: the up projection
    /// (1536 x 576) for 32-element formats, the down projection (576 x 1536, rows a multiple of
    /// 256) for K-quants and IQ4_XS — the same multiply-adds, so the figures compare directly.
    public static let defaultShapes: [Shape] = TensorFormat.all.filter(\.hasPackedKernels).flatMap { format in
        let (rows, cols) = format.blockElements == 256 ? (576, 1536) : (1536, 576)
        return [1, 64].map { Shape(typeID: format.typeID, rows: rows, cols: cols, tokens: $0) }
    }

    /// Measures every shape on every instruction-set path this CPU supports.
    ///
    /// Temporarily switches the process-wide kernel selection; do not run it while a forward pass
    /// runs (matrices already packed keep their own path).
    /// - Parameter budget: multiply-adds per measurement (more is steadier and slower).
    public static func measure(shapes: [Shape] = defaultShapes, budget: Int = 200_000_000) -> [Figure] {
        let original = ss_isa()
        defer { _ = ss_set_isa(original) }
        var figures: [Figure] = []
        for isa in [SS_ISA_SCALAR, SS_ISA_AVX2, SS_ISA_AVXVNNI, SS_ISA_AVX512VNNI] where ss_isa_supported(isa) == 1 {
            guard ss_set_isa(isa) == 1 else { continue }
            for shape in shapes {
                let work = shape.rows * shape.cols * shape.tokens
                // The scalar path is ~50x slower: give it a smaller share of the budget.
                let scaled = isa == SS_ISA_SCALAR ? budget / 20 : budget
                let iterations = Int32(max(2, min(1000, scaled / max(1, work))))
                let gops = ss_bench_gemm(shape.typeID, Int64(shape.rows), Int64(shape.cols), Int64(shape.tokens), iterations, 0)
                guard gops > 0 else { continue }
                figures.append(Figure(isa: String(cString: ss_isa_name(isa)), type: typeName(shape.typeID),
                                      rows: shape.rows, cols: shape.cols, tokens: shape.tokens, gops: gops))
            }
        }
        return figures
    }

    static func typeName(_ id: Int32) -> String {
        TensorFormat.of(id)?.name ?? "type\(id)"
    }
}
