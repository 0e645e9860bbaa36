import ArgumentParser
import Foundation
import Report
import Streaming

/// How eviction works in `sink` mode.
enum EvictionOption: ExpressibleByArgument, Equatable {
    case token
    case batch(Int)

    init?(argument: String) {
        if argument == "token" { self = .token; return }
        if argument.hasPrefix("batch:"), let e = Int(argument.dropFirst(6)), e >= 1 { self = .batch(e); return }
        return nil
    }

    var defaultValueDescription: String {
        switch self {
        case .token: "token"
        case .batch(let e): "batch:\(e)"
        }
    }

    /// Entries evicted at once (1: token by token).
    var entries: Int {
        switch self {
        case .token: 1
        case .batch(let e): e
        }
    }
}

/// The attention modes a command line can name.
enum ModeName: String, ExpressibleByArgument, CaseIterable {
    case dense, window, sink, recompute

    /// The options each mode reads (the others are refused or ignored).
    var usesSinks: Bool { self == .sink }
    var usesWindow: Bool { self != .dense }
    var usesEviction: Bool { self == .sink }
}

/// The attention options of every command that streams a document (`score`, `compare`,
/// `summarize`, `translate`): one set of names, bounds, defaults and checks.
///
/// The values stay optional so that a check can tell an option the user gave from a default:
/// a mode that does not use an option refuses it when giving it is surely a mistake (`--sinks`
/// for `window`, which is StreamingLLM's window without sinks) and ignores it with a warning
/// otherwise. The default eviction is a batch of 256, clamped to the window, when scoring, and
/// token by token when generating: a task's section, instruction and reply must all stay in
/// view, and a batch eviction narrows the view by E − 1 tokens.
struct AttentionOptions: ParsableArguments {
    static let defaultSinks = 4
    static let defaultWindow = 1020
    static let defaultEvictionBatch = 256
    static let defaultChunk = 256
    static let sinkRange = 0...65_536
    static let windowRange = 1...16_777_216
    static let chunkRange = 1...4096

    @Option(parsing: .unconditional,
            help: ArgumentHelp("Attention-sink tokens kept forever (sink mode; \(sinkRange.lowerBound)…\(NumberText.grouped(sinkRange.upperBound))).",
                               valueName: "n"))
    var sinks: Int?

    @Option(parsing: .unconditional,
            help: ArgumentHelp("Recent tokens each token attends to, itself included (window, sink and recompute modes; the default is \(defaultWindow), so that sinks + window = 1,024).",
                               valueName: "n"))
    var window: Int?

    @Option(help: ArgumentHelp("Eviction in sink mode: 'token' (one by one, exact StreamingLLM) or 'batch:E' (the E oldest recent entries at once; faster). Default: batch:\(defaultEvictionBatch), at most the window, when scoring; token for summarize and translate, whose section and reply must stay in view together (a batch eviction narrows the view by E − 1 tokens).",
                               valueName: "token|batch:E"))
    var evict: EvictionOption?

    @Option(parsing: .unconditional,
            help: ArgumentHelp("Tokens processed per forward pass (\(chunkRange.lowerBound)…\(chunkRange.upperBound); default \(defaultChunk)).", valueName: "n"))
    var chunk: Int?

    func validate() throws {
        if let sinks, !Self.sinkRange.contains(sinks) {
            throw ValidationError("Please give --sinks a value between \(Self.sinkRange.lowerBound) and \(NumberText.grouped(Self.sinkRange.upperBound)); got \(sinks).")
        }
        if let window, !Self.windowRange.contains(window) {
            throw ValidationError("Please give --window a value between \(Self.windowRange.lowerBound) and \(NumberText.grouped(Self.windowRange.upperBound)); got \(window).")
        }
        if let chunk, !Self.chunkRange.contains(chunk) {
            throw ValidationError("Please give --chunk a value between \(Self.chunkRange.lowerBound) and \(Self.chunkRange.upperBound); got \(chunk).")
        }
        if case .batch(let e) = evict, e > windowTokens {
            throw ValidationError("Please give --evict batch:E with E at most the window (\(windowTokens) tokens); got batch:\(e).")
        }
    }

    /// Checks the options against the modes a command runs (in its own `validate()`), and
    /// returns warnings for options some of them ignore.
    /// - Throws: `ValidationError` for `--sinks` with only `window` mode.
    @discardableResult
    func check(for modes: [ModeName]) throws -> [String] {
        var warnings: [String] = []
        if sinks != nil, !modes.contains(where: \.usesSinks) {
            if modes == [.window] {
                throw ValidationError("window mode keeps no attention sinks (it is sink mode with 0 sinks); use --mode sink --sinks \(sinks ?? 0), or leave out --sinks.")
            }
            warnings.append("--sinks is ignored: only sink mode keeps attention sinks.")
        }
        if window != nil, !modes.contains(where: \.usesWindow) {
            warnings.append("--window is ignored: dense mode attends to every earlier token (up to the model's context).")
        }
        if evict != nil, !modes.contains(where: \.usesEviction) {
            warnings.append("--evict is ignored: only sink mode evicts (window mode drops one token at a time).")
        }
        return warnings
    }

    var sinkCount: Int { sinks ?? Self.defaultSinks }
    var windowTokens: Int { window ?? Self.defaultWindow }
    var chunkTokens: Int { chunk ?? Self.defaultChunk }

    /// What the stream is for; it decides the default eviction.
    enum Purpose { case scoring, generation }

    /// The eviction in use: as given; else for scoring batch:256 clamped to the window (token
    /// when that leaves 1), for generation token.
    func eviction(for purpose: Purpose) -> EvictionOption {
        if let evict { return evict }
        let e = min(Self.defaultEvictionBatch, windowTokens)
        return purpose == .generation || e <= 1 ? .token : .batch(e)
    }

    /// The attention mode of kind `name` with these options.
    func mode(_ name: ModeName, for purpose: Purpose = .scoring) -> AttentionMode {
        let eviction = eviction(for: purpose)
        return switch name {
        case .dense: .dense
        case .window: .window(windowTokens)
        case .recompute: .recompute(windowTokens)
        case .sink:
            eviction.entries == 1
                ? .sink(sinks: sinkCount, window: windowTokens)
                : .sinkBatch(sinks: sinkCount, window: windowTokens, evict: eviction.entries)
        }
    }
}
