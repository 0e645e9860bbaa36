import Foundation

/// Binary encodings of the store's array blobs.
///
/// - Losses: IEEE-754 Float32, little-endian, 4 bytes per token.
/// - Byte offsets: each value minus the previous one (the first minus 0), zig-zag mapped to
///   an unsigned integer and written as LEB128 (7 bits per byte, high bit = more follows).
///   Tokens are a few bytes long, so offsets take one byte per token in the common case.
enum BlobCoding {
    /// Encodes floats as little-endian Float32.
    static func encodeFloat32(_ values: [Float]) -> Data {
        var data = Data(capacity: values.count * 4)
        for value in values {
            withUnsafeBytes(of: value.bitPattern.littleEndian) { data.append(contentsOf: $0) }
        }
        return data
    }

    /// Decodes little-endian Float32 values, or nil if the length is not a multiple of 4.
    static func decodeFloat32(_ data: Data) -> [Float]? {
        guard data.count % 4 == 0 else { return nil }
        var values = [Float]()
        values.reserveCapacity(data.count / 4)
        var index = data.startIndex
        while index < data.endIndex {
            let bits = UInt32(data[index]) | UInt32(data[index + 1]) << 8
                | UInt32(data[index + 2]) << 16 | UInt32(data[index + 3]) << 24
            values.append(Float(bitPattern: bits))
            index += 4
        }
        return values
    }

    /// Encodes integers as zig-zag LEB128 deltas.
    static func encodeDeltaVarints(_ values: [Int64]) -> Data {
        var data = Data(capacity: values.count + 8)
        var previous: Int64 = 0
        for value in values {
            let delta = value &- previous
            previous = value
            var zigzag = UInt64(bitPattern: (delta << 1) ^ (delta >> 63))
            while zigzag >= 0x80 {
                data.append(UInt8(truncatingIfNeeded: zigzag) | 0x80)
                zigzag >>= 7
            }
            data.append(UInt8(zigzag))
        }
        return data
    }

    /// Decodes exactly `count` zig-zag LEB128 deltas, or nil if the data is short, long or malformed.
    static func decodeDeltaVarints(_ data: Data, count: Int) -> [Int64]? {
        var values = [Int64]()
        values.reserveCapacity(count)
        var index = data.startIndex
        var previous: Int64 = 0
        for _ in 0 ..< count {
            var zigzag: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                guard index < data.endIndex, shift < 64 else { return nil }
                let byte = data[index]
                index += 1
                zigzag |= UInt64(byte & 0x7F) << shift
                if byte & 0x80 == 0 { break }
                shift += 7
            }
            let delta = Int64(bitPattern: (zigzag >> 1) ^ (0 &- (zigzag & 1)))
            previous = previous &+ delta
            values.append(previous)
        }
        return index == data.endIndex ? values : nil
    }
}

/// Text form of a list of token ranges: `lo-hi` pairs separated by commas (`0-4,980-2000`).
enum RangeListCoding {
    static func encode(_ ranges: [Range<Int64>]) -> String {
        ranges.map { "\($0.lowerBound)-\($0.upperBound)" }.joined(separator: ",")
    }

    static func decode(_ text: String, runID: String) throws -> [Range<Int64>] {
        if text.isEmpty { return [] }
        return try text.split(separator: ",").map { pair in
            let parts = pair.split(separator: "-")
            guard parts.count == 2, let lo = Int64(parts[0]), let hi = Int64(parts[1]), lo <= hi else {
                throw StoreError.invalidData(
                    "The live ranges of run \(runID)'s checkpoint (\"\(text)\") are malformed.",
                    runID: runID, path: "")
            }
            return lo ..< hi
        }
    }
}
