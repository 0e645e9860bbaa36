import Foundation

/// A linear or logarithmic axis mapping data values to pixels, with "nice" tick values.
struct ChartAxis {
    let lower: Double
    let upper: Double
    let logScale: Bool
    let ticks: [Double]

    /// Maps `value` to a fraction 0…1 of the axis (outside for out-of-domain values).
    func fraction(_ value: Double) -> Double {
        if logScale {
            let lo = log10(lower), hi = log10(upper)
            return hi > lo ? (log10(value) - lo) / (hi - lo) : 0.5
        }
        return upper > lower ? (value - lower) / (upper - lower) : 0.5
    }

    /// A step of 1, 2 or 5 × 10^k close to `span / target`.
    static func niceStep(span: Double, target: Int) -> Double {
        let raw = span / Double(max(target, 1))
        guard raw > 0, raw.isFinite else { return 1 }
        let magnitude = pow(10, floor(log10(raw)))
        let residual = raw / magnitude
        let factor: Double = residual < 1.5 ? 1 : residual < 3 ? 2 : residual < 7 ? 5 : 10
        return factor * magnitude
    }

    /// Linear axis over [lo, hi] (data extent) widened to whole steps, with ticks at each step.
    static func linear(lo: Double, hi: Double, target: Int = 6, minStep: Double = 0, widen: Bool = true) -> ChartAxis {
        var lo = lo, hi = hi
        if hi <= lo { let pad = max(abs(lo) * 0.1, 1); lo -= pad; hi += pad }
        let step = max(niceStep(span: hi - lo, target: target), minStep)
        let first = (lo / step).rounded(.down) * step
        let last = (hi / step).rounded(.up) * step
        let axisLo = widen ? first : lo
        let axisHi = widen ? last : hi
        var ticks: [Double] = []
        var k = 0.0
        while true {
            let t = first + k * step
            if t > axisHi + step * 1e-9 || ticks.count > 100 { break }
            if t >= axisLo - step * 1e-9 { ticks.append(abs(t) < step * 1e-9 ? 0 : t) }
            k += 1
        }
        return ChartAxis(lower: axisLo, upper: axisHi, logScale: false, ticks: ticks)
    }

    /// Log axis over positive [lo, hi], padded slightly, with ticks at 1-2-5 style mantissas;
    /// falls back to linear nice values when the extent is too narrow for those.
    static func logarithmic(lo: Double, hi: Double) -> ChartAxis {
        var lo = lo, hi = hi
        if hi <= lo { lo /= 1.1; hi *= 1.1 }
        let pad = pow(hi / lo, 0.06)
        let axisLo = lo / pad, axisHi = hi * pad
        let mantissaSets: [[Double]] = [[1], [1, 2, 5], [1, 1.5, 2, 3, 5, 7], [1, 1.5, 2, 2.5, 3, 4, 5, 6, 7, 8, 9]]
        for set in mantissaSets {
            var ticks: [Double] = []
            var exponent = floor(log10(axisLo))
            while exponent <= ceil(log10(axisHi)) {
                for m in set {
                    let t = m * pow(10, exponent)
                    if t >= axisLo, t <= axisHi { ticks.append(t) }
                }
                exponent += 1
            }
            if ticks.count >= 5 || (set.count > 6 && ticks.count >= 2) {
                return ChartAxis(lower: axisLo, upper: axisHi, logScale: true, ticks: thin(ticks, max: 10))
            }
        }
        let linearTicks = linear(lo: axisLo, hi: axisHi, target: 5, widen: false).ticks
        return ChartAxis(lower: axisLo, upper: axisHi, logScale: true, ticks: linearTicks)
    }

    /// Keeps every n-th tick so that at most `max` remain.
    private static func thin(_ ticks: [Double], max: Int) -> [Double] {
        guard ticks.count > max else { return ticks }
        let stride = (ticks.count + max - 1) / max
        return ticks.enumerated().filter { $0.offset % stride == 0 }.map(\.element)
    }

    /// Token-position label: `0`, `512`, `10k`, `2.5k`, `1.2M`.
    static func tokenLabel(_ v: Double) -> String {
        let a = abs(v)
        func trimmed(_ x: Double) -> String {
            let s = String(format: "%.2f", x)
            var t = s
            while t.hasSuffix("0") { t.removeLast() }
            if t.hasSuffix(".") { t.removeLast() }
            return t
        }
        if a >= 1_000_000 { return trimmed(v / 1_000_000) + "M" }
        if a >= 1000 { return trimmed(v / 1000) + "k" }
        return trimmed(v)
    }

    /// Value label: grouped integer when whole, else up to 3 significant digits.
    static func valueLabel(_ v: Double) -> String {
        if v.rounded() == v, abs(v) < 1e15 { return NumberText.grouped(Int(v)) }
        return String(format: "%.3g", v)
    }
}
