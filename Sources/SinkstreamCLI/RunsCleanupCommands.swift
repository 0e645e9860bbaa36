import ArgumentParser
import Foundation
import Pipeline
import PostgresStore
import Store

/// A length of time such as `30m`, `12h`, `7d` or `2w` (also `45s`).
struct AgeOption: ExpressibleByArgument {
    let seconds: TimeInterval
    let text: String

    init?(argument: String) {
        let units: [Character: TimeInterval] = ["s": 1, "m": 60, "h": 3_600, "d": 86_400, "w": 604_800]
        guard let last = argument.last, let unit = units[last],
              let value = Double(argument.dropLast()), value >= 0, value.isFinite else { return nil }
        seconds = value * unit
        text = argument
    }
}

extension RunsCommand {
    struct Delete: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete runs with everything stored for them.",
            discussion: """
            Deletes the runs' checkpoints, K/V caches, losses, metrics and outputs, and their lock \
            files. All or nothing: if an id is unknown, or a live process holds one of the runs, \
            nothing is deleted. The file shrinks (VACUUM) when the freed space is worth it.

            Example:
              sinkstream runs delete r3kq7va r8m2xz0
            """)

        @Argument(help: ArgumentHelp("The run ids (see `sinkstream runs`).", valueName: "run-id"))
        var runIDs: [String] = []

        @OptionGroup var storeOptions: StoreOptions

        func validate() throws {
            if runIDs.isEmpty { throw ValidationError("Please name at least one run to delete (`sinkstream runs` lists them).") }
        }

        func run() throws {
            guard storeOptions.exists else { throw RunError.unknownRun(runIDs[0]) }
            if storeOptions.isPostgres { return try deletePostgres() }
            let store = try storeOptions.openSQLite(for: "runs delete")
            // Every id first: an unknown one deletes nothing.
            for id in runIDs where try store.run(id: id) == nil { throw RunError.unknownRun(id) }
            let before = store.fileBytesOnDisk()
            let deleted = try store.deleteRuns(ids: runIDs)
            for run in deleted { print("deleted run \(run.runID) (\(ByteCount.format(run.bytes)))") }
            let freed = deleted.reduce(0) { $0 + $1.bytes }
            // Tidy up like prune does: the file shrinks when the freed space pays for a VACUUM.
            let compaction = try store.prune(PruneOptions(keepCache: true))
            print("freed \(ByteCount.format(freed)) of stored data" + PruneOutput.fileLine(before: before, report: compaction))
            if let skipped = compaction.vacuumSkipped { print("not vacuumed: \(skipped)") }
        }

        /// On PostgreSQL: every id must exist and no live worker may hold one of the runs,
        /// else nothing is deleted; the server reclaims the space itself (autovacuum).
        private func deletePostgres() throws {
            let store = try storeOptions.openPostgres(for: "runs delete")
            defer { store.close() }
            var records: [RunRecord] = []
            for id in runIDs {
                guard let record = try store.run(id: id) else { throw RunError.unknownRun(id) }
                records.append(record)
            }
            for record in records {
                let run = store.stateAndHolder(of: record)
                if run.state == .running {
                    let who = (run.holderHost.map { $0 + ":" } ?? "") + (run.holderPID.map(String.init) ?? "?")
                    throw StoreError(
                        code: .runLocked, path: store.location,
                        message: "Run \(record.id) in \(store.location) is held by worker \(who) (its lease is live); nothing was deleted. Stop that worker or wait for the run to finish.",
                        runID: record.id, holderPID: run.holderPID)
                }
            }
            for record in records {
                try store.deleteRun(id: record.id)
                print("deleted run \(record.id)")
            }
            print("deleted \(records.count) run\(records.count == 1 ? "" : "s") from \(store.location); PostgreSQL reclaims the space itself (autovacuum).")
        }
    }

    struct Prune: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Free the space of runs nothing needs any more.",
            discussion: """
            Always drops the K/V caches of completed runs (only resuming needs them, and a \
            completed run cannot be resumed; losses, metrics and outputs stay), unless \
            --keep-cache. With --completed, deletes completed runs entirely (with --older-than, \
            only those completed longer ago than that). Runs that can still go on (running, \
            interrupted, paused, failed) are never touched. Removes lock files nobody holds, then \
            vacuums the database when that pays (more than a quarter of the file, or 64 MiB, is \
            free) and no run is running.

            Examples:
              sinkstream runs prune
              sinkstream runs prune --completed --older-than 7d
              sinkstream runs prune --completed --dry-run
            """)

        @Flag(help: "Also delete completed runs entirely (see --older-than).")
        var completed = false

        @Option(help: ArgumentHelp("With --completed: only runs completed longer ago than this (30m, 12h, 7d, 2w).", valueName: "age"))
        var olderThan: AgeOption?

        @Flag(help: "Keep the K/V caches of completed runs.")
        var keepCache = false

        @Flag(help: "Only show what would be done; change nothing.")
        var dryRun = false

        @OptionGroup var storeOptions: StoreOptions

        func validate() throws {
            if olderThan != nil && !completed {
                throw ValidationError("--older-than selects which completed runs --completed deletes; please give --completed with it.")
            }
        }

        func run() throws {
            guard storeOptions.exists else {
                print("nothing to prune: there is no run store at \(storeOptions.path).")
                return
            }
            if storeOptions.isPostgres { return try prunePostgres() }
            let store = try storeOptions.openSQLite(readOnly: dryRun, for: "runs prune")
            let options = PruneOptions(
                deleteCompleted: completed, completedBefore: olderThan.map { Date().addingTimeInterval(-$0.seconds) },
                keepCache: keepCache, dryRun: dryRun)
            let report = try store.prune(options)
            print(PruneOutput.render(report, path: store.path), terminator: "")
        }

        /// On PostgreSQL: deletes the completed runs --completed (and --older-than) select,
        /// skipping any a live worker holds. A completed run's K/V cache is already dropped
        /// when it completes (unless it was started with --keep-cache).
        private func prunePostgres() throws {
            let store = try storeOptions.openPostgres(readOnly: dryRun, for: "runs prune")
            defer { store.close() }
            let would = dryRun ? "would " : ""
            let all = try store.runs(task: nil, state: nil, batchID: nil)
            let unfinished = all.filter { $0.state != .completed }.count
            var out = ""
            if completed {
                let before = olderThan.map { Date().addingTimeInterval(-$0.seconds) }
                let chosen = all.filter { run in
                    run.state == .completed && before.map { (run.record.completedAt ?? .distantFuture) < $0 } ?? true
                }
                var deleted: [String] = []
                for run in chosen {
                    if !dryRun { try store.deleteRun(id: run.record.id) }
                    deleted.append(run.record.id)
                }
                out += deleted.isEmpty ? "no completed run to prune\n"
                    : "\(would)delete \(deleted.count) completed run\(deleted.count == 1 ? "" : "s"): \(deleted.joined(separator: ", "))\n"
            } else {
                out += "nothing to drop: on PostgreSQL a completed run's K/V cache is dropped when it completes (unless it ran with --keep-cache); --completed deletes completed runs\n"
            }
            if !keepCache, !completed, all.contains(where: { $0.state == .completed && (try? JSONDecoder().decode(ScoreConfiguration.self, from: Data($0.record.config.utf8)))?.keepsCache == true }) {
                out += "runs completed with --keep-cache keep their K/V cache on PostgreSQL; `sinkstream runs delete` removes such a run\n"
            }
            if unfinished > 0 {
                out += "kept \(unfinished) unfinished run\(unfinished == 1 ? "" : "s") (queued, running, interrupted, paused or failed: they can still go on)\n"
            }
            out += "\(store.location): PostgreSQL reclaims the space itself (autovacuum)\n"
            if dryRun { out += "dry run: nothing was changed.\n" }
            print(out, terminator: "")
        }
    }
}

/// The text `runs prune` prints.
enum PruneOutput {
    static func render(_ r: PruneReport, path: String) -> String {
        let would = r.dryRun ? "would " : ""
        var out = ""
        func total(_ runs: [PrunedRun]) -> String { ByteCount.format(runs.reduce(0) { $0 + $1.bytes }) }
        func list(_ runs: [PrunedRun]) -> String { runs.map(\.runID).joined(separator: ", ") }
        if !r.droppedCaches.isEmpty {
            out += "\(would)drop the K/V caches of \(r.droppedCaches.count) completed run\(r.droppedCaches.count == 1 ? "" : "s") (\(total(r.droppedCaches))): \(list(r.droppedCaches))\n"
        }
        if !r.deletedRuns.isEmpty {
            out += "\(would)delete \(r.deletedRuns.count) completed run\(r.deletedRuns.count == 1 ? "" : "s") (\(total(r.deletedRuns))): \(list(r.deletedRuns))\n"
        }
        if r.droppedCaches.isEmpty && r.deletedRuns.isEmpty {
            out += "no completed run to prune\n"
        }
        if !r.skippedInUse.isEmpty {
            out += "skipped (in use by a live process): \(r.skippedInUse.joined(separator: ", "))\n"
        }
        if r.keptUnfinished > 0 {
            out += "kept \(r.keptUnfinished) unfinished run\(r.keptUnfinished == 1 ? "" : "s") (running, interrupted, paused or failed: they can still go on)\n"
        }
        if !r.removedLockFiles.isEmpty {
            out += "\(r.dryRun ? "would remove" : "removed") \(r.removedLockFiles.count) lock file\(r.removedLockFiles.count == 1 ? "" : "s") nobody held\n"
        }
        if let skipped = r.vacuumSkipped { out += "not vacuumed: \(skipped)\n" }
        out += "\(path): " + sizes(r) + "\n"
        if r.dryRun { out += "dry run: nothing was changed.\n" }
        return out
    }

    static func sizes(_ r: PruneReport) -> String {
        let before = ByteCount.format(r.fileBytesBefore)
        let after = (r.dryRun ? "about " : "") + ByteCount.format(r.fileBytesAfter)
        let how = r.vacuumed ? (r.dryRun ? " (with VACUUM)" : " (vacuumed)")
            : r.freeBytes > 0 ? " (\(ByteCount.format(r.freeBytes)) free inside, reused by later runs; not worth a VACUUM)" : ""
        return "\(before) before, \(after) after\(how)"
    }

    /// `; the database file: 12.0 MiB → 1.1 MiB (vacuumed)` for `runs delete`.
    static func fileLine(before: Int64, report: PruneReport) -> String {
        "; \(ByteCount.format(before)) before, \(ByteCount.format(report.fileBytesAfter)) after"
            + (report.vacuumed ? " (vacuumed)" : report.freeBytes > 0 ? " (\(ByteCount.format(report.freeBytes)) free inside the file)" : "")
    }
}
