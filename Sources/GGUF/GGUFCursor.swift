/// A bounds-checked little-endian reader over the mapped bytes of one file.
///
/// Every read checks the remaining length first and throws `GGUFError.truncated` instead of
/// reading past the end; lengths declared by the file are checked before anything is allocated.
struct GGUFCursor {
    let base: UnsafeRawPointer
    let size: Int
    let file: String
    var offset: Int = 0

    init(base: UnsafeRawPointer, size: Int, file: String) {
        self.base = base
        self.size = size
        self.file = file
    }

    /// Bytes left after the current offset.
    var remaining: Int { size - offset }

    /// Throws unless `count` more bytes are available.
    @inline(__always)
    func require(_ count: Int) throws(GGUFError) {
        if count > size - offset {
            throw .truncated(file: file, needed: count, offset: offset, fileSize: size)
        }
    }

    @inline(__always)
    mutating func read<T: FixedWidthInteger>(_: T.Type) throws(GGUFError) -> T {
        let width = MemoryLayout<T>.size
        try require(width)
        let value = base.loadUnaligned(fromByteOffset: offset, as: T.self)
        offset += width
        return T(littleEndian: value)
    }

    @inline(__always)
    mutating func readFloat32() throws(GGUFError) -> Float {
        Float(bitPattern: try read(UInt32.self))
    }

    @inline(__always)
    mutating func readFloat64() throws(GGUFError) -> Double {
        Double(bitPattern: try read(UInt64.self))
    }

    /// Reads a length-prefixed string, decoding UTF-8 in place (invalid bytes become U+FFFD).
    @inline(__always)
    mutating func readString() throws(GGUFError) -> String {
        let start = offset
        let length = try read(UInt64.self)
        guard length <= UInt64(remaining) else {
            throw .stringTooLong(file: file, length: length, offset: start, remainingBytes: remaining)
        }
        let count = Int(length)
        let bytes = UnsafeBufferPointer(
            start: (base + offset).assumingMemoryBound(to: UInt8.self), count: count)
        offset += count
        return String(decoding: bytes, as: UTF8.self)
    }
}
