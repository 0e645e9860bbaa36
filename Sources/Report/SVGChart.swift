import Foundation

/// A small SVG writer for one line chart: title, legend, axes, lines and markers.
///
/// Coordinates are given as fractions of the plot area (0…1, y upwards); the writer lays out
/// margins and escapes all text.
struct SVGChart {
    let width: Double
    let height: Double
    private var body: [String] = []
    private var plotTop = 64.0
    private let plotLeft = 84.0
    private var plotRight: Double { width - 28 }
    private var plotBottom: Double { height - 58 }
    private let font = "font-family=\"DejaVu Sans, Arial, Helvetica, sans-serif\""

    init(width: Double, height: Double) {
        self.width = width
        self.height = height
    }

    /// Escapes text for XML content and attribute values.
    static func escape(_ s: String) -> String {
        var out = ""
        for ch in s {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default:
                // Control characters other than tab/newline are not allowed in XML 1.0.
                if let a = ch.asciiValue, a < 0x20, a != 0x09, a != 0x0A, a != 0x0D { out += " " } else { out.append(ch) }
            }
        }
        return out
    }

    private static func f(_ v: Double) -> String { String(format: "%.1f", v) }

    private func px(_ fx: Double) -> Double { plotLeft + fx * (plotRight - plotLeft) }
    private func py(_ fy: Double) -> Double { plotBottom - fy * (plotBottom - plotTop) }

    mutating func title(_ title: String, subtitle: String) {
        body.append("<text x=\"\(Self.f(width / 2))\" y=\"28\" text-anchor=\"middle\" \(font) font-size=\"18\" font-weight=\"bold\" fill=\"#222\">\(Self.escape(title))</text>")
        body.append("<text x=\"\(Self.f(width / 2))\" y=\"46\" text-anchor=\"middle\" \(font) font-size=\"12\" fill=\"#666\">\(Self.escape(subtitle))</text>")
    }

    /// A legend in rows above the plot; moves the plot down by the rows it needs.
    mutating func legend(_ entries: [(text: String, color: String)]) {
        let top = 58.0
        let rowHeight = 18.0
        var x = plotLeft
        var row = 0
        var items: [String] = []
        for entry in entries {
            let textWidth = Double(entry.text.count) * 7.0
            let itemWidth = 28 + textWidth + 22
            if x + itemWidth > plotRight, x > plotLeft { x = plotLeft; row += 1 }
            let y = top + Double(row) * rowHeight
            items.append("<line x1=\"\(Self.f(x))\" y1=\"\(Self.f(y + 5))\" x2=\"\(Self.f(x + 22))\" y2=\"\(Self.f(y + 5))\" stroke=\"\(entry.color)\" stroke-width=\"3\"/>")
            items.append("<text x=\"\(Self.f(x + 28))\" y=\"\(Self.f(y + 9))\" \(font) font-size=\"12\" fill=\"#222\">\(Self.escape(entry.text))</text>")
            x += itemWidth
        }
        body.append("<g id=\"legend\">")
        body += items
        body.append("</g>")
        plotTop = top + Double(row + 1) * rowHeight + 8
    }

    mutating func axes(x: ChartAxis, y: ChartAxis, xLabel: String, yLabel: String) {
        body.append("<defs><clipPath id=\"plot-area\"><rect x=\"\(Self.f(plotLeft))\" y=\"\(Self.f(plotTop))\" width=\"\(Self.f(plotRight - plotLeft))\" height=\"\(Self.f(plotBottom - plotTop))\"/></clipPath></defs>")
        body.append("<g id=\"grid\" stroke=\"#e3e3e3\" stroke-width=\"1\">")
        for t in x.ticks {
            let xp = Self.f(px(x.fraction(t)))
            body.append("<line x1=\"\(xp)\" y1=\"\(Self.f(plotTop))\" x2=\"\(xp)\" y2=\"\(Self.f(plotBottom))\"/>")
        }
        for t in y.ticks {
            let yp = Self.f(py(y.fraction(t)))
            body.append("<line x1=\"\(Self.f(plotLeft))\" y1=\"\(yp)\" x2=\"\(Self.f(plotRight))\" y2=\"\(yp)\"/>")
        }
        body.append("</g>")
        body.append("<rect x=\"\(Self.f(plotLeft))\" y=\"\(Self.f(plotTop))\" width=\"\(Self.f(plotRight - plotLeft))\" height=\"\(Self.f(plotBottom - plotTop))\" fill=\"none\" stroke=\"#777\" stroke-width=\"1\"/>")
        body.append("<g id=\"x-axis\" \(font) font-size=\"12\" fill=\"#333\" text-anchor=\"middle\">")
        for t in x.ticks {
            let xp = px(x.fraction(t))
            body.append("<line x1=\"\(Self.f(xp))\" y1=\"\(Self.f(plotBottom))\" x2=\"\(Self.f(xp))\" y2=\"\(Self.f(plotBottom + 5))\" stroke=\"#777\"/>")
            body.append("<text x=\"\(Self.f(xp))\" y=\"\(Self.f(plotBottom + 19))\">\(Self.escape(ChartAxis.tokenLabel(t)))</text>")
        }
        body.append("<text x=\"\(Self.f((plotLeft + plotRight) / 2))\" y=\"\(Self.f(height - 14))\" font-size=\"13\">\(Self.escape(xLabel))</text>")
        body.append("</g>")
        body.append("<g id=\"y-axis\" \(font) font-size=\"12\" fill=\"#333\" text-anchor=\"end\">")
        for t in y.ticks {
            let yp = py(y.fraction(t))
            body.append("<line x1=\"\(Self.f(plotLeft - 5))\" y1=\"\(Self.f(yp))\" x2=\"\(Self.f(plotLeft))\" y2=\"\(Self.f(yp))\" stroke=\"#777\"/>")
            body.append("<text x=\"\(Self.f(plotLeft - 8))\" y=\"\(Self.f(yp + 4))\">\(Self.escape(ChartAxis.valueLabel(t)))</text>")
        }
        let cy = (plotTop + plotBottom) / 2
        body.append("<text x=\"22\" y=\"\(Self.f(cy))\" text-anchor=\"middle\" font-size=\"13\" transform=\"rotate(-90 22 \(Self.f(cy)))\">\(Self.escape(yLabel))</text>")
        body.append("</g>")
    }

    /// A dashed vertical line across the plot with a label near the top (`row` staggers labels).
    mutating func verticalMarker(at fx: Double, label: String, row: Int) {
        let x = px(fx)
        let y = plotTop + 16 + Double(row) * 16
        let nearRight = x > plotRight - Double(label.count) * 7 - 10
        let tx = nearRight ? x - 5 : x + 5
        let anchor = nearRight ? "end" : "start"
        body.append("<g class=\"cache-boundary\">")
        body.append("<line x1=\"\(Self.f(x))\" y1=\"\(Self.f(plotTop))\" x2=\"\(Self.f(x))\" y2=\"\(Self.f(plotBottom))\" stroke=\"#444\" stroke-width=\"1.2\" stroke-dasharray=\"6 4\"/>")
        body.append("<text x=\"\(Self.f(tx))\" y=\"\(Self.f(y))\" text-anchor=\"\(anchor)\" \(font) font-size=\"12\" fill=\"#333\" stroke=\"#fff\" stroke-width=\"3\" paint-order=\"stroke\">\(Self.escape(label))</text>")
        body.append("</g>")
    }

    /// One run's polyline (always emitted, possibly with no points), optionally with dots.
    mutating func line(_ points: [(Double, Double)], color: String, name: String, dots: Bool) {
        let coords = points.map { "\(Self.f(px($0.0))),\(Self.f(py($0.1)))" }.joined(separator: " ")
        body.append("<g class=\"run\" clip-path=\"url(#plot-area)\">")
        body.append("<polyline points=\"\(coords)\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\" stroke-linejoin=\"round\" stroke-linecap=\"round\"><title>\(Self.escape(name))</title></polyline>")
        if dots || points.count == 1 {
            for p in points {
                body.append("<circle cx=\"\(Self.f(px(p.0)))\" cy=\"\(Self.f(py(p.1)))\" r=\"3\" fill=\"\(color)\"/>")
            }
        }
        body.append("</g>")
    }

    func finish() -> String {
        var out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        out += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Self.f(width))\" height=\"\(Self.f(height))\" viewBox=\"0 0 \(Self.f(width)) \(Self.f(height))\">\n"
        out += "<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n"
        out += body.joined(separator: "\n")
        return out + "\n</svg>\n"
    }
}
