import Foundation

/// A plain line chart over a linear x axis of tokens (for benchmark curves such as resident
/// memory over a run), drawn with the same writer as the perplexity chart.
public enum LineChart {
    /// One named line of (x, y) points.
    public struct Series: Sendable {
        public var name: String
        public var points: [(x: Double, y: Double)]
        public init(name: String, points: [(x: Double, y: Double)]) {
            self.name = name
            self.points = points
        }
    }

    /// An SVG document: title, subtitle, legend, axes with nice ticks, one polyline per series.
    /// The y axis starts at zero when `yFromZero` (so that a flat line is not exaggerated).
    public static func svg(_ series: [Series], title: String, subtitle: String, xLabel: String, yLabel: String,
                           yFromZero: Bool = true) -> String {
        var chart = SVGChart(width: 960, height: 480)
        let xs = series.flatMap { $0.points.map(\.x) }.filter(\.isFinite)
        let ys = series.flatMap { $0.points.map(\.y) }.filter(\.isFinite)
        let xAxis = ChartAxis.linear(lo: xs.min() ?? 0, hi: max(xs.max() ?? 1, (xs.min() ?? 0) + 1), target: 8, minStep: 1, widen: false)
        let yAxis = ChartAxis.linear(lo: yFromZero ? 0 : (ys.min() ?? 0), hi: ys.max() ?? 1, target: 6)
        chart.title(title, subtitle: subtitle)
        let entries = series.enumerated().map { i, s in
            (text: s.name, color: PerplexityReport.svgPalette[i % PerplexityReport.svgPalette.count])
        }
        chart.legend(entries)
        chart.axes(x: xAxis, y: yAxis, xLabel: xLabel, yLabel: yLabel)
        for (i, s) in series.enumerated() {
            let plotted = s.points.filter { $0.x.isFinite && $0.y.isFinite }.map { (xAxis.fraction($0.x), yAxis.fraction($0.y)) }
            chart.line(plotted, color: entries[i].color, name: s.name, dots: plotted.count <= 40)
        }
        return chart.finish()
    }
}
