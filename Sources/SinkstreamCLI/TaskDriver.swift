import ArgumentParser
import Foundation
import Model
import Pipeline
import Store
import Tasks

/// Runs task runs (new or resumed) one file after another: one failing file is reported and
/// does not stop the others; the exit status is non-zero if any failed.
enum TaskDriver {
    /// The model options of a task: without --model (or SINKSTREAM_MODEL), the tasks' default model.
    static func taskModel(_ options: ModelOptions, kind: TaskKind, output: ProgressOptions) -> ModelOptions {
        var options = options
        if options.model == nil, (processEnvironment["SINKSTREAM_MODEL"] ?? "").isEmpty {
            options.model = ModelCatalog.taskModelName
            output.notice("model: \(ModelCatalog.taskModelName) (the \(kind.rawValue) default, chosen by measurement; --model overrides)")
        }
        return options
    }

    /// Starts one run per input file, all with one batch id.
    static func runBatch(files: [String], kind: TaskKind, storeOptions: StoreOptions, options: ModelOptions, output: ProgressOptions, allowBase: Bool,
                         configuration: (String) -> TaskConfiguration) throws {
        let store = try storeOptions.open()
        let options = taskModel(options, kind: kind, output: output)
        let model = try options.load(logger: options.makeLogger())
        let modelSHA = try FileDigest.sha256(path: model.path)
        if let dir = files.first.flatMap({ configuration($0).outputPath }).map({ ($0 as NSString).deletingLastPathComponent }) {
            try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        }
        let batch = try TaskBatch(
            documents: files.map { file in (file, { file == "-" ? try spoolStandardInput(into: storeOptions.dataDirectory) : file }) },
            model: model, modelSHA256: modelSHA, store: store, kind: kind, allowBase: allowBase, configuration: configuration)
        let batchID = batch.batchID, runIDs = batch.runIDs
        // One input: its error is the command's (with its exit status).
        if files.count == 1, let failure = batch.failures.first { throw failure.error }
        let failures = batch.failures.map { ($0.input, "\($0.error)") }
        for (input, reason) in failures { printError("[batch \(batchID)] \(input): failed: \(reason)") }
        if files.count > 1 { output.notice("batch \(batchID): \(runIDs.count) runs (\(runIDs.joined(separator: " "))); resume with: sinkstream resume --batch \(batchID)") }
        try resume(runIDs: runIDs, batchID: batchID, store: store, options: options, output: output, model: model,
                   earlierFailures: failures, total: files.count)
    }

    /// Resumes one task run or every unfinished run of a batch.
    static func resume(runIDs: [String], batchID: String?, store: any RunStoring, options: ModelOptions, output: ProgressOptions,
                       model loaded: LanguageModel? = nil,
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
                output.notice("\(label): \(record.task.rawValue) with \((model.path as NSString).lastPathComponent), \(run.sectionCount == 0 ? "starting" : "resuming after \(run.sectionCount) sections")")
                try drive(run, label: label, showHeader: runIDs.count > 1, output: output)
            } catch let code as ExitCode {
                throw code
            } catch where batchID == nil && runIDs.count == 1 && earlierFailures.isEmpty {
                throw error
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

    /// Runs to completion or to a stop request (Ctrl-C, SIGTERM), drawing progress.
    static func run(_ run: TaskRun, label: String, output: ProgressOptions) throws -> RunOutcome {
        let display = ProgressDisplay(output, label: label, runID: run.runID)
        var last: ProgressSample?
        let outcome = try run.run(shouldStop: { Interruption.isRequested }) { p in
            let sample = ProgressSample(
                tokens: p.counters.promptTokens + p.counters.generatedTokens,
                fraction: p.documentSize > 0 ? min(1, Double(p.bytesDone) / Double(p.documentSize)) : 1,
                section: p.sections, sections: p.sectionsTotal, phase: p.phase, generating: p.generating)
            last = sample
            display.update(sample)
        }
        display.finish(last, status: outcome == .paused ? "paused" : "completed")
        return outcome
    }

    /// Runs to completion (printing the result when it has no output file) or to a pause (exit 130).
    static func drive(_ run: TaskRun, label: String, showHeader: Bool, output: ProgressOptions) throws {
        let start = Date()
        let outcome = try Self.run(run, label: label, output: output)
        if outcome == .paused {
            printError("\(label): run \(run.runID) paused (checkpoint written); resume with: sinkstream resume \(run.runID)")
            throw ExitCode(ExitStatus.paused.rawValue)
        }
        let c = run.counters
        output.notice(String(format: "%@: done in %.1f s: %d sections, %d source tokens (%.1f source tokens/s; prompts %d tokens at %.1f tokens/s), %d generated tokens (%.1f tokens/s)%@",
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
    static func spoolStandardInput(into dataDirectory: String) throws -> String {
        let dir = (dataDirectory as NSString).appendingPathComponent("spool")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let path = (dir as NSString).appendingPathComponent("stdin-\(UUID().uuidString.lowercased()).txt")
        let partial = path + ".part"
        guard FileManager.default.createFile(atPath: partial, contents: nil), let out = FileHandle(forWritingAtPath: partial) else {
            throw InputError("cannot create \(partial) to spool standard input: \(String(cString: strerror(errno))).", status: .cannotCreate)
        }
        do {
            defer { try? out.close() }
            while let block = try FileHandle.standardInput.read(upToCount: 1 << 20), !block.isEmpty {
                try out.write(contentsOf: block)
            }
            try out.synchronize()
        } catch {
            throw InputError("cannot spool standard input to \(path): \(error.localizedDescription)", status: .cannotCreate)
        }
        guard rename(partial, path) == 0 else {
            throw InputError("cannot move the spooled standard input to \(path): \(String(cString: strerror(errno))).", status: .cannotCreate)
        }
        return path
    }
}
