#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Builds a GGUF file in memory: metadata in insertion order, then tensors, each aligned.
///
/// `serialized()` writes exactly what it was given, so tests can also produce invalid files
/// (wrong data sizes, a bad `general.alignment`); `write(to:)` validates first.
/// If `alignment` is not 32 and `general.alignment` was not set, the key is added (uint32).
public struct GGUFWriter: Sendable {
    /// The version number written in the header (2 and 3 share the same layout).
    public var version: UInt32
    /// The alignment of the data section and of each tensor's data.
    public let alignment: Int

    private var keys: [String] = []
    private var values: [String: GGUFValue] = [:]
    private var tensors: [(name: String, dims: [Int], typeID: UInt32, data: [UInt8])] = []

    /// Creates an empty writer.
    /// - Parameters:
    ///   - version: the header version (3 by default).
    ///   - alignment: the data alignment, a power of two (32 by default; other values below 1 become 1).
    public init(version: UInt32 = 3, alignment: Int = 32) {
        self.version = version
        self.alignment = max(1, alignment)
    }

    /// Sets a metadata value; a key set twice keeps its first position and the last value.
    public mutating func set(_ key: String, _ value: GGUFValue) {
        if values.updateValue(value, forKey: key) == nil { keys.append(key) }
    }

    /// Appends a tensor. `data` is written as given (see `GGMLQuantize` to encode floats).
    public mutating func addTensor(name: String, dims: [Int], type: GGMLType, data: [UInt8]) {
        tensors.append((name, dims, type.rawValue, data))
    }

    /// Appends a tensor with a raw ggml type id, which may be one `GGMLType` does not cover
    /// (for files that test how readers handle such types). `serialized()` writes it as given;
    /// `write(to:)` rejects ids it cannot check.
    public mutating func addTensor(name: String, dims: [Int], typeID: UInt32, data: [UInt8]) {
        tensors.append((name, dims, typeID, data))
    }

    /// The file's bytes.
    public func serialized() -> [UInt8] {
        var keyOrder = keys
        var allValues = values
        if alignment != 32, allValues["general.alignment"] == nil {
            keyOrder.append("general.alignment")
            allValues["general.alignment"] = .uint32(UInt32(truncatingIfNeeded: alignment))
        }
        var out: [UInt8] = []
        out.reserveCapacity(tensors.reduce(4096) { $0 + $1.data.count + alignment })
        out.append(contentsOf: Array("GGUF".utf8))
        append(version, to: &out)
        append(UInt64(tensors.count), to: &out)
        append(UInt64(keyOrder.count), to: &out)
        for key in keyOrder {
            guard let value = allValues[key] else { continue }
            appendString(key, to: &out)
            append(value.typeID, to: &out)
            appendValue(value, to: &out)
        }
        var offsets: [Int] = []
        var offset = 0
        for tensor in tensors {
            offsets.append(offset)
            offset = align(offset + tensor.data.count)
        }
        for (tensor, tensorOffset) in zip(tensors, offsets) {
            appendString(tensor.name, to: &out)
            append(UInt32(tensor.dims.count), to: &out)
            for dim in tensor.dims { append(UInt64(truncatingIfNeeded: dim), to: &out) }
            append(tensor.typeID, to: &out)
            append(UInt64(tensorOffset), to: &out)
        }
        for tensor in tensors {
            out.append(contentsOf: repeatElement(0, count: align(out.count) - out.count))
            out.append(contentsOf: tensor.data)
        }
        return out
    }

    /// Validates the contents and writes the file.
    ///
    /// - Throws: `GGUFError.invalidWriterInput` for inconsistent input (data size not matching
    ///   the shape, shapes the reader rejects, mixed-type arrays, a non-power-of-two alignment),
    ///   `.writeFailed` when the file cannot be written.
    public func write(to path: String) throws(GGUFError) {
        try validate(path: path)
        let bytes = serialized()
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .writeFailed(file: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { buffer -> Int in
                guard let base = buffer.baseAddress else { return 0 }
                return systemWrite(fd, base + written, buffer.count - written)
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw .writeFailed(file: path, reason: String(cString: strerror(errno)))
            }
            written += n
        }
    }

    private func systemWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
        #if canImport(Glibc)
        Glibc.write(fd, buffer, count)
        #else
        Darwin.write(fd, buffer, count)
        #endif
    }

    private func validate(path: String) throws(GGUFError) {
        guard alignment & (alignment - 1) == 0, alignment <= 1 << 20 else {
            throw .invalidWriterInput(file: path, reason: "alignment \(alignment) is not a power of two up to 1048576")
        }
        for key in keys {
            if let value = values[key], let problem = GGUFWriter.arrayProblem(value) {
                throw .invalidWriterInput(file: path, reason: "metadata '\(key)': \(problem)")
            }
        }
        var names = Set<String>()
        for tensor in tensors {
            guard names.insert(tensor.name).inserted else {
                throw .invalidWriterInput(file: path, reason: "tensor '\(tensor.name)' is added twice")
            }
            guard (1...4).contains(tensor.dims.count), tensor.dims.allSatisfy({ $0 > 0 }) else {
                throw .invalidWriterInput(file: path, reason: "tensor '\(tensor.name)' has invalid dimensions \(tensor.dims)")
            }
            guard let type = GGMLType(rawValue: tensor.typeID) else {
                let name = GGMLType.knownName(typeID: tensor.typeID).map { " (\($0))" } ?? ""
                throw .invalidWriterInput(
                    file: path, reason: "tensor '\(tensor.name)' has type id \(tensor.typeID)\(name), whose data size the writer cannot check")
            }
            guard tensor.dims[0] % type.blockSize == 0 else {
                throw .invalidWriterInput(
                    file: path,
                    reason: "tensor '\(tensor.name)' has row length \(tensor.dims[0]), not a multiple of the \(type) block size \(type.blockSize)")
            }
            let elements = tensor.dims.reduce(1, *)
            guard let expected = type.byteCount(elements: elements), expected == tensor.data.count else {
                throw .invalidWriterInput(
                    file: path,
                    reason: "tensor '\(tensor.name)' has \(tensor.data.count) bytes of data but its shape \(tensor.dims) as \(type) needs \(type.byteCount(elements: elements) ?? -1)")
            }
        }
    }

    /// A description of why `value` cannot be encoded (mixed-type array), or nil.
    private static func arrayProblem(_ value: GGUFValue) -> String? {
        guard case .array(let elements) = value else { return nil }
        if let first = elements.first, elements.contains(where: { $0.typeID != first.typeID }) {
            return "an array mixes element types (\(first.typeName) and others)"
        }
        for element in elements {
            if let problem = arrayProblem(element) { return problem }
        }
        return nil
    }

    private func align(_ n: Int) -> Int {
        (n + alignment - 1) / alignment * alignment
    }

    private func append<T: FixedWidthInteger>(_ value: T, to out: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
    }

    private func appendString(_ string: String, to out: inout [UInt8]) {
        let utf8 = Array(string.utf8)
        append(UInt64(utf8.count), to: &out)
        out.append(contentsOf: utf8)
    }

    /// Appends the value's payload (without its type id). Array elements take the first
    /// element's type id (uint8 for an empty array).
    private func appendValue(_ value: GGUFValue, to out: inout [UInt8]) {
        switch value {
        case .uint8(let v): append(v, to: &out)
        case .int8(let v): append(v, to: &out)
        case .uint16(let v): append(v, to: &out)
        case .int16(let v): append(v, to: &out)
        case .uint32(let v): append(v, to: &out)
        case .int32(let v): append(v, to: &out)
        case .float32(let v): append(v.bitPattern, to: &out)
        case .bool(let v): append(UInt8(v ? 1 : 0), to: &out)
        case .string(let v): appendString(v, to: &out)
        case .array(let elements):
            append(elements.first?.typeID ?? 0, to: &out)
            append(UInt64(elements.count), to: &out)
            for element in elements { appendValue(element, to: &out) }
        case .uint64(let v): append(v, to: &out)
        case .int64(let v): append(v, to: &out)
        case .float64(let v): append(v.bitPattern, to: &out)
        }
    }
}
