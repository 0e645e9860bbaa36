#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Model
import Report
import Store

/// Resident memory over a long scoring run: a real ``ScoreRun`` (store, checkpoints, metric
/// buckets, the reader) sampled every so many tokens, for `bench-runs --memory-curve`.
public enum MemoryCurve {
    public struct Sample: Sendable, Codable, Equatable {
        /// Tokens scored when the sample was taken.
        public var tokens: Int
        /// Seconds since the run started.
        public var seconds: Double
        /// Resident set size at that moment (`/proc/self/statm`).
        public var residentBytes: Int
        /// Peak resident set size so far (`getrusage`).
        public var peakBytes: Int64

        public init(tokens: Int, seconds: Double, residentBytes: Int, peakBytes: Int64) {
            self.tokens = tokens
            self.seconds = seconds
            self.residentBytes = residentBytes
            self.peakBytes = peakBytes
        }
    }

    /// How flat a curve is after a warm-up.
    public struct Flatness: Sendable, Codable, Equatable {
        /// Tokens before which samples are ignored.
        public var after: Int
        public var minResident: Int
        public var maxResident: Int
        /// `(max − min) / min` of the resident samples after the warm-up.
        public var spread: Double
        /// Peak resident memory at the first sample after the warm-up and at the last sample.
        public var peakAtWarmup: Int64
        public var peakAtEnd: Int64
        /// `peakAtEnd / peakAtWarmup − 1`.
        public var peakGrowth: Double
    }

    /// Scores a run until its document or token limit ends, calling `onSample` every `every`
    /// tokens (and once at the end).
    /// A resumed run carries on its curve: samples continue at the next multiple of `every`
    /// after the tokens already scored, their seconds counted from `secondsBefore`.
    public static func run(_ run: ScoreRun, every: Int, secondsBefore: Double = 0, onSample: (Sample) -> Void) throws {
        let start = Date()
        var next = (run.scored / every + 1) * every
        var last = run.scored
        func sample(_ tokens: Int) {
            onSample(Sample(tokens: tokens, seconds: secondsBefore + Date().timeIntervalSince(start),
                            residentBytes: ProcessMemory.residentBytes(), peakBytes: ProcessMemory.peakBytes()))
            last = tokens
        }
        _ = try run.run(progress: { p in
            if p.scored >= next {
                sample(p.scored)
                while next <= p.scored { next += every }
            }
        })
        if run.scored != last { sample(run.scored) }
    }

    /// The spread of the resident samples taken at or after `after` tokens (nil when none is).
    public static func flatness(_ samples: [Sample], after: Int) -> Flatness? {
        let tail = samples.filter { $0.tokens >= after }
        guard let first = tail.first, let last = tail.last else { return nil }
        let lo = tail.map(\.residentBytes).min()!, hi = tail.map(\.residentBytes).max()!
        return Flatness(after: after, minResident: lo, maxResident: hi, spread: Double(hi - lo) / Double(max(lo, 1)),
                        peakAtWarmup: first.peakBytes, peakAtEnd: last.peakBytes,
                        peakGrowth: Double(last.peakBytes) / Double(max(first.peakBytes, 1)) - 1)
    }

    public static let csvHeader = "tokens,seconds,resident_bytes,peak_bytes"

    public static func csvLine(_ s: Sample) -> String {
        String(format: "%d,%.3f,%d,%lld", s.tokens, s.seconds, s.residentBytes, s.peakBytes)
    }

    /// Reads samples back from ``csvLine(_:)`` lines (the header and malformed lines are skipped).
    public static func parseCSV(_ text: String) -> [Sample] {
        text.split(separator: "\n").compactMap { line in
            let f = line.split(separator: ",")
            guard f.count == 4, let t = Int(f[0]), let s = Double(f[1]), let r = Int(f[2]), let p = Int64(f[3]) else { return nil }
            return Sample(tokens: t, seconds: s, residentBytes: r, peakBytes: p)
        }
    }

    /// A line chart of resident (and peak) memory in MiB over tokens scored.
    public static func svg(_ samples: [Sample], title: String, subtitle: String) -> String {
        let mib = 1_048_576.0
        return LineChart.svg([
            .init(name: "resident", points: samples.map { (Double($0.tokens), Double($0.residentBytes) / mib) }),
            .init(name: "peak so far", points: samples.map { (Double($0.tokens), Double($0.peakBytes) / mib) }),
        ], title: title, subtitle: subtitle, xLabel: "tokens scored", yLabel: "MiB")
    }
}
