import Foundation

extension PerplexityReport {
    /// Distinct line colours (Tableau 10), used in run order.
    public static let svgPalette = [
        "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
        "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
    ]

    /// Draws perplexity over document length as a self-contained SVG document.
    ///
    /// One polyline per run (bucket midpoints, shared bucket boundaries), axes with nice ticks
    /// and gridlines, a legend labelled with each run's mode (and label when it differs), and a
    /// dashed vertical line at each run's `cacheCapacity` ("cache full (1,024)"). Uses no external
    /// fonts, scripts or CSS. NaN/infinite points (and non-positive ones on a log axis) are skipped.
    /// - Parameters:
    ///   - series: the runs to draw; empty runs still get a legend entry and an empty polyline.
    ///   - bucketSize: tokens per plotted point (values ≤ 0 pick about 200 points).
    ///   - title: the chart title (XML-escaped).
    ///   - logY: use a logarithmic perplexity axis.
    public static func svg(_ series: [LossSeries], bucketSize: Int, title: String, logY: Bool = true) -> String {
        var chart = SVGChart(width: 960, height: 540)
        let nonEmpty = series.filter { !$0.nll.isEmpty }
        let xMin = nonEmpty.map(\.firstToken).min() ?? 0
        let xMax = nonEmpty.map(\.endToken).max() ?? 1
        let size = bucketSize > 0 ? bucketSize : max(1, (xMax - xMin) / 200)

        // Points per run: (token midpoint, perplexity), finite and plottable only.
        let points: [[(x: Double, y: Double)]] = series.map { s in
            guard !s.nll.isEmpty else { return [] }
            return accumulate(s, range: s.tokenPositions, gridOrigin: xMin, size: size).compactMap { b in
                guard b.ppl.isFinite, !logY || b.ppl > 0 else { return nil }
                return (Double(b.startToken + b.endToken) / 2, b.ppl)
            }
        }
        let ys = points.flatMap { $0.map(\.y) }
        let xAxis = ChartAxis.linear(lo: Double(xMin), hi: Double(max(xMax, xMin + 1)), target: 8, minStep: 1, widen: false)
        let yAxis = logY
            ? ChartAxis.logarithmic(lo: ys.min() ?? 1, hi: ys.max() ?? 10)
            : ChartAxis.linear(lo: ys.min() ?? 0, hi: ys.max() ?? 1, target: 6)

        chart.title(title, subtitle: "perplexity per \(NumberText.grouped(size))-token bucket")
        let entries = series.enumerated().map { i, s in
            var text = s.mode
            if s.label != s.mode { text += " — \(s.label)" }
            if s.nll.isEmpty { text += " (no scored tokens)" } else if s.status != "completed" { text += " · \(s.status)" }
            return (text: text, color: svgPalette[i % svgPalette.count])
        }
        chart.legend(entries)
        chart.axes(x: xAxis, y: yAxis, xLabel: "token position",
                   yLabel: logY ? "perplexity (log scale)" : "perplexity")

        let capacities = Set(series.compactMap(\.cacheCapacity)).sorted()
        for (i, capacity) in capacities.enumerated() where Double(capacity) > xAxis.lower && Double(capacity) < xAxis.upper {
            chart.verticalMarker(at: xAxis.fraction(Double(capacity)),
                                 label: "cache full (\(NumberText.grouped(capacity)))", row: i)
        }
        for (i, runPoints) in points.enumerated() {
            let plotted = runPoints.map { (xAxis.fraction($0.x), yAxis.fraction($0.y)) }
            chart.line(plotted, color: entries[i].color, name: entries[i].text, dots: runPoints.count <= 40)
        }
        return chart.finish()
    }
}
