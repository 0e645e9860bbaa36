import Foundation

/// Locale-independent number formatting shared by the renderers.
public enum NumberText {
    /// An integer with comma thousands separators: `12345` → `12,345`.
    public static func grouped(_ value: Int) -> String {
        let digits = String(value.magnitude)
        var out = ""
        out.reserveCapacity(digits.count + digits.count / 3 + 1)
        for (i, ch) in digits.enumerated() {
            if i > 0, (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(ch)
        }
        return value < 0 ? "-" + out : out
    }

    /// A Double with a fixed number of decimals and grouped integer part: `12345.678` → `12,345.68`.
    static func fixed(_ value: Double, decimals: Int) -> String {
        guard value.isFinite else { return value.isNaN ? "nan" : (value < 0 ? "-inf" : "inf") }
        let text = String(format: "%.\(decimals)f", value)
        guard abs(value) >= 1000 else { return text }
        let negative = text.hasPrefix("-")
        let body = negative ? String(text.dropFirst()) : text
        let parts = body.split(separator: ".", maxSplits: 1)
        let intPart = String(parts[0])
        var grouped = ""
        for (i, ch) in intPart.enumerated() {
            if i > 0, (intPart.count - i) % 3 == 0 { grouped.append(",") }
            grouped.append(ch)
        }
        let frac = parts.count > 1 ? "." + parts[1] : ""
        return (negative ? "-" : "") + grouped + frac
    }

    /// The shortest text that parses back (`Double(text)`) to exactly `value`; `nan`/`inf` as Swift spells them.
    static func roundTrip(_ value: Double) -> String { value.description }

    /// A JSON number, or `null` for NaN and infinities (JSON has no spelling for them).
    static func json(_ value: Double) -> String { value.isFinite ? value.description : "null" }

    /// A JSON string literal with the required escapes.
    static func jsonString(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case let c where c.value < 0x20:
                out += String(format: "\\u%04x", c.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// A CSV field, quoted (RFC 4180) when it contains a comma, quote or line break.
    static func csvField(_ s: String) -> String {
        guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return s }
        return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// Pads `s` on the left (right-aligns) to `width` characters.
    static func padLeft(_ s: String, _ width: Int) -> String {
        s.count >= width ? s : String(repeating: " ", count: width - s.count) + s
    }

    /// Pads `s` on the right (left-aligns) to `width` characters.
    static func padRight(_ s: String, _ width: Int) -> String {
        s.count >= width ? s : s + String(repeating: " ", count: width - s.count)
    }
}
