import ArgumentParser
import Foundation
import GGUF
import Model
import Pipeline
import Report
import Store
import Streaming
import Tasks
import Tokenization

/// The exit statuses of every command (the table in the README), after BSD's sysexits.h.
/// The error types are mapped here and nowhere else; commands throw the typed error, with
/// its cause, and this decides the status and prints the error's sentence.
enum ExitStatus: Int32, CaseIterable {
    /// Done.
    case success = 0
    /// Some inputs of a batch failed (each is reported), or an unexpected error.
    case failure = 1
    /// The command line is wrong: an unknown option, a value out of bounds, options that conflict.
    case usage = 64
    /// An input cannot be used: a document that is not text or changed, a run that cannot be
    /// resumed as asked (completed, document or model changed, damaged), a task configuration
    /// that does not fit.
    case dataError = 65
    /// Something named does not exist: a document file, a run id.
    case noInput = 66
    /// The model cannot be used: missing, not a GGUF file, damaged, an unsupported
    /// architecture or tensor type, too big for the memory limit.
    case unavailable = 69
    /// An output file or the run database cannot be created where it should be (a read-only or
    /// missing location).
    case cannotCreate = 73
    /// The run database cannot be read or written: damaged, another program's, a newer schema.
    case ioError = 74
    /// Try again later: the disk is full (the run is paused at its last checkpoint), another
    /// process holds the run, the database stayed busy.
    case temporaryFailure = 75
    /// The database server refused the credentials (a wrong password, an unknown user).
    case noPermission = 77
    /// Paused by Ctrl-C or SIGTERM after a final checkpoint; `sinkstream resume RUN` continues.
    case paused = 130

    /// What the README's table says of each status.
    var meaning: String {
        switch self {
        case .success: "done"
        case .failure: "some inputs of a batch failed (each is reported), or an unexpected error"
        case .usage: "the command line is wrong (unknown option, value out of bounds, conflicting options)"
        case .dataError: "an input cannot be used: a document that is not text, changed, or too long for dense attention; a run that cannot be resumed as asked; a task configuration that does not fit"
        case .noInput: "a document file or a run id does not exist"
        case .unavailable: "the model cannot be used: missing, not GGUF, damaged, unsupported, too big for the memory limit"
        case .cannotCreate: "an output file or the run database cannot be created there (read-only or missing location)"
        case .ioError: "the run database cannot be read or written (damaged, another program's, newer schema)"
        case .temporaryFailure: "try again later: disk full (the run is paused at its last checkpoint), the run is held by another process or worker, the database stayed busy, the PostgreSQL server stayed unreachable (after retries with backoff), a worker's lease was taken over"
        case .noPermission: "the PostgreSQL server refused the credentials (wrong password, unknown user); the password is never printed"
        case .paused: "paused by Ctrl-C or SIGTERM after a final checkpoint; `sinkstream resume RUN` continues"
        }
    }

    /// The status for an error Sinkstream throws, or nil for the argument parser's own
    /// (usage errors, help, `ExitCode`), which it reports itself.
    static func of(_ error: Error) -> ExitStatus? {
        switch error {
        case let e as DocumentError:
            return e.code == "document.missing" ? .noInput : .dataError
        case let e as RunError:
            switch e.code {
            case "run.unknown": return .noInput
            case "run.storage": return .temporaryFailure
            case "run.memory": return .unavailable
            default: return .dataError
            }
        case let e as StoreError:
            switch e.code {
            case .runNotFound: return .noInput
            case .runLocked, .diskFull, .busy, .unreachable, .leaseLost: return .temporaryFailure
            case .authentication: return .noPermission
            case .readOnlyLocation, .missingDirectory: return .cannotCreate
            default: return .ioError
            }
        case is ModelError, is GGUFError, is TokenizerError, is ModelFetchError:
            return .unavailable
        case is StreamingError, is ChatTemplate.Failure:
            return .dataError
        case let e as TaskError:
            return e.code == "task.template" ? .unavailable : .dataError
        case is ReportError, is RunReportError:
            return .dataError
        case let e as InputError:
            return e.status
        default:
            return nil
        }
    }
}

/// A problem with something the user named on the command line, found while running (a file
/// that cannot be read or written, an empty batch): the sentence and the status.
struct InputError: Error, CustomStringConvertible {
    var description: String
    var status: ExitStatus

    init(_ description: String, status: ExitStatus = .dataError) {
        self.description = description
        self.status = status
    }
}

extension ParsableCommand {
    /// Runs the command line like `main()`, with Sinkstream's errors printed as their sentence
    /// and mapped to the exit status table.
    static func runMapped() -> Never {
        do {
            var command = try parseAsRoot(nil)
            try command.run()
            Foundation.exit(0)
        } catch {
            guard let status = ExitStatus.of(error) else { exit(withError: error) }
            if let store = error as? StoreError, store.code == .runNotFound, let id = store.runID {
                // The same sentence whichever layer noticed the unknown id.
                printError("Error: \(RunError.unknownRun(id))")
            } else {
                printError("Error: \(error)")
            }
            Foundation.exit(status.rawValue)
        }
    }
}
