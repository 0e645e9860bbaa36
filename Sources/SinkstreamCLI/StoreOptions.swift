import ArgumentParser
import Foundation
import Store

/// Where runs are stored.
struct StoreOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The run database (default: $SINKSTREAM_DB, else $XDG_DATA_HOME/sinkstream/runs.sqlite).", valueName: "path"))
    var db: String?

    func open(readOnly: Bool = false) throws -> RunStore {
        let path = db ?? RunStore.defaultPath()
        return try RunStore(path: path, readOnly: readOnly)
    }
}
