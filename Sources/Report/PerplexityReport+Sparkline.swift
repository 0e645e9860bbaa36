import Foundation

extension PerplexityReport {
    /// The eight block glyphs, lowest first.
    public static let sparkGlyphs: [Character] = ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"]

    /// Draws values as a one-line sparkline of exactly `width` characters.
    ///
    /// Values are resampled to `width`: averaged over equal index bins when there are more values
    /// than characters, repeated (nearest value) when there are fewer. The lowest finite value maps
    /// to `▁` and the highest to `█`; a constant series is all `▁`; NaN, infinities (and values ≤ 0
    /// on a log scale) print as a space. Monotone input gives monotone glyphs.
    /// - Parameters:
    ///   - values: e.g. per-bucket perplexity.
    ///   - width: characters to produce (≤ 0 gives an empty string).
    ///   - logScale: place values by their logarithm.
    public static func sparkline(_ values: [Double], width: Int, logScale: Bool = false) -> String {
        guard width > 0 else { return "" }
        guard !values.isEmpty else { return String(repeating: " ", count: width) }
        let mapped = values.map { v -> Double in
            guard v.isFinite else { return .nan }
            if logScale { return v > 0 ? log(v) : .nan }
            return v
        }
        let resampled = resample(mapped, to: width)
        let finite = resampled.filter(\.isFinite)
        guard let lo = finite.min(), let hi = finite.max() else { return String(repeating: " ", count: width) }
        let top = Double(sparkGlyphs.count - 1)
        return String(resampled.map { v -> Character in
            guard v.isFinite else { return " " }
            guard hi > lo else { return sparkGlyphs[0] }
            let level = Int(((v - lo) / (hi - lo) * top).rounded())
            return sparkGlyphs[min(max(level, 0), sparkGlyphs.count - 1)]
        })
    }

    /// Resamples to `width` points: bin means (skipping non-finite values) or nearest neighbours.
    static func resample(_ values: [Double], to width: Int) -> [Double] {
        let n = values.count
        guard n != width else { return values }
        if n < width {
            return (0..<width).map { values[$0 * n / width] }
        }
        return (0..<width).map { i in
            let lo = i * n / width
            let hi = max(lo + 1, (i + 1) * n / width)
            var sum = 0.0
            var count = 0
            for v in values[lo..<hi] where v.isFinite {
                sum += v
                count += 1
            }
            return count == 0 ? .nan : sum / Double(count)
        }
    }
}
