extension PerplexityReport {
    /// The CSV header for bucket rows.
    public static let csvHeader = "start_token,end_token,count,mean_nll,ppl,cumulative_ppl"

    /// Renders buckets as an aligned terminal table with thousands separators.
    ///
    /// - Parameters:
    ///   - buckets: rows from `buckets(_:size:range:)`.
    ///   - series: when given, a header line names the run, its mode, status and token count.
    public static func table(_ buckets: [Bucket], series: LossSeries? = nil) -> String {
        var lines: [String] = []
        if let s = series {
            lines.append("run \(s.label) · mode \(s.mode) · \(s.status) · \(NumberText.grouped(s.scoredTokens)) scored tokens")
        }
        let header = ["start", "end", "tokens", "mean nll", "ppl", "cum ppl"]
        let rows = buckets.map { b in
            [
                NumberText.grouped(b.startToken), NumberText.grouped(b.endToken), NumberText.grouped(b.count),
                NumberText.fixed(b.meanNLL, decimals: 4), NumberText.fixed(b.ppl, decimals: 2),
                NumberText.fixed(b.cumulativePPL, decimals: 2),
            ]
        }
        lines += alignedColumns(header: header, rows: rows)
        return lines.joined(separator: "\n") + "\n"
    }

    /// Renders buckets as CSV: header first, one row per bucket, `\n` line ends.
    ///
    /// Doubles use Swift's shortest round-trip spelling (`Double.description`), so
    /// `Double(field)` gives back exactly the bucket's value; NaN and infinities appear as
    /// `nan` / `inf`, which `Double(_:)` also parses.
    public static func csv(_ buckets: [Bucket]) -> String {
        var out = csvHeader + "\n"
        for b in buckets {
            out += "\(b.startToken),\(b.endToken),\(b.count),\(NumberText.roundTrip(b.meanNLL)),"
                + "\(NumberText.roundTrip(b.ppl)),\(NumberText.roundTrip(b.cumulativePPL))\n"
        }
        return out
    }

    /// Renders buckets as a JSON array of objects with stable keys
    /// (`start_token, end_token, count, mean_nll, ppl, cumulative_ppl`, in that order).
    ///
    /// Numbers use the same shortest round-trip spelling as the CSV; non-finite values are `null`.
    public static func json(_ buckets: [Bucket]) -> String {
        "[\n" + buckets.map { "  " + jsonObject($0) }.joined(separator: ",\n") + (buckets.isEmpty ? "]\n" : "\n]\n")
    }

    /// One bucket as a single-line JSON object.
    static func jsonObject(_ b: Bucket) -> String {
        "{\"start_token\": \(b.startToken), \"end_token\": \(b.endToken), \"count\": \(b.count), "
            + "\"mean_nll\": \(NumberText.json(b.meanNLL)), \"ppl\": \(NumberText.json(b.ppl)), "
            + "\"cumulative_ppl\": \(NumberText.json(b.cumulativePPL))}"
    }

    /// Right-aligns every column to its widest cell, two spaces apart; the header is underlined.
    static func alignedColumns(header: [String], rows: [[String]]) -> [String] {
        var widths = header.map(\.count)
        for row in rows {
            for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) }
        }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { NumberText.padLeft($0.element, widths[$0.offset]) }.joined(separator: "  ")
        }
        var out = [line(header), widths.map { String(repeating: "─", count: $0) }.joined(separator: "  ")]
        out += rows.map(line)
        return out
    }
}
