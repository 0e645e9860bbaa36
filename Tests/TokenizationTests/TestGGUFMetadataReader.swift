import Foundation

/// A minimal, test-only reader of a GGUF file's metadata key/values (no tensors).
///
/// Only what the tokenizer tests need: strings, integers, booleans and arrays of those.
enum TestGGUFMetadataReader {
    enum Value {
        case int(Int64)
        case float(Double)
        case bool(Bool)
        case string(String)
        case array([Value])
    }

    struct ReadError: Error, CustomStringConvertible {
        let path: String
        let offset: Int
        let reason: String
        var description: String { "Cannot read GGUF metadata from \(path) at byte \(offset): \(reason)." }
    }

    /// Reads every metadata key/value of the GGUF file at `path`.
    static func read(path: String) throws -> [String: Value] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
        return try data.withUnsafeBytes { raw -> [String: Value] in
            var cursor = Cursor(raw: raw, path: path)
            guard try cursor.bytes(4) == Array("GGUF".utf8) else { throw cursor.error("not a GGUF file") }
            let version = try cursor.u32()
            guard version >= 2 else { throw cursor.error("unsupported GGUF version \(version)") }
            _ = try cursor.u64()  // tensor count
            let kvCount = try cursor.u64()
            var result: [String: Value] = [:]
            for _ in 0..<kvCount {
                let key = try cursor.string()
                let type = try cursor.u32()
                result[key] = try cursor.value(type: type)
            }
            return result
        }
    }

    private struct Cursor {
        let raw: UnsafeRawBufferPointer
        let path: String
        var offset = 0

        func error(_ reason: String) -> ReadError { ReadError(path: path, offset: offset, reason: reason) }

        mutating func bytes(_ n: Int) throws -> [UInt8] {
            guard n >= 0, offset + n <= raw.count else { throw error("unexpected end of file") }
            defer { offset += n }
            return Array(raw[offset..<(offset + n)])
        }

        mutating func load<T: FixedWidthInteger>(_: T.Type) throws -> T {
            let size = MemoryLayout<T>.size
            guard offset + size <= raw.count else { throw error("unexpected end of file") }
            defer { offset += size }
            return T(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: T.self))
        }

        mutating func u32() throws -> UInt32 { try load(UInt32.self) }
        mutating func u64() throws -> UInt64 { try load(UInt64.self) }

        mutating func string() throws -> String {
            let n = try u64()
            guard n <= UInt64(raw.count) else { throw error("string length \(n) is too large") }
            return String(decoding: try bytes(Int(n)), as: UTF8.self)
        }

        mutating func value(type: UInt32) throws -> Value {
            switch type {
            case 0: return .int(Int64(try load(UInt8.self)))
            case 1: return .int(Int64(try load(Int8.self)))
            case 2: return .int(Int64(try load(UInt16.self)))
            case 3: return .int(Int64(try load(Int16.self)))
            case 4: return .int(Int64(try load(UInt32.self)))
            case 5: return .int(Int64(try load(Int32.self)))
            case 6: return .float(Double(Float(bitPattern: try load(UInt32.self))))
            case 7: return .bool(try load(UInt8.self) != 0)
            case 8: return .string(try string())
            case 9:
                let elementType = try u32()
                let count = try u64()
                guard count <= UInt64(raw.count) else { throw error("array length \(count) is too large") }
                var items: [Value] = []
                items.reserveCapacity(Int(count))
                for _ in 0..<count { items.append(try value(type: elementType)) }
                return .array(items)
            case 10: return .int(Int64(bitPattern: try load(UInt64.self)))
            case 11: return .int(try load(Int64.self))
            case 12: return .float(Double(bitPattern: try load(UInt64.self)))
            default: throw error("unknown value type \(type)")
            }
        }
    }
}
