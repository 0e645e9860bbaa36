import ArgumentParser
import Foundation
import Store

/// Where runs are stored.
struct StoreOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The run database (default: $SINKSTREAM_DB, else $XDG_DATA_HOME/sinkstream/runs.sqlite).", valueName: "path"))
    var db: String?

    /// The database path in use.
    var path: String { db ?? RunStore.defaultPath(environment: processEnvironment) }

    /// Whether the database file exists yet.
    var exists: Bool { FileManager.default.fileExists(atPath: path) }

    func open(readOnly: Bool = false) throws -> RunStore {
        // Fault injection for the crash tests: hold each checkpoint transaction open N ms.
        let delay = processEnvironment["SINKSTREAM_FAULT_CHECKPOINT_DELAY_MS"].flatMap(Double.init).map { $0 / 1000 }
        return try RunStore(path: path, readOnly: readOnly, checkpointCommitDelay: delay)
    }
}
