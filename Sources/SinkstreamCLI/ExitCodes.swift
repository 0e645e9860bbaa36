import ArgumentParser
import Foundation
import Model
import Pipeline
import Store

/// Exit statuses of `sinkstream` (after BSD `sysexits.h` where one fits).
enum ExitStatus {
    /// Done.
    static let ok: Int32 = 0
    /// Any other failure.
    static let failure: Int32 = 1
    /// Bad command line (ArgumentParser's validation errors exit with this too).
    static let usage: Int32 = 64
    /// The input document cannot be used (binary, invalid UTF-8, empty, …).
    static let dataError: Int32 = 65
    /// No such run in the store, or no such input file.
    static let noInput: Int32 = 66
    /// The model file cannot be used.
    static let unavailable: Int32 = 69
    /// The run store cannot be created or written where it is (permissions, missing directory).
    static let cannotCreate: Int32 = 73
    /// The run store cannot be read or is damaged (corrupt, foreign, newer schema, SQLite errors).
    static let ioError: Int32 = 74
    /// Temporary: the disk is full, or the store or a run is in use by another process; the
    /// same command can succeed later.
    static let temporary: Int32 = 75
    /// A run was paused by SIGINT/SIGTERM (checkpointed; `sinkstream resume` continues).
    static let paused: Int32 = 130
}

/// The exit status for an error.
func exitCode(for error: any Error) -> Int32 {
    switch error {
    case let exit as ExitCode:
        return exit.rawValue
    case is ValidationError:
        return ExitStatus.usage
    case let error as RunError:
        switch error.code {
        case "run.unknown": return ExitStatus.noInput
        case "run.storage": return ExitStatus.temporary
        default: return ExitStatus.failure
        }
    case let error as StoreError:
        switch error.code {
        case .runNotFound: return ExitStatus.noInput
        case .readOnlyLocation, .missingDirectory: return ExitStatus.cannotCreate
        case .diskFull, .busy, .runLocked: return ExitStatus.temporary
        case .foreignDatabase, .newerSchema, .notInitialized, .corruptDatabase, .invalidData, .lockFailed, .sqlite:
            return ExitStatus.ioError
        case .invalidArgument: return ExitStatus.failure
        }
    case let error as DocumentError:
        return error.code == "document.missing" ? ExitStatus.noInput : ExitStatus.dataError
    case is ModelError:
        return ExitStatus.unavailable
    default:
        return ExitStatus.failure
    }
}

/// Prints `Error: <sentence>` to standard error and returns the `ExitCode` to throw for `error`
/// (an `ExitCode` passes through silently; a `ValidationError` is left to ArgumentParser, which
/// prints the usage with it).
func reportFailure(_ error: any Error) -> any Error {
    if error is ExitCode || error is ValidationError { return error }
    if let store = error as? StoreError, store.code == .runNotFound, let id = store.runID {
        // The same sentence whichever layer noticed the unknown id.
        printError("Error: \(RunError.unknownRun(id))")
        return ExitCode(ExitStatus.noInput)
    }
    printError("Error: \(error)")
    return ExitCode(exitCode(for: error))
}
