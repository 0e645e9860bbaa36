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
        The result is identical to a run that was never interrupted. Refuses when the run is \\
        completed, when its document or model changed, or while another process holds it.

        Example:
          sinkstream resume r3kq7va
        """)

    @Argument(help: "The run id (see `sinkstream runs`).")
    var runID: String

    @Option(help: ArgumentHelp("Write every token's loss to this file as `t<TAB>nll` lines when the run completes.", valueName: "path"))
    var nllOut: String?

    @OptionGroup var storeOptions: StoreOptions

    @OptionGroup var options: ModelOptions

    func run() throws {
        let store = try storeOptions.open()
        guard let record = try store.run(id: runID) else {
            throw ValidationError("There is no run '\(runID)' in \(store.path); `sinkstream runs` lists them.")
        }
        guard record.status != .completed else {
            throw ValidationError("Run \(runID) is already completed; nothing to resume.")
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
        printError("resuming run \(runID) at token \(scoreRun.scored)")
        try RunDriver.drive(scoreRun, store: store, nllOut: nllOut, threads: options.threadCount)
    }
}
