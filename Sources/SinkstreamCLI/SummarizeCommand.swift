import ArgumentParser
import Tasks

struct SummarizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "summarize",
        abstract: "Summarize documents of any length: a note per section, then a summary of the notes.",
        discussion: """
        The document is cut into sections at natural boundaries (blank lines, headings, sentence \
        ends); each streams through the sink cache (one stream for the whole document) and the \
        model writes a short note on it. The final summary is written from the notes (notes of \
        notes when they do not fit). The result is Markdown: the summary, then each section's note \
        linked to its byte range. Runs are checkpointed: Ctrl-C pauses, `sinkstream resume RUN` \
        (or `--batch ID`) continues with identical output.

        Examples:
          sinkstream summarize book.txt --output book.summary.md
          sinkstream summarize a.txt b.txt c.txt --output-dir summaries --length short
          cat notes.txt | sinkstream summarize -
        """)

    @OptionGroup var task: TaskOptions

    @OptionGroup var summary: SummaryOptions

    @OptionGroup var storeOptions: StoreOptions

    @OptionGroup var options: ModelOptions

    @OptionGroup var output: ProgressOptions

    func run() throws {
        try TaskDriver.runBatch(files: task.files, kind: .summarize, storeOptions: storeOptions, options: options, output: output, allowBase: task.allowBase) { input in
            task.configuration(kind: .summarize, precision: options.precision, outputPath: task.outputPath(for: input, kind: .summarize), length: summary.length)
        }
    }
}
