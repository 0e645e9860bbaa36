import ArgumentParser
import Foundation
import Model
import Pipeline
import Store

struct ResumeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume",
        abstract: "Continue an interrupted run from its latest checkpoint.",
        discussion: """
        The result is identical to a run that was never interrupted. Refuses when the run is \
        completed, when its document or model changed, or while another process holds it.

        Example:
          sinkstream resume r3kq7va
        """)

    @Argument(help: "The run id (see `sinkstream runs`).")
    var runID: String?

    @Option(help: ArgumentHelp("Continue every unfinished run of this batch (summarize/translate with several files).", valueName: "id"))
    var batch: String?

    @Option(help: ArgumentHelp("Write every token's loss to this file as `t<TAB>nll` lines when the run completes.", valueName: "path"))
    var nllOut: String?

    @OptionGroup var storeOptions: StoreOptions

    @Option(help: "The final summary of a score run as text or json.")
    var format: SummaryFormat = .text

    @OptionGroup var options: ModelOptions

    @OptionGroup var output: ProgressOptions

    func validate() throws {
        if (runID == nil) == (batch == nil) { throw ValidationError("Please name a run id or a --batch id (one of them).") }
    }

    func run() throws {
        let store = try storeOptions.open()
        if let batch {
            let unfinished = try store.runs(batchID: batch).filter { $0.status != .completed }.map(\.id)
            guard !unfinished.isEmpty else {
                let known = try !store.runs(batchID: batch).isEmpty
                throw InputError(known ? "batch \(batch) has no unfinished runs; nothing to resume."
                                       : "there is no batch '\(batch)' in this database; `sinkstream runs` lists the runs and their batches.",
                                 status: known ? .dataError : .noInput)
            }
            try TaskDriver.resume(runIDs: unfinished, batchID: batch, store: store, options: options, output: output)
            return
        }
        guard let runID else { return }
        guard let record = try store.run(id: runID) else { throw RunError.unknownRun(runID) }
        guard record.status != .completed else { throw RunError.completed(runID) }
        if record.task == .summarize || record.task == .translate {
            try TaskDriver.resume(runIDs: [runID], batchID: nil, store: store, options: options, output: output)
            return
        }
        let logger = options.makeLogger()
        // The run's own model unless --model overrides it; its precision comes from the run.
        var modelOptions = options
        if modelOptions.model == nil { modelOptions.model = record.modelPath }
        let config = try? JSONDecoder().decode(ScoreConfiguration.self, from: Data(record.config.utf8))
        if let config { modelOptions.precision = config.precision }
        let model = try modelOptions.load(logger: logger)
        let scoreRun = try ScoreRun.resume(runID: runID, store: store, model: model,
                                           modelSHA256: try FileDigest.sha256(path: model.path), threads: options.threadCount)
        output.notice("resuming run \(runID) at token \(scoreRun.scored)")
        try RunDriver.drive(scoreRun, store: store, nllOut: nllOut, threads: options.threadCount, output: output, format: format)
    }
}
