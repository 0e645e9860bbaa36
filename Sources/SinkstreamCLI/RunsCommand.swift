import ArgumentParser
import Foundation
import Pipeline
import Store

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case table, json, csv
}

struct RunsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runs",
        abstract: "List stored runs, or show one.",
        discussion: """
        Examples:
          sinkstream runs
          sinkstream runs --format json
          sinkstream runs show r3kq7va
        """,
        subcommands: [List.self, Show.self],
        defaultSubcommand: List.self)

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List runs (oldest first).")

        @Option(help: "table, json or csv.")
        var format: OutputFormat = .table

        @Option(help: "Only runs with this status (running, paused, failed, completed).")
        var status: String?

        @OptionGroup var storeOptions: StoreOptions

        func run() throws {
            guard storeOptions.exists else {
                print(RunListing.render([], format: format), terminator: "")
                return
            }
            let store = try storeOptions.open(readOnly: true)
            var status: RunStatus?
            if let s = self.status {
                guard let parsed = RunStatus(rawValue: s) else {
                    throw ValidationError("Please give --status one of: \(RunStatus.allCases.map(\.rawValue).joined(separator: ", ")).")
                }
                status = parsed
            }
            let runs = try store.runs(task: nil, status: status, batchID: nil).map { RunListing.markInterrupted($0, store: store) }
            print(RunListing.render(runs, format: format), terminator: "")
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
            let store = try storeOptions.open(readOnly: true)
            guard let record = try store.run(id: runID) else {
                throw ValidationError("There is no run '\(runID)' in \(store.path); `sinkstream runs` lists them.")
            }
            if format != .table {
                print(RunListing.render([record], format: format), terminator: "")
                return
            }
            let checkpoint = try store.latestCheckpoint(runID: runID)
            for (key, value) in RunListing.fields(record) { print(key.padding(toLength: 16, withPad: " ", startingAt: 0) + value) }
            print("config:".padding(toLength: 16, withPad: " ", startingAt: 0) + record.config)
            if let checkpoint {
                print("checkpoint:".padding(toLength: 16, withPad: " ", startingAt: 0)
                      + "#\(checkpoint.sequence) at token \(checkpoint.tokenIndex), byte \(checkpoint.byteOffset), \(RunListing.date(checkpoint.createdAt))")
            }
            if let error = record.errorText { print("error:".padding(toLength: 16, withPad: " ", startingAt: 0) + error) }
        }
    }
}

/// Renders run records as a table, JSON or CSV.
enum RunListing {
    /// A run marked `running` whose lock nobody holds was interrupted (killed, or the machine
    /// went down); it is shown as `paused`, which is what `resume` will treat it as.
    static func markInterrupted(_ run: RunRecord, store: RunStore) -> RunRecord {
        guard run.status == .running, let lock = try? store.lock(runID: run.id) else { return run }
        lock.release()
        var copy = run
        copy.status = .paused
        return copy
    }

    static func date(_ d: Date?) -> String {
        guard let d else { return "" }
        let f = ISO8601DateFormatter()
        return f.string(from: d)
    }

    static func fields(_ r: RunRecord) -> [(String, String)] {
        [
            ("id", r.id), ("status", r.status.rawValue), ("task", r.task.rawValue), ("document", r.documentPath),
            ("mode", r.mode), ("tokens", String(r.tokens)), ("bytes", "\(r.bytes)/\(r.documentSize)"),
            ("perplexity", r.perplexitySoFar.map { String(format: "%.4f", $0) } ?? ""),
            ("created", date(r.createdAt)), ("last checkpoint", date(r.lastCheckpointAt)),
            ("model", r.modelPath),
        ]
    }

    static func render(_ runs: [RunRecord], format: OutputFormat) -> String {
        switch format {
        case .json:
            let objects: [[String: Any]] = runs.map { r in
                var o: [String: Any] = [
                    "id": r.id, "status": r.status.rawValue, "task": r.task.rawValue, "document": r.documentPath,
                    "document_sha256": r.documentSHA256, "document_size": r.documentSize, "mode": r.mode,
                    "tokens": r.tokens, "bytes": r.bytes, "model": r.modelPath, "created_at": date(r.createdAt),
                    "updated_at": date(r.updatedAt),
                ]
                o["perplexity"] = r.perplexitySoFar ?? NSNull()
                o["last_checkpoint_at"] = r.lastCheckpointAt.map(date) ?? NSNull()
                o["batch"] = r.batchID ?? NSNull()
                o["error"] = r.errorText ?? NSNull()
                return o
            }
            let data = (try? JSONSerialization.data(withJSONObject: objects, options: [.prettyPrinted, .sortedKeys])) ?? Data("[]".utf8)
            return String(decoding: data, as: UTF8.self) + "\n"
        case .csv:
            var out = "id,status,task,document,mode,tokens,bytes,document_size,perplexity,last_checkpoint_at\n"
            for r in runs {
                let cells = [r.id, r.status.rawValue, r.task.rawValue, r.documentPath, r.mode, String(r.tokens), String(r.bytes),
                             String(r.documentSize), r.perplexitySoFar.map { String($0) } ?? "", date(r.lastCheckpointAt)]
                out += cells.map(csvQuote).joined(separator: ",") + "\n"
            }
            return out
        case .table:
            if runs.isEmpty { return "no runs yet; `sinkstream score FILE` starts one.\n" }
            let header = ["ID", "TASK", "STATUS", "MODE", "TOKENS", "DONE", "PPL", "CHECKPOINT", "DOCUMENT"]
            let rows = runs.map { r -> [String] in
                let done = StoredRun.fractionDone(r).map { String(format: "%.0f%%", 100 * $0) } ?? ""
                return [r.id, r.task.rawValue, r.status.rawValue, r.mode, String(r.tokens), done,
                        r.perplexitySoFar.map { String(format: "%.3f", $0) } ?? "", date(r.lastCheckpointAt),
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

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a run's stored per-token losses to standard output.",
        discussion: "Lines are `t<TAB>nll`, the format of `score --nll-out`.")

    @Argument(help: "The run id.")
    var runID: String

    @Flag(help: "Export the per-token losses (the only export so far).")
    var nll = false

    @OptionGroup var storeOptions: StoreOptions

    func run() throws {
        let store = try storeOptions.open(readOnly: true)
        guard let record = try store.run(id: runID) else {
            throw ValidationError("There is no run '\(runID)' in \(store.path); `sinkstream runs` lists them.")
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
}
