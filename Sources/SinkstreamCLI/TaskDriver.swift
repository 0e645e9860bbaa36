import ArgumentParser
import Foundation
import Model
import Pipeline
import Store
import Tasks

/// Runs task runs (new or resumed) one file after another: one failing file is reported and
/// does not stop the others; the exit status is non-zero if any failed.
enum TaskDriver {
    /// Starts one run per input file, all with one batch id.
    static func runBatch(files: [String], kind: TaskKind, storeOptions: StoreOptions, options: ModelOptions, allowBase: Bool,
                         configuration: (String) -> TaskConfiguration) throws {
        let store = try storeOptions.open()
        let model = try options.load(logger: options.makeLogger())
        let modelSHA = try FileDigest.sha256(path: model.path)
        if !allowBase, model.instructionTuning(sha256: modelSHA) == .base {
            let instruct = ModelCatalog.entries.filter(\.isInstruct).map(\.name)
            throw ModelError(
                code: "model.base-model", file: model.path,
                message: "this is a base model (not instruction-tuned): it continues text instead of following the \(kind.rawValue) instruction. Use an instruct model, e.g. --model \(instruct.joined(separator: " or --model ")) (see `sinkstream model list`), or pass --allow-base to run it anyway.")
        }
        let batchID = "b" + String(UUID().uuidString.lowercased().filter { $0.isHexDigit }.prefix(6))
        if let dir = files.indices.first.flatMap({ _ in configuration(files[0]).outputPath }).map({ ($0 as NSString).deletingLastPathComponent }) {
            try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        }
        // Register every input first, so that `resume --batch` finds all of them.
        var failures: [(String, String)] = []
        var runIDs: [String] = []
        for (i, file) in files.enumerated() {
            do {
                let path = file == "-" ? try spoolStandardInput(store: store) : file
                runIDs.append(try TaskRun.register(documentPath: path, model: model, modelSHA256: modelSHA, config: configuration(file),
                                                   store: store, batchID: batchID))
            } catch {
                printError("[batch \(batchID) \(i + 1)/\(files.count)] \(file): failed: \(error)")
                failures.append((file, "\(error)"))
            }
        }
        if files.count > 1 { printError("batch \(batchID): \(runIDs.count) runs (\(runIDs.joined(separator: " "))); resume with: sinkstream resume --batch \(batchID)") }
        try resume(runIDs: runIDs, batchID: batchID, store: store, options: options, model: model, earlierFailures: failures, total: files.count)
    }

    /// Resumes one task run or every unfinished run of a batch.
    static func resume(runIDs: [String], batchID: String?, store: RunStore, options: ModelOptions, model loaded: LanguageModel? = nil,
                       earlierFailures: [(String, String)] = [], total: Int? = nil) throws {
        Interruption.install()
        var failures = earlierFailures
        for (i, id) in runIDs.enumerated() {
            do {
                guard let record = try store.run(id: id) else { throw RunError.unknownRun(id) }
                let name = (record.documentPath as NSString).lastPathComponent
                let label = batchID.map { "[batch \($0) \(i + 1)/\(runIDs.count)] \(name) (\(id))" } ?? "\(name) (\(id))"
                var modelOptions = options
                if modelOptions.model == nil { modelOptions.model = record.modelPath }
                if let config = try? JSONDecoder().decode(TaskConfiguration.self, from: Data(record.config.utf8)) {
                    modelOptions.precision = config.precision
                }
                let model = try loaded.flatMap { $0.path == modelOptions.model && $0.precision == modelOptions.precision ? $0 : nil }
                    ?? modelOptions.load(logger: options.makeLogger())
                let run = try TaskRun.resume(runID: id, store: store, model: model, modelSHA256: try FileDigest.sha256(path: model.path),
                                             threads: options.threadCount)
                printError("\(label): \(record.task.rawValue) \(run.sectionCount == 0 ? "starting" : "resuming after \(run.sectionCount) sections")")
                try drive(run, label: label, showHeader: runIDs.count > 1)
            } catch let code as ExitCode {
                throw code
            } catch {
                printError("[\(id)]: failed: \(error)")
                failures.append((id, "\(error)"))
            }
        }
        try finishBatch(batchID: batchID, total: total ?? runIDs.count, failures: failures)
    }

    private static func finishBatch(batchID: String?, total: Int, failures: [(String, String)]) throws {
        guard !failures.isEmpty else { return }
        printError("\(failures.count) of \(total) inputs failed\(batchID.map { " (batch \($0))" } ?? ""):")
        for (name, reason) in failures { printError("  \(name): \(reason)") }
        throw ExitCode.failure
    }

    /// Runs to completion (printing the result when it has no output file) or to a pause (exit 130).
    static func drive(_ run: TaskRun, label: String, showHeader: Bool) throws {
        let start = Date()
        let terminal = standardErrorIsTerminal
        var lastDraw = Date.distantPast
        let outcome = try run.run(shouldStop: { Interruption.isRequested }) { p in
            guard terminal, Date().timeIntervalSince(lastDraw) > 0.2 else { return }
            lastDraw = Date()
            let percent = p.documentSize > 0 ? 100 * Double(p.bytesDone) / Double(p.documentSize) : 100
            let what = p.phase == "sections" ? "section \(p.sections)" : "summarizing notes"
            let line = String(format: "%@  %@  %.0f%%  generating %d", label, what, percent, p.generating)
            FileHandle.standardError.write(Data(("\r\u{1B}[K" + line).utf8))
        }
        if terminal { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        if outcome == .paused {
            printError("\(label): run \(run.runID) paused (checkpoint written); resume with: sinkstream resume \(run.runID)")
            throw ExitCode(Interruption.pausedExitCode)
        }
        let c = run.counters
        printError(String(format: "%@: done in %.1f s: %d sections, %d source tokens (%.1f source tokens/s; prompts %d tokens at %.1f tokens/s), %d generated tokens (%.1f tokens/s)%@",
                          label, Date().timeIntervalSince(start), run.sectionCount, c.sourceTokens,
                          Double(c.sourceTokens) / max(c.promptSeconds, 1e-9), c.promptTokens,
                          Double(c.promptTokens) / max(c.promptSeconds, 1e-9), c.generatedTokens,
                          Double(c.generatedTokens) / max(c.generateSeconds, 1e-9),
                          run.config.outputPath.map { " → " + $0 } ?? ""))
        if run.config.outputPath == nil {
            if showHeader { print("==> \(run.documentPath) <==") }
            FileHandle.standardOutput.write(Data(try run.renderedResult().utf8))
        }
    }

    /// Copies standard input to a file under the run database's directory, so the run can resume.
    static func spoolStandardInput(store: RunStore) throws -> String {
        let dir = ((store.path as NSString).deletingLastPathComponent as NSString).appendingPathComponent("spool")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let path = (dir as NSString).appendingPathComponent("stdin-\(UUID().uuidString.lowercased()).txt")
        let partial = path + ".part"
        guard FileManager.default.createFile(atPath: partial, contents: nil), let out = FileHandle(forWritingAtPath: partial) else {
            throw TaskError(code: "task.spool", message: "cannot create \(partial) to spool standard input.")
        }
        do {
            defer { try? out.close() }
            while let block = try FileHandle.standardInput.read(upToCount: 1 << 20), !block.isEmpty {
                try out.write(contentsOf: block)
            }
            try out.synchronize()
        } catch {
            throw TaskError(code: "task.spool", message: "cannot spool standard input to \(path): \(error.localizedDescription)")
        }
        guard rename(partial, path) == 0 else {
            throw TaskError(code: "task.spool", message: "cannot move the spooled standard input to \(path).")
        }
        return path
    }
}
