/// One GGUF metadata value.
///
/// Arrays hold elements of a single type in a file (nested arrays may differ from each other).
/// Strings are decoded as UTF-8; invalid sequences are replaced by U+FFFD rather than rejected.
public enum GGUFValue: Sendable, Equatable {
    /// An unsigned 8-bit integer (type 0).
    case uint8(UInt8)
    /// A signed 8-bit integer (type 1).
    case int8(Int8)
    /// An unsigned 16-bit integer (type 2).
    case uint16(UInt16)
    /// A signed 16-bit integer (type 3).
    case int16(Int16)
    /// An unsigned 32-bit integer (type 4).
    case uint32(UInt32)
    /// A signed 32-bit integer (type 5).
    case int32(Int32)
    /// A 32-bit float (type 6).
    case float32(Float)
    /// A bool stored as one byte; any nonzero byte reads as true (type 7).
    case bool(Bool)
    /// A UTF-8 string with a u64 length prefix (type 8).
    case string(String)
    /// An array: element type id, u64 count, elements (type 9).
    case array([GGUFValue])
    /// An unsigned 64-bit integer (type 10).
    case uint64(UInt64)
    /// A signed 64-bit integer (type 11).
    case int64(Int64)
    /// A 64-bit float (type 12).
    case float64(Double)

    /// The GGUF type id of this value (0…12).
    public var typeID: UInt32 {
        switch self {
        case .uint8: 0
        case .int8: 1
        case .uint16: 2
        case .int16: 3
        case .uint32: 4
        case .int32: 5
        case .float32: 6
        case .bool: 7
        case .string: 8
        case .array: 9
        case .uint64: 10
        case .int64: 11
        case .float64: 12
        }
    }

    /// A short name of the value's type for messages, e.g. `uint32` or `array of string`.
    public var typeName: String {
        switch self {
        case .array(let elements):
            guard let first = elements.first else { return "empty array" }
            return "array of \(first.typeName)"
        default:
            return GGUFValue.typeName(id: typeID)
        }
    }

    /// The value as `Int` when it is an integer type that fits; nil otherwise.
    public var intValue: Int? {
        switch self {
        case .uint8(let v): Int(v)
        case .int8(let v): Int(v)
        case .uint16(let v): Int(v)
        case .int16(let v): Int(v)
        case .uint32(let v): Int(v)
        case .int32(let v): Int(v)
        case .uint64(let v): Int(exactly: v)
        case .int64(let v): Int(v)
        default: nil
        }
    }

    /// The value as `Double` when it is a float or integer type; nil otherwise.
    public var doubleValue: Double? {
        switch self {
        case .float32(let v): Double(v)
        case .float64(let v): v
        case .uint64(let v): Double(v)
        default: intValue.map(Double.init)
        }
    }

    /// The string payload, or nil.
    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// The bool payload, or nil.
    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    /// The array elements, or nil.
    public var arrayValue: [GGUFValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    /// Type names by GGUF type id.
    static func typeName(id: UInt32) -> String {
        switch id {
        case 0: "uint8"
        case 1: "int8"
        case 2: "uint16"
        case 3: "int16"
        case 4: "uint32"
        case 5: "int32"
        case 6: "float32"
        case 7: "bool"
        case 8: "string"
        case 9: "array"
        case 10: "uint64"
        case 11: "int64"
        case 12: "float64"
        default: "type \(id)"
        }
    }

    /// The smallest encoded size of one value of type `id`, or nil for unknown ids.
    static func minimumEncodedSize(id: UInt32) -> Int? {
        switch id {
        case 0, 1, 7: 1
        case 2, 3: 2
        case 4, 5, 6: 4
        case 8, 10, 11, 12: 8
        case 9: 12
        default: nil
        }
    }
}
