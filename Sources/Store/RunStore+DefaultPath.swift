import Foundation

extension RunStore {
    /// The default database location, creating its directory if needed.
    ///
    /// `$SINKSTREAM_DB` if set, else `$XDG_DATA_HOME/sinkstream/runs.sqlite`, where
    /// `XDG_DATA_HOME` defaults to `$HOME/.local/share`.
    /// - Parameter environment: The process environment (injectable for tests).
    /// - Returns: The path; if the directory cannot be created, opening the store reports why.
    public static func defaultPath(environment: [String: String]) -> String {
        let path: String
        if let explicit = environment["SINKSTREAM_DB"], !explicit.isEmpty {
            path = explicit
        } else {
            let dataHome: String
            if let xdg = environment["XDG_DATA_HOME"], !xdg.isEmpty {
                dataHome = xdg
            } else {
                let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
                dataHome = home + "/.local/share"
            }
            path = dataHome + "/sinkstream/runs.sqlite"
        }
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        return path
    }
}
