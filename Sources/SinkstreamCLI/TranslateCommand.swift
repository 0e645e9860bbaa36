import ArgumentParser
import Tasks

struct TranslateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "translate",
        abstract: "Translate or restyle documents of any length, section by section.",
        discussion: """
        Each section is rendered by the model and written to the output as soon as it is done \
        (and checkpointed), aligned with the source section by section; --jsonl writes one JSON \
        object per section with the source byte range, source text and output. The previous \
        section and its rendering stay in the rolling window for continuity.

        Examples:
          sinkstream translate play.txt --to French --output play.fr.txt
          sinkstream translate hamlet.txt --style "modern English" --jsonl --output hamlet.jsonl
        """)

    @OptionGroup var task: TaskOptions

    @OptionGroup var translation: TranslationOptions

    @OptionGroup var storeOptions: StoreOptions

    @OptionGroup var options: ModelOptions

    @OptionGroup var output: ProgressOptions

    func validate() throws {
        try translation.check()
    }

    func run() throws {
        try TaskDriver.runBatch(files: task.files, kind: .translate, storeOptions: storeOptions, options: options, output: output, allowBase: task.allowBase) { input in
            task.configuration(kind: .translate, precision: options.precision, outputPath: task.outputPath(for: input, kind: .translate),
                               language: translation.language, style: translation.style)
        }
    }
}
