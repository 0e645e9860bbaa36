import ArgumentParser
import Foundation
import Kernels

@main
struct Sinkstream: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sinkstream",
        abstract: "Stream very long documents through a local llama-family model with attention sinks.",
        discussion: """
        Sinkstream scores documents of any length with StreamingLLM attention (a few attention-sink \
        tokens plus a rolling window of recent keys and values), in constant memory, and reports \
        perplexity over document length.

        The default model, SmolLM2-135M-Instruct (Q4_1 GGUF), is downloaded on first use with pip \
        (`sinkstream model fetch`); any llama-architecture GGUF works with --model.

        Examples:
          sinkstream score book.txt
          sinkstream score book.txt --mode window --window 1024 --nll-out losses.tsv
          sinkstream report RUN --bucket 512 --worst 5
          sinkstream compare book.txt --modes dense,window,sink,recompute --tokens 20000
          sinkstream generate --chat --prompt "What is the capital of France?"
          sinkstream bench
        """,
        subcommands: [
            ScoreCommand.self, SummarizeCommand.self, TranslateCommand.self, ResumeCommand.self, RunsCommand.self,
            ReportCommand.self, CompareCommand.self, ExportCommand.self, GenerateCommand.self, BenchRunsCommand.self,
            TokenizeCommand.self, ModelCommand.self, BenchCommand.self,
        ]
    )

    static func main() {
        // The process owns its cores: with one thread per CPU, each thread keeps a CPU of its
        // own (see ThreadPool.init); SINKSTREAM_PIN=0 leaves placement to the scheduler.
        ThreadPool.pinsThreadsByDefault = ProcessInfo.processInfo.environment["SINKSTREAM_PIN"] != "0"
        main(nil)
    }
}
