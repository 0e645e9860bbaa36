import Foundation

/// Renders a run's stored configuration JSON (opaque to the store: a score run's
/// `ScoreConfiguration`, a task run's `TaskConfiguration`) as readable `key: value` lines.
///
/// - Keys are sorted (the encoder's order is arbitrary), `mode` and `kind` first; nested
///   objects are flattened with dots (`sampling.temperature: 0.7`).
/// - An enum case with associated values, which Swift's synthesized `Codable` stores as an
///   object with one key (the case) holding an object of its values, is shown as a call:
///   `{"window":{"_0":1020}}` as `window(1020)`, `{"sinkBatch":{"sinks":4,"window":1020,"evict":256}}`
///   as `sinkBatch(sinks: 4, window: 1020, evict: 256)`, `{"dense":{}}` as `dense`.
/// - Arrays of plain values are joined with commas; `null` prints as `none`.
/// JSON that cannot be parsed is shown as it is, on one line.
enum ConfigRendering {
    /// An order-preserving JSON value.
    indirect enum Value: Equatable {
        case object([(String, Value)])
        case array([Value])
        case string(String)
        case number(String)
        case bool(Bool)
        case null

        static func == (a: Value, b: Value) -> Bool {
            switch (a, b) {
            case (.object(let x), .object(let y)): x.map(\.0) == y.map(\.0) && x.map(\.1) == y.map(\.1)
            case (.array(let x), .array(let y)): x == y
            case (.string(let x), .string(let y)), (.number(let x), .number(let y)): x == y
            case (.bool(let x), .bool(let y)): x == y
            case (.null, .null): true
            default: false
            }
        }
    }

    /// The configuration as `(key, value)` lines.
    static func lines(_ json: String) -> [(String, String)] {
        guard let value = parse(json).map({ sorted($0, top: true) }) else { return [("config", json)] }
        guard case .object(let members) = value else { return [("config", inline(value))] }
        var out: [(String, String)] = []
        for (key, member) in members { flatten(key, member, into: &out) }
        return out
    }

    /// The value with every object's members sorted: positional `_0`, `_1`, … by number, other
    /// keys alphabetically, at the top level `mode` and `kind` first.
    private static func sorted(_ value: Value, top: Bool = false) -> Value {
        switch value {
        case .object(let members):
            func rank(_ key: String) -> (Int, Int, String) {
                if top, let first = ["mode", "kind"].firstIndex(of: key) { return (0, first, "") }
                if key.hasPrefix("_"), let n = Int(key.dropFirst()) { return (1, n, "") }
                return (2, 0, key)
            }
            return .object(members.map { ($0.0, sorted($0.1)) }.sorted { rank($0.0) < rank($1.0) })
        case .array(let items):
            return .array(items.map { sorted($0) })
        default:
            return value
        }
    }

    private static func flatten(_ key: String, _ value: Value, into out: inout [(String, String)]) {
        if case .object(let members) = value, !members.isEmpty, enumCase(value) == nil {
            for (name, member) in members { flatten(key + "." + name, member, into: &out) }
            return
        }
        if case .array(let items) = value, items.contains(where: { if case .object = $0 { enumCase($0) == nil } else { false } }) {
            for (index, item) in items.enumerated() { flatten("\(key)[\(index)]", item, into: &out) }
            return
        }
        out.append((key, inline(value)))
    }

    /// `name(args)` if the value looks like an enum case with associated values: one key whose
    /// value is an object of plain values (`_0`, `_1`, … positional; otherwise labelled).
    private static func enumCase(_ value: Value) -> String? {
        guard case .object(let members) = value, members.count == 1,
              case .object(let payload) = members[0].1,
              payload.allSatisfy({ if case .object = $0.1 { false } else if case .array = $0.1 { false } else { true } })
        else { return nil }
        let name = members[0].0
        if payload.isEmpty { return name }
        let positional = payload.enumerated().allSatisfy { $0.element.0 == "_\($0.offset)" }
        let arguments = payload.map { positional ? inline($0.1) : "\($0.0): \(inline($0.1))" }
        return name + "(" + arguments.joined(separator: positional ? "," : ", ") + ")"
    }

    /// A value on one line.
    private static func inline(_ value: Value) -> String {
        if let call = enumCase(value) { return call }
        switch value {
        case .string(let s): return s
        case .number(let n): return n
        case .bool(let b): return b ? "true" : "false"
        case .null: return "none"
        case .array(let items): return items.map(inline).joined(separator: ", ")
        case .object(let members):
            return "{" + members.map { "\($0.0): \(inline($0.1))" }.joined(separator: ", ") + "}"
        }
    }

    // MARK: - Parsing

    /// Parses JSON text (RFC 8259), keeping the order of object members; nil if malformed.
    static func parse(_ text: String) -> Value? {
        var parser = Parser(bytes: Array(text.utf8))
        guard let value = parser.value() else { return nil }
        parser.skipSpace()
        return parser.index == parser.bytes.count ? value : nil
    }

    private struct Parser {
        let bytes: [UInt8]
        var index = 0
        var depth = 0

        init(bytes: [UInt8]) { self.bytes = bytes }

        mutating func skipSpace() {
            while index < bytes.count, [0x20, 0x0A, 0x0D, 0x09].contains(bytes[index]) { index += 1 }
        }

        mutating func literal(_ word: String) -> Bool {
            let w = Array(word.utf8)
            guard index + w.count <= bytes.count, Array(bytes[index ..< index + w.count]) == w else { return false }
            index += w.count
            return true
        }

        mutating func value() -> Value? {
            skipSpace()
            guard index < bytes.count, depth < 64 else { return nil }
            switch bytes[index] {
            case UInt8(ascii: "{"):
                index += 1
                depth += 1
                defer { depth -= 1 }
                var members: [(String, Value)] = []
                skipSpace()
                if index < bytes.count, bytes[index] == UInt8(ascii: "}") { index += 1; return .object(members) }
                while true {
                    skipSpace()
                    guard let key = string() else { return nil }
                    skipSpace()
                    guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { return nil }
                    index += 1
                    guard let member = value() else { return nil }
                    members.append((key, member))
                    skipSpace()
                    guard index < bytes.count else { return nil }
                    if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                    if bytes[index] == UInt8(ascii: "}") { index += 1; return .object(members) }
                    return nil
                }
            case UInt8(ascii: "["):
                index += 1
                depth += 1
                defer { depth -= 1 }
                var items: [Value] = []
                skipSpace()
                if index < bytes.count, bytes[index] == UInt8(ascii: "]") { index += 1; return .array(items) }
                while true {
                    guard let item = value() else { return nil }
                    items.append(item)
                    skipSpace()
                    guard index < bytes.count else { return nil }
                    if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                    if bytes[index] == UInt8(ascii: "]") { index += 1; return .array(items) }
                    return nil
                }
            case UInt8(ascii: "\""):
                return string().map(Value.string)
            case UInt8(ascii: "t"):
                return literal("true") ? .bool(true) : nil
            case UInt8(ascii: "f"):
                return literal("false") ? .bool(false) : nil
            case UInt8(ascii: "n"):
                return literal("null") ? .null : nil
            default:
                let start = index
                while index < bytes.count, "+-0123456789.eE".utf8.contains(bytes[index]) { index += 1 }
                guard index > start, Double(String(decoding: bytes[start ..< index], as: UTF8.self)) != nil else { return nil }
                return .number(String(decoding: bytes[start ..< index], as: UTF8.self))
            }
        }

        mutating func string() -> String? {
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { return nil }
            index += 1
            var out: [UInt8] = []
            while index < bytes.count {
                let byte = bytes[index]
                index += 1
                switch byte {
                case UInt8(ascii: "\""):
                    return String(decoding: out, as: UTF8.self)
                case UInt8(ascii: "\\"):
                    guard index < bytes.count else { return nil }
                    let escape = bytes[index]
                    index += 1
                    switch escape {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(escape)
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "f"): out.append(0x0C)
                    case UInt8(ascii: "n"): out.append(0x0A)
                    case UInt8(ascii: "r"): out.append(0x0D)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "u"):
                        guard var scalar = hex4() else { return nil }
                        if (0xD800 ..< 0xDC00).contains(scalar), literal("\\u"), let low = hex4(), (0xDC00 ..< 0xE000).contains(low) {
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        }
                        out.append(contentsOf: Array(String(Character(Unicode.Scalar(scalar) ?? "\u{FFFD}")).utf8))
                    default: return nil
                    }
                default:
                    out.append(byte)
                }
            }
            return nil
        }

        mutating func hex4() -> UInt32? {
            guard index + 4 <= bytes.count,
                  let v = UInt32(String(decoding: bytes[index ..< index + 4], as: UTF8.self), radix: 16) else { return nil }
            index += 4
            return v
        }
    }
}
