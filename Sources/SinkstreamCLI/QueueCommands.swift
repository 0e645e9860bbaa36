#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Foundation
import Model
import Pipeline
import PostgresStore
import Store

/// `sinkstream submit`: documents into the PostgreSQL store, one queued score run per file.
struct SubmitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "submit",
        abstract: "Queue one score run per document in a PostgreSQL run store, for `sinkstream worker`s.",
        discussion: """
        Each document is stored in the database (content-addressed by SHA-256, in 1 MiB chunks, \
        once however many runs use it), so workers on other machines need no shared file system. \
        Every run gets the full configuration the same `score` options give it. Prints the batch \
        id; `sinkstream runs --batch ID` follows the batch.

        Examples:
          sinkstream submit books/*.txt --db postgres://me@db.example/sinkstream
          sinkstream submit a.txt b.txt --window 512 --tokens 20000 --db "$SINKSTREAM_DB"
        """)

    @Argument(help: "The UTF-8 text files to score.")
    var files: [String] = []

    @OptionGroup var settings: ScoreSettings

    @OptionGroup var storeOptions: StoreOptions

    @OptionGroup var options: ModelOptions

    @OptionGroup var output: ProgressOptions

    func validate() throws {
        if files.isEmpty { throw ValidationError("Please name at least one document to submit.") }
        if files.contains("-") { throw ValidationError("Standard input cannot be submitted; save it to a file first.") }
    }

    func run() throws {
        let store = try storeOptions.openPostgres(for: "submit")
        let model = try options.load(logger: options.makeLogger())
        let modelSHA = try FileDigest.sha256(path: model.path)
        let config = settings.configuration(precision: options.precision)
        let batchID = RunID.random()
        var runIDs: [String] = []
        for file in files {
            let new = try RunLifecycle.describe(
                task: .score, documentPath: file, tokenizer: model.tokenizer, model: model, modelSHA256: modelSHA,
                config: config, replaceInvalid: config.replaceInvalid, mode: config.mode.description, batchID: batchID)
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
            output.notice("queued run \(record.id): \(file) (\(data.count) bytes)")
        }
        output.notice("batch \(batchID): \(runIDs.count) runs in \(store.location); follow with: sinkstream runs --batch \(batchID)")
        print(batchID)
    }

    static func sha256(_ data: Data) -> String { FileDigest.sha256(data: data) }
}

/// `sinkstream worker`: claims queued runs from a PostgreSQL run store and scores them.
struct WorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Claim queued runs from a PostgreSQL run store and score them, one after another.",
        discussion: """
        A worker claims the oldest queued run, or one whose worker died (its lease ran out), with \
        SELECT … FOR UPDATE SKIP LOCKED, so no run is ever worked on by two live workers. It holds \
        a lease that a heartbeat renews every third of --lease-timeout, fetches the document from \
        the database (kept under the data folder by SHA-256), checkpoints into the database and \
        marks the run completed. A run that fails on --max-failures attempts in a row is marked \
        failed with its error. SIGTERM or Ctrl-C: a final checkpoint, the lease is given back, \
        exit 130. A worker killed outright loses its lease after --lease-timeout; another worker \
        continues the run from its last checkpoint, bit-identically.

        The model is --model if given, else the run's model path if it exists here, else the \
        default model; its SHA-256 must be the run's.

        Examples:
          sinkstream worker --db postgres://me@db.example/sinkstream --threads 1
          sinkstream worker --db "$SINKSTREAM_DB" --max-runs 10 --idle-exit 60
        """)

    @Option(help: "Stop after this many runs (default: no limit).")
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
        var finished = 0
        var idleSince = Date()
        var backoff = poll
        while !Interruption.isRequested {
            if let maxRuns, finished >= maxRuns { break }
            let claim: Claim?
            do {
                claim = try store.claim(worker: me, lease: leaseTimeout, batchID: batch)
                backoff = poll
            } catch let error as StoreError where error.code == .unreachable {
                // The store already retried with backoff for its retry window; keep trying.
                printError("worker \(me): \(error.message) Retrying in \(Int(backoff)) s.")
                Self.sleep(backoff)
                backoff = min(backoff * 2, 30)
                continue
            }
            guard let claim else {
                if let idleExit, Date().timeIntervalSince(idleSince) >= idleExit { break }
                Self.sleep(poll)
                continue
            }
            let outcome = work(claim, store: store, me: me, models: &models)
            if outcome == .paused { break }
            finished += 1
            idleSince = Date()
        }
        store.close()
        if Interruption.isRequested {
            output.notice("worker \(me): stopped on request after \(finished) runs (any run in progress was checkpointed and given back)")
            throw ExitCode(ExitStatus.paused.rawValue)
        }
        output.notice("worker \(me): \(finished) runs done, exiting")
    }

    /// One claimed run: document, model, score. Errors are reported and recorded (the run goes
    /// back to the queue or, after --max-failures, is failed); the worker carries on.
    private func work(_ claim: Claim, store: PostgresStore, me: WorkerIdentity,
                      models: inout [String: (model: LanguageModel, sha256: String)]) -> RunOutcome? {
        let id = claim.runID
        let run: ScoreRun
        do {
            guard let record = try store.run(id: id) else { throw RunError.unknownRun(id) }
            guard record.task == .score else {
                throw InputError("run \(id) is a \(record.task.rawValue) run; workers run score runs only.", status: .dataError)
            }
            let document = try localDocument(record, store: store)
            var modelOptions = options
            if modelOptions.model == nil, FileManager.default.fileExists(atPath: record.modelPath) { modelOptions.model = record.modelPath }
            if let config = try? JSONDecoder().decode(ScoreConfiguration.self, from: Data(record.config.utf8)) {
                modelOptions.precision = config.precision
            }
            let key = (modelOptions.model ?? "") + "|" + modelOptions.precision.rawValue
            if models[key] == nil {
                let model = try modelOptions.load(logger: options.makeLogger())
                models[key] = (model, try FileDigest.sha256(path: model.path))
            }
            let (model, sha) = models[key]!
            run = try ScoreRun.resume(runID: id, store: store, model: model, modelSHA256: sha,
                                      threads: options.threadCount, localDocument: document)
        } catch {
            printError("worker \(me): run \(id) (attempt \(claim.attempt)) cannot start: \(error)")
            if let final = try? store.fail(runID: id, error: "\(error)", maxFailures: maxFailures, token: claim.token), final {
                printError("worker \(me): run \(id) failed \(maxFailures) times in a row; marked failed.")
            }
            return nil
        }
        output.notice("worker \(me): run \(id) (attempt \(claim.attempt)) \(claim.resumes ? "resumes at token \(run.scored)" : "starts")")
        let start = Date(), first = run.scored
        do {
            let outcome = try RunDriver.run(run, output: output, label: id)
            let seconds = Date().timeIntervalSince(start)
            let rate = Double(run.scored - first) / max(seconds, 1e-9)
            output.notice(String(format: "worker %@: run %@ %@ at token %d (%.1f tokens/s)", me.description, id,
                                 outcome == .paused ? "paused" : "completed", run.scored, rate))
            return outcome
        } catch {
            // The lifecycle recorded the failed attempt (or the lease was lost: nothing to write).
            printError("worker \(me): run \(id) stopped: \(error)")
            return nil
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
            throw error
        } catch {
            throw InputError("cannot keep the document of run \(record.id) under \(dir): \(error.localizedDescription).", status: .cannotCreate)
        }
        return path
    }

    /// Sleeps, waking early on a stop request.
    static func sleep(_ seconds: Double) {
        let end = Date().addingTimeInterval(seconds)
        while !Interruption.isRequested, Date() < end { usleep(50_000) }
    }
}
