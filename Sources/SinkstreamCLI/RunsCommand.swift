import ArgumentParser
import Foundation
import Pipeline
import PostgresStore
import Report
import Model
import Store
import Tasks

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case table, json, csv
}

struct RunsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runs",
        abstract: "List stored runs, show one, delete runs or prune the store.",
        discussion: """
        A run's status is what it is doing now: running (a live process holds it), interrupted \
        (its process died; `sinkstream resume` continues it), paused, failed or completed; on \
        PostgreSQL also queued (submitted, waiting for a worker).

        Examples:
          sinkstream runs
          sinkstream runs --status interrupted
          sinkstream runs --format json
          sinkstream runs show r3kq7va
          sinkstream runs delete r3kq7va r8m2xz0
          sinkstream runs prune --completed --older-than 7d --dry-run
        """,
        subcommands: [List.self, Show.self, Delete.self, Prune.self],
        defaultSubcommand: List.self)

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List runs (oldest first).")

        @Option(help: "table, json or csv.")
        var format: OutputFormat = .table

        @Option(help: "Only runs in this status (\(RunState.allCases.map(\.rawValue).joined(separator: ", ")); on PostgreSQL also queued: waiting for a worker).")
        var status: String?

        @Option(help: ArgumentHelp("Only the runs of this batch; on a PostgreSQL store, with each run's worker, attempts and throughput, and a summary line with the ETA.", valueName: "id"))
        var batch: String?

        @OptionGroup var storeOptions: StoreOptions

        func validate() throws {
            if let status, RunState(rawValue: status) == nil, status != RunListing.queued {
                throw ValidationError(
                    "There is no run status '\(status)'; please give --status one of: \((RunState.allCases.map(\.rawValue) + [RunListing.queued]).joined(separator: ", ")).")
            }
        }

        func run() throws {
            guard storeOptions.exists else {
                print(RunListing.render([], sizes: [:], format: format), terminator: "")
                return
            }
            let store = try storeOptions.open(readOnly: true)
            if let batch, let pg = store as? PostgresStore {
                let view = try BatchView.load(batch: batch, store: pg)
                guard !view.rows.isEmpty else {
                    throw InputError("there is no batch '\(batch)' in \(pg.location); `sinkstream runs` lists the runs and their batches.", status: .noInput)
                }
                print(view.render(format: format), terminator: "")
                return
            }
            if let pg = store as? PostgresStore {
                // Runs waiting in the queue are shown (and filtered) as queued, not interrupted.
                let queued = try RunListing.queuedRuns(pg, batchID: batch)
                let runs = try store.runs(task: nil, state: nil, batchID: batch)
                    .filter { status == nil || RunListing.state($0, queued: queued) == status }
                print(RunListing.render(runs, sizes: nil, format: format, queued: queued), terminator: "")
                return
            }
            let runs = try store.runs(task: nil, state: status.flatMap(RunState.init(rawValue:)), batchID: batch)
                .filter { _ in status != RunListing.queued }  // nothing waits in a queue on SQLite
            let sizes = try (store as? RunStore)?.storedSizes() ?? [:]
            print(RunListing.render(runs, sizes: sizes, format: format), terminator: "")
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one run in detail.")

        @Argument(help: "The run id.")
        var runID: String

        @Option(help: "table, json or csv.")
        var format: OutputFormat = .table

        @OptionGroup var storeOptions: StoreOptions

        func run() throws {
            guard storeOptions.exists else { throw RunError.unknownRun(runID) }
            let store = try storeOptions.open(readOnly: true)
            guard let record = try store.run(id: runID) else { throw RunError.unknownRun(runID) }
            let run = store.stateAndHolder(of: record)
            // The stored size is known on SQLite only (nil: shown as "—").
            let size = try (store as? RunStore)?.storedSize(runID: runID)
            let queued = try (store as? PostgresStore).map { try RunListing.queuedRuns($0, batchID: record.batchID) } ?? [:]
            if format != .table {
                print(RunListing.render([run], sizes: size.map { [runID: $0] }, format: format, queued: queued), terminator: "")
                return
            }
            let checkpoint = try store.latestCheckpoint(runID: runID)
            for (key, value) in RunListing.fields(run, size: size, queued: queued) { print(RunListing.field(key, value)) }
            if let checkpoint {
                print(RunListing.field("checkpoint", "#\(checkpoint.sequence) at token \(checkpoint.tokenIndex), byte \(checkpoint.byteOffset), \(RunListing.date(checkpoint.createdAt))"))
            }
            if let error = record.errorText { print(RunListing.field("error", error)) }
            // Replies of a task run that failed their checks (see ReplyCheck), retried or not.
            let warnings = record.task == .score ? [] : try store.outputs(runID: runID).filter { $0.kind == "warning" }
            if !warnings.isEmpty {
                print(RunListing.field("warnings", "\(warnings.count) replies failed a check"))
                for w in warnings { print("  - " + w.text) }
            }
            print("config:")
            for (key, value) in ConfigRendering.lines(record.config) { print("  " + key + ": " + value) }
        }
    }
}

/// Renders runs as a table, JSON or CSV.
enum RunListing {
    static func date(_ d: Date?) -> String {
        guard let d else { return "" }
        let f = ISO8601DateFormatter()
        return f.string(from: d)
    }

    /// A `key:` padded to the value column of `runs show`.
    static func field(_ key: String, _ value: String) -> String {
        (key + ":").padding(toLength: 17, withPad: " ", startingAt: 0) + value
    }

    /// The state a PostgreSQL run waiting in the queue is shown in.
    static let queued = "queued"

    /// The runs waiting in a PostgreSQL store's queue for a worker (of a batch, or all), with
    /// their attempts so far. Such a run is stored as running (or paused, when a worker gave
    /// it back) with nobody holding it, which alone would read as "interrupted".
    static func queuedRuns(_ store: PostgresStore, batchID: String?) throws -> [String: Int] {
        Dictionary(try store.queueEntries(batchID: batchID).filter { $0.state == .queued }.map { ($0.runID, $0.attempts) },
                   uniquingKeysWith: { a, _ in a })
    }

    /// The state shown for a run: its derived state, or `queued` for a run waiting in the queue.
    static func state(_ run: RunWithState, queued: [String: Int]) -> String {
        if run.state != .running, run.state != .completed, queued[run.record.id] != nil { return Self.queued }
        return run.state.rawValue
    }

    /// The state with what it means for the user.
    static func describe(_ run: RunWithState, queued: [String: Int] = [:]) -> String {
        if state(run, queued: queued) == Self.queued {
            let attempts = queued[run.record.id] ?? 0
            return "queued for workers (" + (attempts == 0 ? "not claimed yet" : "\(attempts) attempt\(attempts == 1 ? "" : "s") so far")
                + (run.record.batchID.map { "; `sinkstream runs --batch \($0)` follows its batch" } ?? "") + ")"
        }
        switch run.state {
        case .running:
            return "running (process \(run.holderHost.map { $0 + ":" } ?? "")\(run.holderPID.map(String.init) ?? "?"))"
        case .interrupted:
            return "interrupted (stored as running, but no process holds it: its process died; `sinkstream resume \(run.record.id)` continues)"
        case .paused:
            return "paused (`sinkstream resume \(run.record.id)` continues)"
        case .failed:
            return "failed (`sinkstream resume \(run.record.id)` retries once the cause is fixed)"
        case .completed:
            return "completed"
        }
    }

    static func fields(_ run: RunWithState, size: RunStoredSize?, queued: [String: Int] = [:]) -> [(String, String)] {
        let r = run.record
        let coverage = StoredRun.coverage(r)
        var stored = "—"
        if let size {
            stored = ByteCount.format(size.total)
            if size.kvCache > 0 { stored += " (K/V cache \(ByteCount.format(size.kvCache)))" }
        }
        return [
            ("id", r.id), ("status", describe(run, queued: queued)), ("task", r.task.rawValue), ("document", r.documentPath),
            ("mode", r.mode), ("tokens", String(r.tokens)), ("bytes", "\(r.bytes)/\(r.documentSize)"),
            ("done", coverage.label + (coverage.limited && r.status == .completed
                ? ", stopped by --tokens \(coverage.tokenLimit.map(String.init) ?? "")" : "")),
            ("perplexity", r.perplexitySoFar.map { String(format: "%.4f", $0) } ?? ""),
            ("created", date(r.createdAt)), ("last checkpoint", date(r.lastCheckpointAt)),
            ("completed", date(r.completedAt)),
            ("model", r.modelPath),
            ("stored", stored),
        ].filter { !$0.1.isEmpty || $0.0 == "perplexity" }
    }

    /// `sizes`: the stored size of each run, or nil when the store cannot tell (PostgreSQL):
    /// then "—" in tables, null in JSON, empty in CSV.
    static func render(_ runs: [RunWithState], sizes: [String: RunStoredSize]?, format: OutputFormat,
                       queued: [String: Int] = [:]) -> String {
        switch format {
        case .json:
            let objects: [[String: Any]] = runs.map { run in
                let r = run.record
                let size = sizes.map { $0[r.id] ?? RunStoredSize() }
                let coverage = StoredRun.coverage(r)
                var o: [String: Any] = [
                    "id": r.id, "status": state(run, queued: queued), "stored_status": r.status.rawValue,
                    "task": r.task.rawValue, "document": r.documentPath,
                    "document_sha256": r.documentSHA256, "document_size": r.documentSize, "mode": r.mode,
                    "tokens": r.tokens, "bytes": r.bytes, "model": r.modelPath, "created_at": date(r.createdAt),
                    "updated_at": date(r.updatedAt), "limited_by_tokens": coverage.limited,
                ]
                o["stored_bytes"] = size.map { $0.total } ?? NSNull()
                o["kv_cache_bytes"] = size.map { $0.kvCache } ?? NSNull()
                o["done"] = coverage.fraction ?? NSNull()
                o["token_limit"] = coverage.tokenLimit ?? NSNull()
                o["holder_pid"] = run.holderPID.map { Int($0) } ?? NSNull()
                o["perplexity"] = r.perplexitySoFar ?? NSNull()
                o["last_checkpoint_at"] = r.lastCheckpointAt.map(date) ?? NSNull()
                o["completed_at"] = r.completedAt.map(date) ?? NSNull()
                o["batch"] = r.batchID ?? NSNull()
                o["error"] = r.errorText ?? NSNull()
                return o
            }
            let data = (try? JSONSerialization.data(withJSONObject: objects, options: [.prettyPrinted, .sortedKeys])) ?? Data("[]".utf8)
            return String(decoding: data, as: UTF8.self) + "\n"
        case .csv:
            var out = "id,status,task,document,mode,tokens,bytes,document_size,perplexity,last_checkpoint_at,done,stored_bytes\n"
            for run in runs {
                let r = run.record
                let cells = [r.id, state(run, queued: queued), r.task.rawValue, r.documentPath, r.mode, String(r.tokens), String(r.bytes),
                             String(r.documentSize), r.perplexitySoFar.map { String($0) } ?? "", date(r.lastCheckpointAt),
                             StoredRun.coverage(r).label, sizes.map { String($0[r.id]?.total ?? 0) } ?? ""]
                out += cells.map(csvQuote).joined(separator: ",") + "\n"
            }
            return out
        case .table:
            if runs.isEmpty { return "no runs yet; `sinkstream score FILE` starts one.\n" }
            let header = ["ID", "TASK", "STATUS", "MODE", "TOKENS", "DONE", "PPL", "STORED", "CHECKPOINT", "DOCUMENT"]
            let rows = runs.map { run -> [String] in
                let r = run.record
                return [r.id, r.task.rawValue, state(run, queued: queued), r.mode, String(r.tokens), StoredRun.coverage(r).label,
                        r.perplexitySoFar.map { String(format: "%.3f", $0) } ?? "",
                        sizes.map { ByteCount.format($0[r.id]?.total ?? 0) } ?? "—", date(r.lastCheckpointAt),
                        (r.documentPath as NSString).lastPathComponent]
            }
            var widths = header.map(\.count)
            for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
            func line(_ cells: [String]) -> String {
                cells.enumerated().map { $0.element.padding(toLength: widths[$0.offset], withPad: " ", startingAt: 0) }
                    .joined(separator: "  ").trimmingCharacters(in: .whitespaces) + "\n"
            }
            return line(header) + rows.map(line).joined()
        }
    }

    static func csvQuote(_ s: String) -> String {
        s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
    }
}

/// Byte counts for people: `812 B`, `12.3 KiB`, `394.0 MiB`, `1.2 GiB`.
enum ByteCount {
    static func format(_ bytes: Int64) -> String {
        let units = ["KiB", "MiB", "GiB", "TiB"]
        if bytes < 1024 { return "\(bytes) B" }
        var value = Double(bytes) / 1024
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return String(format: "%.1f", value) + " " + units[unit]
    }
}

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a score run's per-token losses, or a task run's result, to standard output.",
        discussion: """
        A score run: lines `t<TAB>nll`, the format of `score --nll-out`. A completed summarize or \
        translate run: its result as `summarize`/`translate` write it (Markdown or text, or JSON \
        lines when the run was started with --jsonl), from the outputs stored in the database — \
        how to get the result of a run a `sinkstream worker` did.
        """)

    @Argument(help: "The run id.")
    var runID: String

    @Flag(help: "Export the per-token losses (of a score run; the default for one).")
    var nll = false

    @OptionGroup var storeOptions: StoreOptions

    func run() throws {
        try export()
    }

    private func export() throws {
        guard storeOptions.exists else { throw RunError.unknownRun(runID) }
        let store = try storeOptions.open(readOnly: true)
        guard let record = try store.run(id: runID) else { throw RunError.unknownRun(runID) }
        if record.task != .score {
            if nll {
                throw InputError("run \(runID) is a \(record.task.rawValue) run: it has no per-token losses; drop --nll to export its result.", status: .usage)
            }
            try exportResult(record, store: store)
            return
        }
        var t: Int64 = 0
        let out = FileHandle.standardOutput
        while t < record.tokens {
            let slice = try store.nll(runID: runID, range: t..<min(record.tokens, t + 65_536))
            if slice.nll.isEmpty { break }
            var text = ""
            for (i, v) in slice.nll.enumerated() { text += "\(slice.tokens.lowerBound + Int64(i))\t\(v)\n" }
            out.write(Data(text.utf8))
            t = slice.tokens.upperBound
        }
    }

    /// A task run's result, rendered from its stored outputs as the local command writes it.
    private func exportResult(_ record: RunRecord, store: any RunStoring) throws {
        guard record.status == .completed else {
            throw InputError("run \(runID) is not completed (\(record.status.rawValue)): its result is not complete yet; export it once it is (`sinkstream runs` shows it, `sinkstream resume \(runID)` continues it).", status: .dataError)
        }
        let config: TaskConfiguration
        do {
            config = try JSONDecoder().decode(TaskConfiguration.self, from: Data(record.config.utf8))
        } catch {
            throw RunError.damaged(runID, "its configuration cannot be read (\(error))")
        }
        var document: Data?
        /// The document, for the source text a translation's JSON lines quote: the file if it
        /// is still the run's, else (PostgreSQL) the copy stored in the database.
        func source(_ range: Range<Int64>) throws -> String {
            if document == nil {
                if FileManager.default.fileExists(atPath: record.documentPath),
                   (try? FileDigest.sha256(path: record.documentPath)) == record.documentSHA256 {
                    document = try Data(contentsOf: URL(fileURLWithPath: record.documentPath), options: .alwaysMapped)
                } else if let postgres = store as? PostgresStore {
                    document = try postgres.document(sha256: record.documentSHA256, verify: SubmitCommand.sha256)
                } else {
                    throw RunError.changed(runID, what: "document", path: record.documentPath)
                }
            }
            let data = document ?? Data()
            let lower = Int(max(0, min(range.lowerBound, Int64(data.count)))), upper = Int(max(0, min(range.upperBound, Int64(data.count))))
            return String(decoding: data[lower ..< max(lower, upper)], as: UTF8.self)
        }
        let text = try TaskOutput.rendered(config: config, outputs: try store.outputs(runID: runID),
                                           documentPath: record.documentPath, source: source)
        FileHandle.standardOutput.write(Data(text.utf8))
    }
}

/// `runs --batch ID` on a PostgreSQL store: each run's queue state, worker, tokens, throughput
/// and attempts, and a summary line (queued / running / done / failed, ETA).
struct BatchView {
    struct Row {
        var run: RunWithState
        var entry: QueueEntry?
        /// Scored tokens per second since the run was first claimed (nil before).
        var tokensPerSecond: Double?
    }

    var batchID: String
    var rows: [Row]
    var eta: TimeInterval?

    static func load(batch: String, store: PostgresStore) throws -> BatchView {
        let runs = try store.runs(task: nil, state: nil, batchID: batch)
        let entries = Dictionary(uniqueKeysWithValues: try store.queueEntries(batchID: batch).map { ($0.runID, $0) })
        let now = Date()
        var rows: [Row] = []
        for run in runs {
            let entry = entries[run.record.id]
            var rate: Double?
            if let started = entry?.startedAt {
                let end = run.record.completedAt ?? (run.state == .running ? now : run.record.lastCheckpointAt ?? now)
                let seconds = end.timeIntervalSince(started)
                if seconds > 0, run.record.tokens > 0 { rate = Double(run.record.tokens) / seconds }
            }
            rows.append(Row(run: run, entry: entry, tokensPerSecond: rate))
        }
        // ETA: the batch's remaining bytes at the rate its bytes were read since the first claim.
        var eta: TimeInterval?
        let starts = rows.compactMap(\.entry?.startedAt)
        let unfinished = rows.filter { $0.run.state != .completed && $0.entry?.state != .failed }
        if let first = starts.min(), !unfinished.isEmpty {
            let read = rows.reduce(Int64(0)) { $0 + ($1.run.state == .completed ? $1.run.record.documentSize : $1.run.record.bytes) }
            let left = unfinished.reduce(Int64(0)) { $0 + max(0, $1.run.record.documentSize - $1.run.record.bytes) }
            let elapsed = now.timeIntervalSince(first)
            if read > 0, elapsed > 0 { eta = Double(left) / (Double(read) / elapsed) }
        } else if !rows.isEmpty, unfinished.isEmpty {
            eta = 0
        }
        return BatchView(batchID: batch, rows: rows, eta: eta)
    }

    /// The queue's word for a run: queued, running, done, failed (or the run's derived state
    /// for a run a worker died on: interrupted, waiting for its lease to run out).
    static func state(_ row: Row) -> String {
        if row.run.state == .completed { return "done" }
        switch row.entry?.state {
        case .failed?: return "failed"
        case .done?: return "done"
        case .claimed? where row.entry?.live == true: return "running"
        case .claimed?: return "interrupted"
        case .queued?: return row.entry?.attempts == 0 ? "queued" : "queued (again)"
        case nil: return row.run.state.rawValue
        }
    }

    var counts: (queued: Int, running: Int, done: Int, failed: Int) {
        var c = (queued: 0, running: 0, done: 0, failed: 0)
        for row in rows {
            switch Self.state(row) {
            case "done": c.done += 1
            case "failed": c.failed += 1
            case "running": c.running += 1
            default: c.queued += 1
            }
        }
        return c
    }

    var summary: String {
        let c = counts
        let etaText = eta.map { $0 == 0 ? "ETA: done" : "ETA \(Self.duration($0))" } ?? "ETA: unknown (nothing read yet)"
        return "batch \(batchID): \(rows.count) runs: \(c.queued) queued, \(c.running) running, \(c.done) done, \(c.failed) failed; \(etaText)"
    }

    static func duration(_ seconds: TimeInterval) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? "\(s / 3600)h \(s % 3600 / 60)m" : s >= 60 ? "\(s / 60)m \(s % 60)s" : "\(s)s"
    }

    func render(format: OutputFormat) -> String {
        func worker(_ row: Row) -> String {
            guard Self.state(row) == "running" || Self.state(row) == "interrupted", let w = row.entry?.worker else { return "" }
            return w.description
        }
        switch format {
        case .json:
            let objects: [[String: Any]] = rows.map { row in
                [
                    "run": row.run.record.id, "status": Self.state(row), "worker": worker(row),
                    "tokens": row.run.record.tokens, "tokens_per_second": row.tokensPerSecond ?? NSNull(),
                    "attempts": row.entry?.attempts ?? 0, "failures": row.entry?.failures ?? 0,
                    "document": row.run.record.documentPath, "error": row.run.record.errorText ?? NSNull(),
                ]
            }
            let c = counts
            let whole: [String: Any] = [
                "batch": batchID, "runs": objects, "queued": c.queued, "running": c.running, "done": c.done,
                "failed": c.failed, "eta_seconds": eta ?? NSNull(),
            ]
            let data = (try? JSONSerialization.data(withJSONObject: whole, options: [.sortedKeys])) ?? Data()
            return String(decoding: data, as: UTF8.self) + "\n"
        case .csv:
            var out = "run,status,worker,tokens,tokens_per_second,attempts,failures,document\n"
            for row in rows {
                out += [row.run.record.id, Self.state(row), worker(row), String(row.run.record.tokens),
                        row.tokensPerSecond.map { String(format: "%.1f", $0) } ?? "", String(row.entry?.attempts ?? 0),
                        String(row.entry?.failures ?? 0), "\"" + row.run.record.documentPath.replacingOccurrences(of: "\"", with: "\"\"") + "\""]
                    .joined(separator: ",") + "\n"
            }
            return out
        case .table:
            var lines = [["RUN", "STATUS", "WORKER", "TOKENS", "TOK/S", "ATTEMPTS", "DOCUMENT"]]
            for row in rows {
                lines.append([row.run.record.id, Self.state(row), worker(row), NumberText.grouped(Int(row.run.record.tokens)),
                              row.tokensPerSecond.map { String(format: "%.0f", $0) } ?? "", String(row.entry?.attempts ?? 0),
                              (row.run.record.documentPath as NSString).lastPathComponent])
            }
            let widths = (0 ..< lines[0].count).map { i in lines.map { $0[i].count }.max() ?? 0 }
            var out = lines.map { line in
                zip(line, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "  ")
                    .trimmingCharacters(in: .whitespaces)
            }.joined(separator: "\n") + "\n"
            for row in rows where Self.state(row) == "failed" {
                out += "run \(row.run.record.id) failed: \(row.run.record.errorText ?? "no error recorded")\n"
            }
            out += summary + "\n"
            return out
        }
    }
}
