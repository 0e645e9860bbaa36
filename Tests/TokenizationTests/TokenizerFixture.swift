import Foundation
import TestSupport
import Tokenization

/// The real model's tokenizer for tests: from the JSON dump at `SINKSTREAM_TOKENIZER_JSON`
/// if set, otherwise read straight from the GGUF model (`Fixtures.modelPath`).
enum TokenizerFixture {
    struct Metadata: Sendable {
        var tokens: [String]
        var tokenTypes: [Int]?
        var merges: [String]
        var pre: String
        var bosID: Int32?
        var eosID: Int32?
    }

    struct Unavailable: Error, CustomStringConvertible {
        var description: String {
            "No tokenizer data: set SINKSTREAM_TOKENIZER_JSON or SINKSTREAM_MODEL, or run `sinkstream model fetch`."
        }
    }

    struct Malformed: Error, CustomStringConvertible {
        let source: String
        let key: String
        var description: String { "The tokenizer data in \(source) has no usable '\(key)'." }
    }

    static var isAvailable: Bool {
        if let path = ProcessInfo.processInfo.environment["SINKSTREAM_TOKENIZER_JSON"], !path.isEmpty {
            return FileManager.default.fileExists(atPath: path)
        }
        return Fixtures.modelPath != nil
    }

    static let metadata: Result<Metadata, any Error> = Result { try load() }
    static let shared: Result<BPETokenizer, any Error> = Result {
        let m = try metadata.get()
        return try BPETokenizer(tokens: m.tokens, tokenTypes: m.tokenTypes, merges: m.merges,
                                preTokenizer: m.pre, bosID: m.bosID, eosID: m.eosID)
    }

    static func tokenizer() throws -> BPETokenizer { try shared.get() }

    private static func load() throws -> Metadata {
        if let path = ProcessInfo.processInfo.environment["SINKSTREAM_TOKENIZER_JSON"], !path.isEmpty {
            return try loadJSON(path: path)
        }
        guard let model = Fixtures.modelPath else { throw Unavailable() }
        return try loadGGUF(path: model)
    }

    private static func loadJSON(path: String) throws -> Metadata {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        guard let json = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw Malformed(source: path, key: "(top level)")
        }
        guard let tokens = json["tokenizer.ggml.tokens"] as? [String] else {
            throw Malformed(source: path, key: "tokenizer.ggml.tokens")
        }
        guard let merges = json["tokenizer.ggml.merges"] as? [String] else {
            throw Malformed(source: path, key: "tokenizer.ggml.merges")
        }
        return Metadata(
            tokens: tokens,
            tokenTypes: json["tokenizer.ggml.token_type"] as? [Int],
            merges: merges,
            pre: json["tokenizer.ggml.pre"] as? String ?? "default",
            bosID: (json["tokenizer.ggml.bos_token_id"] as? Int).map { Int32($0) },
            eosID: (json["tokenizer.ggml.eos_token_id"] as? Int).map { Int32($0) })
    }

    private static func loadGGUF(path: String) throws -> Metadata {
        let kv = try TestGGUFMetadataReader.read(path: path)
        func strings(_ key: String) throws -> [String] {
            guard case .array(let items)? = kv[key] else { throw Malformed(source: path, key: key) }
            return try items.map {
                guard case .string(let s) = $0 else { throw Malformed(source: path, key: key) }
                return s
            }
        }
        func int(_ key: String) -> Int64? {
            if case .int(let v)? = kv[key] { return v }
            return nil
        }
        var types: [Int]?
        if case .array(let items)? = kv["tokenizer.ggml.token_type"] {
            types = try items.map {
                guard case .int(let v) = $0 else { throw Malformed(source: path, key: "tokenizer.ggml.token_type") }
                return Int(v)
            }
        }
        var pre = "default"
        if case .string(let s)? = kv["tokenizer.ggml.pre"] { pre = s }
        return Metadata(
            tokens: try strings("tokenizer.ggml.tokens"),
            tokenTypes: types,
            merges: try strings("tokenizer.ggml.merges"),
            pre: pre,
            bosID: int("tokenizer.ggml.bos_token_id").map { Int32(truncatingIfNeeded: $0) },
            eosID: int("tokenizer.ggml.eos_token_id").map { Int32(truncatingIfNeeded: $0) })
    }
}

/// One case of `fixtures/tokenizer_cases.json` (plus golden_A as a case).
struct TokenizerCase: Sendable, CustomStringConvertible {
    let name: String
    let parseSpecial: Bool
    let text: String
    let ids: [Int32]
    var description: String { "\(name) (parse_special=\(parseSpecial))" }

    static func all(file: String = "tokenizer_cases.json") throws -> [TokenizerCase] {
        let json = try Fixtures.json(file)
        guard let cases = json["cases"] as? [[String: Any]] else { throw TokenizerFixture.Malformed(source: file, key: "cases") }
        return try cases.map { c in
            guard let name = c["name"] as? String, let text = c["text"] as? String,
                  let special = c["parse_special"] as? Bool, let ids = c["ids"] as? [Int] else {
                throw TokenizerFixture.Malformed(source: file, key: "cases[]")
            }
            return TokenizerCase(name: name, parseSpecial: special, text: text, ids: ids.map { Int32($0) })
        }
    }

    static func goldenA() throws -> TokenizerCase {
        let json = try Fixtures.json("golden_A.json")
        guard let text = json["text"] as? String, let ids = json["token_ids"] as? [Int] else {
            throw TokenizerFixture.Malformed(source: "golden_A.json", key: "text/token_ids")
        }
        return TokenizerCase(name: "golden_A", parseSpecial: false, text: text, ids: ids.map { Int32($0) })
    }
}

/// "" when equal, else where and how two id lists first differ.
func firstDifference(_ got: [Int32], _ expected: [Int32]) -> String {
    if got == expected { return "" }
    let n = min(got.count, expected.count)
    var i = 0
    while i < n && got[i] == expected[i] { i += 1 }
    let gotTail = got[i..<min(got.count, i + 6)].map(String.init).joined(separator: ",")
    let expTail = expected[i..<min(expected.count, i + 6)].map(String.init).joined(separator: ",")
    return "first difference at index \(i) (got \(got.count) ids, expected \(expected.count)): got [\(gotTail)…] expected [\(expTail)…]"
}
