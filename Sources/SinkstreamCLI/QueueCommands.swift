#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Foundation
import Kernels
import Model
import Pipeline
import PostgresStore
import Store
import Tasks

/// What `submit` queues.
enum SubmitTask: String, ExpressibleByArgument, CaseIterable {
    case score, summarize, translate

    var taskKind: TaskKind? {
        switch self {
        case .score: nil
        case .summarize: .summarize
        case .translate: .translate
        }
    }
}

/// `sinkstream submit`: documents into the PostgreSQL store, one queued run per file (score,
/// summarize or translate).
struct SubmitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "submit",
        abstract: "Queue one score, summarize or translate run per document in a PostgreSQL run store, for `sinkstream worker`s.",
        discussion: """
        Each document is stored in the database (content-addressed by SHA-256, in 1 MiB chunks, \
        once however many runs use it), so workers on other machines need no shared file system. \
        Every run gets the full configuration the same options give it locally: `score`'s, or with \
        --task summarize|translate those of `summarize`/`translate` (sink attention; \
        --checkpoint-every defaults to 4096 there; translate needs --to or --style). No result file \
        is written: a task's result is in the database, `sinkstream export RUN --db …` prints it. \
        Prints the batch id; `sinkstream runs --batch ID` follows the batch.

        Examples:
          sinkstream submit books/*.txt --db postgres://me@db.example/sinkstream
          sinkstream submit a.txt b.txt --window 512 --tokens 20000 --db "$SINKSTREAM_DB"
          sinkstream submit books/*.txt --task summarize --length short --db "$SINKSTREAM_DB"
          sinkstream submit play.txt --task translate --to French --db "$SINKSTREAM_DB"
        """)

    @Argument(help: "The UTF-8 text files to score, summarize or translate.")
    var files: [String] = []

    @Option(help: "The kind of run to queue for each file: score, summarize or translate.")
    var task: SubmitTask = .score

    @OptionGroup var settings: ScoreSettings

    @OptionGroup(title: "Task runs (with --task summarize or translate)") var taskSettings: TaskSettings

    @OptionGroup(title: "Task runs (with --task summarize or translate)") var summary: SummaryOptions

    @OptionGroup(title: "Task runs (with --task summarize or translate)") var translation: TranslationOptions

    @OptionGroup var storeOptions: StoreOptions

    @OptionGroup var options: ModelOptions

    @OptionGroup var output: ProgressOptions

    func validate() throws {
        if files.isEmpty { throw ValidationError("Please name at least one document to submit.") }
        if files.contains("-") { throw ValidationError("Standard input cannot be submitted; save it to a file first.") }
        guard task != .score else {
            let settings = taskSettings
            if settings.jsonl || settings.sectionTokens != nil || settings.maxTokens != nil || translation.language != nil || translation.style != nil {
                throw ValidationError("--jsonl, --section-tokens, --max-tokens, --to and --style are task options: add --task summarize or --task translate.")
            }
            return
        }
        if task == .translate { try translation.check() }
        if settings.mode != .sink {
            throw ValidationError("--task \(task.rawValue) runs in sink attention; drop --mode \(settings.mode.rawValue).")
        }
        if settings.tokens != nil { throw ValidationError("--tokens limits score runs only; drop it with --task \(task.rawValue).") }
    }

    func run() throws {
        let store = try storeOptions.openPostgres(for: "submit")
        let modelOptions = task.taskKind.map { TaskDriver.taskModel(options, kind: $0, output: output) } ?? options
        let model = try modelOptions.load(logger: modelOptions.makeLogger())
        let modelSHA = try FileDigest.sha256(path: model.path)
        if let kind = task.taskKind {
            try TaskBatch.checkInstructionTuned(model: model, modelSHA256: modelSHA, kind: kind, allowBase: taskSettings.allowBase)
        }
        let batchID = RunID.random()
        var runIDs: [String] = []
        for file in files {
            let new = try describe(file, model: model, modelSHA256: modelSHA, batchID: batchID)
            let data: Data
            do {
                data = try Data(contentsOf: URL(fileURLWithPath: new.documentPath), options: .alwaysMapped)
            } catch {
                throw InputError("\(file): cannot read the document: \(error.localizedDescription).", status: .noInput)
            }
            guard Self.sha256(data) == new.documentSHA256 else {
                throw InputError("\(file) changed while it was being submitted; submit it again.", status: .dataError)
            }
            let record = try store.enqueue(new, document: data)
            runIDs.append(record.id)
            output.notice("queued \(task.rawValue) run \(record.id): \(file) (\(data.count) bytes)")
        }
        output.notice("batch \(batchID): \(runIDs.count) runs in \(store.location); follow with: sinkstream runs --batch \(batchID)")
        print(batchID)
    }

    /// The run row for one file, with the configuration the local command would give it (a
    /// task run without an output file: its result stays in the database).
    private func describe(_ file: String, model: LanguageModel, modelSHA256: String, batchID: String) throws -> NewRun {
        guard let kind = task.taskKind else {
            let config = settings.configuration(precision: options.precision)
            return try RunLifecycle.describe(
                task: .score, documentPath: file, tokenizer: model.tokenizer, model: model, modelSHA256: modelSHA256,
                config: config, replaceInvalid: config.replaceInvalid, mode: config.mode.description, batchID: batchID)
        }
        let config = taskSettings.configuration(
            kind: kind, precision: options.precision, attention: settings.attention,
            checkpointEvery: settings.checkpoints.everyTokens ?? TaskSettings.defaultCheckpointEvery,
            checkpointSeconds: settings.checkpoints.checkpointSeconds, keepCache: settings.checkpoints.keepCache,
            replaceInvalid: settings.replaceInvalid, outputPath: nil, length: kind == .summarize ? summary.length : .medium,
            language: kind == .translate ? translation.language : nil, style: kind == .translate ? translation.style : nil)
        return try TaskRun.describe(documentPath: file, model: model, modelSHA256: modelSHA256, config: config, batchID: batchID)
    }

    static func sha256(_ data: Data) -> String { FileDigest.sha256(data: data) }
}

/// `sinkstream worker`: claims queued runs from a PostgreSQL run store and runs them.
struct WorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Claim queued runs from a PostgreSQL run store and run them (score, summarize, translate), one after another.",
        discussion: """
        A worker claims the oldest queued run, or one whose worker died (its lease ran out), with \
        SELECT … FOR UPDATE SKIP LOCKED, so no run is ever worked on by two live workers. It holds \
        a lease that a heartbeat renews every third of --lease-timeout, fetches the document from \
        the database (kept under the data folder by SHA-256), checkpoints into the database and \
        marks the run completed (a task run's result stays in the database: `sinkstream export RUN`). A run that fails on --max-failures attempts in a row is marked \
        failed with its error. Only the run's own errors count (its document, its checkpoint, \
        the engine on it): a problem of this worker (its model, its disk) gives the run back \
        uncounted and stops the worker with the fix, and a lost connection or lease is never \
        counted: the worker backs off and carries on. SIGTERM or Ctrl-C: a final checkpoint, the lease is given back, \
        exit 130. A worker killed outright loses its lease after --lease-timeout; another worker \
        continues the run from its last checkpoint, bit-identically.

        The model is --model if given, else the run's model path if it exists here, else the \
        default model; its SHA-256 must be the run's.

        Examples:
          sinkstream worker --db postgres://me@db.example/sinkstream --threads 1
          sinkstream worker --db "$SINKSTREAM_DB" --max-runs 10 --idle-exit 60
        """)

    @Option(help: "Stop after this many completed runs (failed attempts do not count; default: no limit).")
    var maxRuns: Int?

    @Option(help: ArgumentHelp("Stop after this many seconds with nothing to claim (default: wait for work forever).", valueName: "seconds"))
    var idleExit: Double?

    @Option(help: ArgumentHelp("A lease not renewed for this long is lost: another worker may take the run over.", valueName: "seconds"))
    var leaseTimeout: Double = PostgresStore.defaultLease

    @Option(help: ArgumentHelp("Seconds between looks at an empty queue.", valueName: "seconds"))
    var poll: Double = 1

    @Option(help: "Fail a run for good after this many failed attempts in a row.")
    var maxFailures: Int = 3

    @Option(help: ArgumentHelp("Only claim runs of this batch.", valueName: "id"))
    var batch: String?

    @OptionGroup var storeOptions: StoreOptions

    @OptionGroup var options: ModelOptions

    @OptionGroup var output: ProgressOptions

    func validate() throws {
        if let maxRuns, maxRuns < 1 { throw ValidationError("Please give --max-runs a positive number; got \(maxRuns).") }
        if let idleExit, idleExit < 0 { throw ValidationError("Please give --idle-exit 0 or more seconds.") }
        if !(leaseTimeout >= 1) { throw ValidationError("Please give --lease-timeout at least 1 second; got \(leaseTimeout).") }
        if !(poll > 0) { throw ValidationError("Please give --poll a positive number of seconds.") }
        if maxFailures < 1 { throw ValidationError("Please give --max-failures a positive number.") }
    }

    func run() throws {
        Interruption.install()
        let store = try storeOptions.openPostgres(lease: leaseTimeout, for: "worker")
        store.maxFailures = maxFailures
        let me = WorkerIdentity.current
        output.notice("worker \(me) on \(store.location) (lease \(leaseTimeout) s)")
        var models: [String: (model: LanguageModel, sha256: String)] = [:]
        var completed = 0, failed = 0
        var idleSince = Date()
        var backoff = poll
        /// Waits before the next claim after a store problem, longer each time (up to 30 s).
        func backOff(_ why: String) {
            printError("worker \(me): \(why) Retrying in \(String(format: "%.1f", backoff)) s.")
            Self.sleep(backoff)
            backoff = min(backoff * 2, 30)
        }
        var cannotWork: InputError?
        while !Interruption.isRequested {
            if let maxRuns, completed >= maxRuns { break }
            let claim: Claim?
            do {
                claim = try store.claim(worker: me, lease: leaseTimeout, batchID: batch)
            } catch let error as StoreError where error.isTransient {
                // The store already retried a lost connection for its retry window; keep trying.
                backOff(error.message)
                continue
            }
            guard let claim else {
                backoff = poll
                if let idleExit, Date().timeIntervalSince(idleSince) >= idleExit { break }
                Self.sleep(poll)
                continue
            }
            var stop = false
            switch work(claim, store: store, me: me, models: &models) {
            case .completed:
                completed += 1
                backoff = poll
            case .paused:
                stop = true
            case .failed:
                failed += 1
                backoff = poll
            case .lost:
                break
            case .handedBack(let why):
                backOff(why)
            case .cannotWork(let error):
                cannotWork = error
                stop = true
            }
            if stop || Interruption.isRequested { break }
            idleSince = Date()
        }
        store.close()
        let tally = "\(completed) runs completed, \(failed) failed attempts"
        if let cannotWork {
            printError("worker \(me): stopped after \(tally): this worker cannot work on the queue's runs.")
            throw cannotWork
        }
        if Interruption.isRequested {
            output.notice("worker \(me): stopped on request after \(tally) (any run in progress was checkpointed and given back)")
            throw ExitCode(ExitStatus.paused.rawValue)
        }
        output.notice("worker \(me): \(tally), exiting")
    }

    /// How one claimed run went.
    enum Attempt {
        case completed
        /// Stopped on request (checkpointed, given back).
        case paused
        /// The run (its document, checkpoint or configuration) failed: counted against it.
        case failed
        /// A store problem (unreachable, busy, the lease taken over): nothing is counted
        /// against the run; the worker backs off and carries on.
        case handedBack(String)
        /// The lease was taken over by another worker: it goes on with the run.
        case lost
        /// This worker cannot work on the run (its model, its disk, the run's kind): the run
        /// was given back uncounted, and the worker stops with this error naming the fix.
        case cannotWork(InputError)
    }

    /// A problem of this worker, not of the run: never counted against the run.
    struct WorkerProblem: Error, CustomStringConvertible {
        var error: InputError
        var description: String { error.description }
        init(_ text: String, status: ExitStatus) { error = InputError(text, status: status) }
    }

    /// One claimed run: document, model, then scored or its task run. Only an error of the run itself (its
    /// document, its checkpoint, the engine on it) is recorded against it (it goes back to
    /// the queue or, after --max-failures, is failed); a problem of this worker or of the
    /// store gives it back uncounted.
    private func work(_ claim: Claim, store: PostgresStore, me: WorkerIdentity,
                      models: inout [String: (model: LanguageModel, sha256: String)]) -> Attempt {
        let id = claim.runID
        /// Gives the run back to the queue without counting the attempt (a no-op when the
        /// lease was already given back or lost).
        func handBack() {
            do {
                try store.releaseLease(runID: id)
            } catch {
                printError("worker \(me): could not give run \(id) back (\(error)); its lease runs out in \(Int(leaseTimeout)) s.")
            }
        }
        let run: OpenedRun
        do {
            guard let record = try store.run(id: id) else { throw RunError.unknownRun(id) }
            let document = try localDocument(record, store: store)
            var modelOptions = options
            if modelOptions.model == nil, FileManager.default.fileExists(atPath: record.modelPath) { modelOptions.model = record.modelPath }
            if let config = try? JSONDecoder().decode(StoredPrecision.self, from: Data(record.config.utf8)) {
                modelOptions.precision = config.precision
            }
            let key = (modelOptions.model ?? "") + "|" + modelOptions.precision.rawValue
            if models[key] == nil {
                do {
                    let model = try modelOptions.load(logger: options.makeLogger())
                    models[key] = (model, try FileDigest.sha256(path: model.path))
                } catch {
                    throw WorkerProblem("this worker cannot load the model for run \(id) (\(error)); pass --model with the run's model (\(record.modelPath), SHA-256 \(record.modelSHA256)).", status: .unavailable)
                }
            }
            let (model, sha) = models[key]!
            guard sha == record.modelSHA256 else {
                throw WorkerProblem("this worker's model \(model.path) has SHA-256 \(sha), but run \(id) needs \(record.modelSHA256) (submitted with \(record.modelPath)): pass --model with that model.", status: .unavailable)
            }
            switch record.task {
            case .score:
                run = .score(try ScoreRun.resume(runID: id, store: store, model: model, modelSHA256: sha,
                                                 threads: options.threadCount, localDocument: document))
            case .summarize, .translate:
                run = .task(try TaskRun.resume(runID: id, store: store, model: model, modelSHA256: sha,
                                               threads: options.threadCount, localDocument: document))
            case .compare:
                throw WorkerProblem("run \(id) is a compare run, which workers do not run: run it with `sinkstream resume \(id)`.", status: .dataError)
            }
        } catch let problem as WorkerProblem {
            handBack()
            printError("worker \(me): run \(id) (attempt \(claim.attempt)) given back uncounted: \(problem)")
            return .cannotWork(problem.error)
        } catch let error as StoreError where error.isWorkerSide || error.code == .runLocked {
            handBack()
            return .handedBack("run \(id) (attempt \(claim.attempt)) given back uncounted: \(error.message)")
        } catch {
            printError("worker \(me): run \(id) (attempt \(claim.attempt)) cannot start: \(error)")
            do {
                if try store.fail(runID: id, error: "\(error)", maxFailures: maxFailures, token: claim.token) {
                    printError("worker \(me): run \(id) failed \(maxFailures) times in a row; marked failed.")
                }
            } catch let error as StoreError where error.isWorkerSide {
                // Whatever the failure left held is given up (a no-op once `fail` cleared it),
                // or the claim's heartbeat would keep renewing the lease.
                handBack()
                return .handedBack("could not record the failure of run \(id): \(error.message)")
            } catch {
                handBack()
                printError("worker \(me): could not record the failure of run \(id): \(error)")
            }
            return .failed
        }
        output.notice("worker \(me): run \(id) (attempt \(claim.attempt)) \(claim.resumes ? "resumes at \(run.position)" : "starts")")
        let start = Date(), first = run.tokens
        do {
            let outcome = try run.run(output: output, label: id)
            let seconds = Date().timeIntervalSince(start)
            let rate = Double(run.tokens - first) / max(seconds, 1e-9)
            output.notice(String(format: "worker %@: run %@ %@ at %@ (%.1f tokens/s)", me.description, id,
                                 outcome == .paused ? "paused" : "completed", run.position, rate))
            return outcome == .paused ? .paused : .completed
        } catch let error as StoreError where error.code == .leaseLost {
            // Another worker has the run now; nothing was written after the loss.
            printError("worker \(me): run \(id) stopped at \(run.position): \(error.message)")
            return .lost
        } catch let error as StoreError where error.isWorkerSide {
            // Nothing was recorded against the run; its lease was given back or runs out.
            return .handedBack("run \(id) stopped at \(run.position), not counted as a failure: \(error.message)")
        } catch let error as RunError where error.code == "run.storage" {
            return .handedBack("\(error)")
        } catch {
            // The lifecycle recorded the failed attempt against the run.
            printError("worker \(me): run \(id) stopped: \(error)")
            return .failed
        }
    }

    /// The precision of a stored run configuration (score or task).
    private struct StoredPrecision: Decodable {
        var precision: Precision
    }

    /// A claimed run opened for work: the same claim, hand-back and failure handling for
    /// every kind; only opening and running differ.
    enum OpenedRun {
        case score(ScoreRun)
        case task(TaskRun)

        /// Where the run is, for messages.
        var position: String {
            switch self {
            case .score(let run): "token \(run.scored)"
            case .task(let run): "section \(run.sectionCount)"
            }
        }

        /// Tokens worked on so far (scored, or read and generated).
        var tokens: Int {
            switch self {
            case .score(let run): run.scored
            case .task(let run): run.counters.promptTokens + run.counters.generatedTokens
            }
        }

        /// Works to the end or to a stop request; no result file is written (a task's outputs
        /// are in the store: `sinkstream export RUN`).
        func run(output: ProgressOptions, label: String) throws -> RunOutcome {
            switch self {
            case .score(let run): try RunDriver.run(run, output: output, label: label)
            case .task(let run): try TaskDriver.run(run, label: label, output: output)
            }
        }
    }

    /// The run's document as a local file, fetched from the database once per SHA-256.
    private func localDocument(_ record: RunRecord, store: PostgresStore) throws -> String {
        let dir = (storeOptions.dataDirectory as NSString).appendingPathComponent("worker-documents")
        let path = (dir as NSString).appendingPathComponent(record.documentSHA256 + ".txt")
        if FileManager.default.fileExists(atPath: path), (try? FileDigest.sha256(path: path)) == record.documentSHA256 {
            return path
        }
        let data = try store.document(sha256: record.documentSHA256, verify: SubmitCommand.sha256)
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let partial = path + ".\(getpid()).part"
            try data.write(to: URL(fileURLWithPath: partial))
            if rename(partial, path) != 0 { throw InputError("cannot rename \(partial) to \(path): \(String(cString: strerror(errno))).", status: .cannotCreate) }
        } catch let error as InputError {
            throw WorkerProblem("\(error.description) This worker keeps the documents of its runs under \(dir): make it writable (or free space there), or set XDG_DATA_HOME to another folder.", status: .cannotCreate)
        } catch {
            throw WorkerProblem("this worker cannot keep the document of run \(record.id) under \(dir) (\(error.localizedDescription)): make that folder writable (or free space there), or set XDG_DATA_HOME to another folder.", status: .cannotCreate)
        }
        return path
    }

    /// Sleeps, waking early on a stop request.
    static func sleep(_ seconds: Double) {
        let end = Date().addingTimeInterval(seconds)
        while !Interruption.isRequested, Date() < end { usleep(50_000) }
    }
}
