import ArgumentParser
import Foundation
import Kernels
import Logging
import Model
import Tokenization

extension Precision: ExpressibleByArgument {}

/// Options shared by every command that runs the model.
struct ModelOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("A GGUF model file or a catalog name from `sinkstream model list` (default: $SINKSTREAM_MODEL, else the cached SmolLM2-135M-Instruct; catalog models are fetched on first use).", valueName: "path-or-name"))
    var model: String?

    @Option(name: .long, help: "Threads for the matrix products and attention (default: all cores). With one thread per core, each thread is pinned to its own core (SINKSTREAM_PIN=0 turns that off).")
    var threads: Int?

    @Option(name: .long, help: "Arithmetic: 'fast' (8-bit activations, integer kernels) or 'f32' (float activations, the verification path).")
    var precision: Precision = .fast

    @Flag(name: [.short, .long], help: "Log more detail to standard error.")
    var verbose = false

    func validate() throws {
        if let threads, threads < 1 || threads > 256 {
            throw ValidationError("Please give --threads a value between 1 and 256.")
        }
    }

    var threadCount: Int { threads ?? ProcessInfo.processInfo.activeProcessorCount }

    func makeLogger() -> Logger { SinkstreamCLI.makeLogger(verbose: verbose) }

    /// Resolves (fetching if needed) and loads the model.
    func load(logger: Logger) throws -> LanguageModel {
        let path = try DefaultModel.resolve(explicit: model, environment: processEnvironment, logger: logger)
        return try LanguageModel(path: path, precision: precision, logger: logger)
    }

    /// Resolves (fetching if needed) the model and loads only its tokenizer.
    func loadTokenizer(logger: Logger) throws -> BPETokenizer {
        try GGUFTokenizer.load(path: try DefaultModel.resolve(explicit: model, environment: processEnvironment, logger: logger))
    }
}

/// The process's environment: the command line reads it and passes what the library needs.
let processEnvironment = ProcessInfo.processInfo.environment

/// The command line's logger (standard error).
func makeLogger(verbose: Bool) -> Logger {
    var logger = Logger(label: "sinkstream")
    logger.logLevel = verbose ? .debug : .info
    return logger
}

/// Writes a line to standard error.
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// Whether standard error is a terminal (progress lines are drawn only then).
var standardErrorIsTerminal: Bool { isatty(2) != 0 }
