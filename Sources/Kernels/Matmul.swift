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
        pool.parallel(items: tokens) { t, _ in
            ss_quantize_act(x + t * cols, Int64(cols), q + t * rowBytes)
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
    /// Items are fixed row ranges; each output element is computed with a fixed arithmetic
    /// order whichever thread computes it (a one-token product may compute an item twice and
    /// keep one copy, see ``ThreadPool/parallelSpeculative(items:itemFloats:_:)``), so results
    /// are bit-identical for any thread count and schedule.
    public static func run(
        _ products: [Product], x: UnsafePointer<Float>, q: UnsafeRawPointer?, tokens: Int, pool: ThreadPool
    ) {
        // Items of a few row tiles each, about `itemsPerThread` per thread, never spanning two
        // products: small enough that a descheduled thread leaves little for the others to wait
        // for, large enough that claiming them costs little.
        let itemsPerThread = 6
        var totalTiles = 0
        for p in products { totalTiles += (p.matrix.rows + p.matrix.rowGranularity - 1) / p.matrix.rowGranularity }
        let tilesPerItem = max(1, totalTiles / max(1, pool.threadCount * itemsPerThread))
        var items: [(product: Int, rows: Range<Int>)] = []
        items.reserveCapacity(totalTiles / tilesPerItem + products.count)
        for (index, p) in products.enumerated() {
            let step = tilesPerItem * p.matrix.rowGranularity
            var start = 0
            while start < p.matrix.rows {
                items.append((index, start..<min(p.matrix.rows, start + step)))
                start += step
            }
        }
        // One token (decode): items are small and many jobs run back to back, so they run
        // speculatively and a descheduled thread cannot hold up the job (see ThreadPool).
        if tokens == 1 {
            var itemFloats = 0
            for item in items { itemFloats = max(itemFloats, item.rows.count) }
            pool.parallelSpeculative(items: items.count, itemFloats: itemFloats) { [items] item, _, scratch in
                let (index, rows) = items[item]
                let p = products[index]
                p.matrix.multiply(x: x, q: q, tokens: 1, rowRange: rows, out: scratch - rows.lowerBound, ldo: rows.count)
                return UnsafeMutableBufferPointer(start: p.out + rows.lowerBound, count: rows.count)
            }
            return
        }
        items.withUnsafeBufferPointer { items in
            pool.parallel(items: items.count) { item, _ in
                let (index, rows) = items[item]
                let p = products[index]
                p.matrix.multiply(x: x, q: q, tokens: tokens, rowRange: rows, out: p.out, ldo: p.matrix.rows)
            }
        }
    }
}
