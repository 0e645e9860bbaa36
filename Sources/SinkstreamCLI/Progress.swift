import ArgumentParser
import Foundation
import Report

/// How progress is shown on standard error.
enum ProgressStyle: String, ExpressibleByArgument, CaseIterable {
    /// A line redrawn in place when standard error is a terminal; nothing otherwise.
    case auto
    /// The redrawn line, even when standard error is not a terminal.
    case line
    /// One JSON object per line about once a second, and one when the work ends (for scripts).
    case json
    /// Nothing.
    case none
}

/// `--quiet` and `--progress`, for every command that works for a while.
struct ProgressOptions: ParsableArguments {
    @Flag(name: [.short, .long], help: "Print no progress and no notices on standard error (errors and warnings still).")
    var quiet = false

    @Option(help: ArgumentHelp("Progress on standard error: auto (a line redrawn in place on a terminal, nothing otherwise), line, json (one JSON object per line about once a second, for scripts), none.",
                               valueName: "auto|line|json|none"))
    var progress: ProgressStyle = .auto

    @Option(help: ArgumentHelp("Seconds between progress updates (default: 0.2 for the line, 1 for json).", valueName: "seconds"))
    var progressEvery: Double?

    func validate() throws {
        if let progressEvery, !(progressEvery > 0 && progressEvery <= 3600) {
            throw ValidationError("Please give --progress-every a number of seconds above 0 and at most 3600; got \(progressEvery).")
        }
    }

    /// The style in use (`--quiet` wins).
    var style: ProgressStyle {
        if quiet { return .none }
        if progress == .auto { return standardErrorIsTerminal ? .line : .none }
        return progress
    }

    /// Writes a notice (not an error) to standard error unless `--quiet`.
    func notice(_ text: String) {
        if !quiet { printError(text) }
    }
}

/// One snapshot of a long piece of work.
struct ProgressSample {
    /// Tokens processed (scored, or read and generated).
    var tokens: Int
    /// How far through the work (0…1), from document bytes or from `--tokens`.
    var fraction: Double
    var perplexity: Double?
    /// Tasks: the section in progress and how many the document has.
    var section: Int?
    var sections: Int?
    /// Tasks: what is happening (`sections`, `reduce`).
    var phase: String?
    /// Tokens generated for the current output.
    var generating: Int?
}

/// Draws progress: a redrawn line or JSON lines, with a rate and an ETA.
///
/// The rate counts only the work of this process (a resumed run starts from its checkpoint).
/// The ETA is the time left at the pace since the display started, once at least three
/// seconds and some progress have passed; it is never shown as 0:00 before the end.
final class ProgressDisplay {
    private let style: ProgressStyle
    private let label: String?
    private let runID: String?
    private let start = Date()
    private var first: ProgressSample?
    private var lastDraw = Date.distantPast
    private var drawn = false

    private let interval: Double

    init(_ options: ProgressOptions, label: String? = nil, runID: String? = nil) {
        style = options.style
        interval = options.progressEvery ?? (style == .json ? 1 : 0.2)
        self.label = label
        self.runID = runID
    }

    func update(_ sample: ProgressSample) {
        if first == nil { first = sample }
        guard style == .line || style == .json else { return }
        let now = Date()
        guard now.timeIntervalSince(lastDraw) >= interval else { return }
        lastDraw = now
        draw(sample, final: false)
    }

    /// Ends the display: clears the line, or writes a last JSON object.
    func finish(_ sample: ProgressSample? = nil, status: String = "done") {
        switch style {
        case .line:
            if drawn { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        case .json:
            if let sample { draw(sample, final: true, status: status) }
        default:
            break
        }
    }

    private func draw(_ s: ProgressSample, final: Bool, status: String? = nil) {
        let elapsed = Date().timeIntervalSince(start)
        let base = first ?? s
        let rate = elapsed > 0 ? Double(s.tokens - base.tokens) / elapsed : 0
        let progressed = s.fraction - base.fraction
        var eta: Double?
        if !final, elapsed >= 3, progressed > 1e-6, s.fraction < 1 {
            eta = max(1, elapsed * (1 - s.fraction) / progressed)
        }
        if style == .json {
            var o: [String: Any] = ["event": final ? "end" : "progress", "tokens": s.tokens,
                                    "fraction": (s.fraction * 10_000).rounded() / 10_000,
                                    "tokens_per_second": (rate * 10).rounded() / 10, "elapsed_seconds": (elapsed * 10).rounded() / 10]
            if let runID { o["run"] = runID }
            if let eta { o["eta_seconds"] = eta.rounded() }
            if let p = s.perplexity, p.isFinite { o["perplexity"] = (p * 10_000).rounded() / 10_000 }
            if let v = s.section { o["section"] = v }
            if let v = s.sections { o["sections"] = v }
            if let v = s.phase { o["phase"] = v }
            if let v = s.generating { o["generating"] = v }
            if let status { o["status"] = status }
            if let data = try? JSONSerialization.data(withJSONObject: o, options: [.sortedKeys]) {
                FileHandle.standardError.write(data + Data("\n".utf8))
            }
            return
        }
        var parts: [String] = []
        if let label { parts.append(label) }
        if let section = s.section {
            parts.append(s.phase == "reduce" ? "summarizing the notes" : "section \(section)/\(s.sections.map(String.init) ?? "?")")
        }
        parts.append(String(format: "%.1f%%", 100 * s.fraction))
        parts.append("\(NumberText.grouped(s.tokens)) tokens")
        parts.append(String(format: "%.0f tok/s", rate))
        if let p = s.perplexity, p.isFinite { parts.append(String(format: "ppl %.3f", p)) }
        if let g = s.generating, g > 0 { parts.append("generating \(g)") }
        parts.append("ETA " + (eta.map(formatDuration) ?? "…"))
        FileHandle.standardError.write(Data(("\r\u{1B}[K" + parts.joined(separator: "  ")).utf8))
        drawn = true
    }
}

func formatDuration(_ seconds: Double) -> String {
    guard seconds.isFinite else { return "?" }
    let s = Int(seconds.rounded())
    return s >= 3600 ? String(format: "%dh%02dm", s / 3600, (s % 3600) / 60) : String(format: "%d:%02d", s / 60, s % 60)
}
