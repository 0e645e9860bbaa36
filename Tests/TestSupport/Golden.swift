import Foundation

/// Typed access to the golden files in `fixtures/` (copied unchanged from the reference).
public struct GoldenA: Sendable {
    public let text: String
    public let tokenIDs: [Int32]
    public let modelSHA256: String
    /// Per-token losses by mode name (`dense`, `sink(4,252)`, …).
    public let nll: [String: [Double]]
    public let summaryFrom: Int

    /// - Parameter name: `golden_A.json` (SmolLM2), `qwen2_A.json` or `gemma3_A.json`.
    public static func load(_ name: String = "golden_A.json") throws -> GoldenA {
        let json = try Fixtures.json(name)
        let ids = (json["token_ids"] as? [Any] ?? []).compactMap { ($0 as? NSNumber)?.int32Value }
        var nll: [String: [Double]] = [:]
        for (mode, values) in json["nll"] as? [String: Any] ?? [:] {
            nll[mode] = (values as? [Any] ?? []).compactMap { ($0 as? NSNumber)?.doubleValue }
        }
        return GoldenA(text: json["text"] as? String ?? "", tokenIDs: ids,
                       modelSHA256: json["model_sha256"] as? String ?? "", nll: nll,
                       summaryFrom: (json["summary_from_t"] as? NSNumber)?.intValue ?? 300)
    }
}

/// `golden_gen.json`: a ChatML prompt and its greedy continuations.
public struct GoldenGeneration: Sendable {
    public let prompt: String
    public let promptIDs: [Int32]
    public let untilEndOfGeneration: [Int32]
    public let endOfGenerationBanned: [Int32]
    public let endOfGenerationIDs: [Int32]
    public let textUntilEndOfGeneration: String

    /// - Parameter name: `golden_gen.json` (SmolLM2), `qwen2_gen.json` or `gemma3_gen.json`.
    public static func load(_ name: String = "golden_gen.json") throws -> GoldenGeneration {
        let json = try Fixtures.json(name)
        func ids(_ key: String) -> [Int32] { (json[key] as? [Any] ?? []).compactMap { ($0 as? NSNumber)?.int32Value } }
        return GoldenGeneration(
            prompt: json["prompt"] as? String ?? "", promptIDs: ids("prompt_token_ids"),
            untilEndOfGeneration: ids("generated_token_ids_until_eog"),
            endOfGenerationBanned: ids("generated_token_ids_eog_banned"), endOfGenerationIDs: ids("eog_ids"),
            textUntilEndOfGeneration: json["generated_text_until_eog"] as? String ?? "")
    }
}

/// Mean absolute difference of two equally long series.
public func meanAbsoluteDifference(_ a: [Float], _ b: [Double]) -> Double {
    let n = min(a.count, b.count)
    guard n > 0 else { return .infinity }
    var s = 0.0
    for i in 0..<n { s += abs(Double(a[i]) - b[i]) }
    return s / Double(n)
}

/// Mean of a series.
public func mean<S: Sequence>(_ values: S) -> Double where S.Element: BinaryFloatingPoint {
    var s = 0.0, n = 0
    for v in values { s += Double(v); n += 1 }
    return n == 0 ? .nan : s / Double(n)
}
