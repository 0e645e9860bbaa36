import CKernels

/// Single-thread speed of the quantized GEMM kernels, per instruction-set path.
public enum KernelBenchmark {
    /// One measured kernel: a weight type and shape on one instruction-set path.
    public struct Figure: Sendable, Codable, Equatable {
        /// Instruction-set path (`scalar`, `avx2`, `avxvnni`, `avx512vnni`).
        public var isa: String
        /// Weight format (`q4_0`, `q4_1`, `q8_0`).
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

    /// The shapes of a SmolLM2-135M forward pass: a feed-forward product at decode (1 token) and
    /// prefill (64 tokens) sizes, and a slice of the Q8_0 vocabulary output.
    public static let defaultShapes: [Shape] = [
        Shape(typeID: 3, rows: 1536, cols: 576, tokens: 1),
        Shape(typeID: 3, rows: 1536, cols: 576, tokens: 64),
        Shape(typeID: 8, rows: 4096, cols: 576, tokens: 1),
        Shape(typeID: 8, rows: 4096, cols: 576, tokens: 64),
    ]

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
        switch id {
        case 2: "q4_0"
        case 3: "q4_1"
        case 8: "q8_0"
        default: "type\(id)"
        }
    }
}
