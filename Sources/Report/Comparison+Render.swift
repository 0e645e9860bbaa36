extension Comparison {
    /// The CSV header of the long (one row per bucket and run) comparison format.
    public static let csvHeader = "start_token,end_token,run,mode,count,mean_nll,ppl,ratio_to_baseline"

    /// The baseline run.
    public var baseline: Run { runs[baselineIndex] }

    /// Renders an aligned terminal table: each run's ppl per bucket, then ratios to the baseline.
    ///
    /// Missing cells print as `—`; a cell covering fewer tokens than its row (a run that ends
    /// inside the bucket) is marked with `*`.
    /// - Parameter sampleStride: when the runs were compared on every K-th position only
    ///   (`expanded(stride:range:)`), K: a full cell then holds the row's multiples of K.
    public func table(sampleStride: Int = 1) -> String {
        let k = max(1, sampleStride)
        var lines: [String] = []
        for (i, run) in runs.enumerated() {
            let ppl = run.ppl.map { NumberText.fixed($0, decimals: 2) } ?? "—"
            let mark = i == baselineIndex ? " (baseline)" : ""
            lines.append("\(run.label)\(mark) · mode \(run.mode) · \(run.status) · "
                + "\(NumberText.grouped(run.scoredTokens)) scored tokens · ppl \(ppl)")
        }
        lines.append("")
        let others = runs.indices.filter { $0 != baselineIndex }
        var header = ["start", "end"] + runs.map { "\($0.label) ppl" }
        header += others.map { "\(runs[$0].label)/\(baseline.label)" }
        var partial = false
        let body: [[String]] = rows.map { row in
            var cells = [NumberText.grouped(row.startToken), NumberText.grouped(row.endToken)]
            for cell in row.cells {
                guard let c = cell else { cells.append("—"); continue }
                let samplesInRow = (row.endToken + k - 1) / k - (row.startToken + k - 1) / k
                let isPartial = c.count < samplesInRow
                partial = partial || isPartial
                cells.append(NumberText.fixed(c.ppl, decimals: 2) + (isPartial ? "*" : ""))
            }
            for i in others {
                cells.append(row.cells[i]?.ratio.map { NumberText.fixed($0, decimals: 3) } ?? "—")
            }
            return cells
        }
        lines += PerplexityReport.alignedColumns(header: header, rows: body)
        if partial { lines.append("* the run covers only part of this bucket") }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Renders the long CSV format: header first, one line per (bucket, run) with tokens.
    ///
    /// Labels are quoted when they contain commas (RFC 4180). Numbers use the shortest
    /// round-trip spelling; an unavailable ratio is an empty field.
    public func csv() -> String {
        var out = Self.csvHeader + "\n"
        for row in rows {
            for (i, cell) in row.cells.enumerated() {
                guard let c = cell else { continue }
                let run = runs[i]
                out += "\(row.startToken),\(row.endToken),\(NumberText.csvField(run.label)),"
                    + "\(NumberText.csvField(run.mode)),\(c.count),\(NumberText.roundTrip(c.meanNLL)),"
                    + "\(NumberText.roundTrip(c.ppl)),\(c.ratio.map(NumberText.roundTrip) ?? "")\n"
            }
        }
        return out
    }

    /// Renders a JSON object with stable keys:
    /// `bucket_size, range_start, range_end, baseline, runs` where each run has
    /// `label, mode, status, first_token, scored_tokens, ppl, buckets` (the bucket objects of
    /// `PerplexityReport.json`) and `ratios` (per bucket, `ppl / baseline ppl` of the same row, or `null`).
    public func json() -> String {
        var out = "{\n"
        out += "  \"bucket_size\": \(bucketSize),\n"
        out += "  \"range_start\": \(range.lowerBound),\n"
        out += "  \"range_end\": \(range.upperBound),\n"
        out += "  \"baseline\": \(NumberText.jsonString(baseline.label)),\n"
        out += "  \"runs\": ["
        for (i, run) in runs.enumerated() {
            out += i == 0 ? "\n" : ",\n"
            out += "    {\n"
            out += "      \"label\": \(NumberText.jsonString(run.label)),\n"
            out += "      \"mode\": \(NumberText.jsonString(run.mode)),\n"
            out += "      \"status\": \(NumberText.jsonString(run.status)),\n"
            out += "      \"first_token\": \(run.firstToken),\n"
            out += "      \"scored_tokens\": \(run.scoredTokens),\n"
            out += "      \"ppl\": \(run.ppl.map(NumberText.json) ?? "null"),\n"
            out += "      \"buckets\": ["
            out += run.buckets.map { "\n        " + PerplexityReport.jsonObject($0) }.joined(separator: ",")
            out += run.buckets.isEmpty ? "],\n" : "\n      ],\n"
            let ratios = run.buckets.map { b -> String in
                let k = (b.startToken - range.lowerBound) / bucketSize
                return rows[k].cells[i]?.ratio.map(NumberText.json) ?? "null"
            }
            out += "      \"ratios\": [" + ratios.joined(separator: ", ") + "]\n"
            out += "    }"
        }
        out += runs.isEmpty ? "]\n" : "\n  ]\n"
        return out + "}\n"
    }
}
