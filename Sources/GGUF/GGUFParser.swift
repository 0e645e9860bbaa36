/// The parsed header of a GGUF file: everything before the data section, validated.
struct GGUFHeader {
    var version: UInt32 = 0
    var metadata: [String: GGUFValue] = [:]
    var metadataKeys: [String] = []
    var alignment = GGUFParser.defaultAlignment
    var tensors: [GGUFTensorInfo] = []
    /// Tensors of types this reader does not decode (not in `tensors`).
    var unsupportedTensors: [GGUFUnsupportedTensor] = []
    /// The index in `tensors` of each supported tensor's name.
    var tensorIndex: [String: Int] = [:]
    /// Every tensor name, supported or not (for duplicate detection).
    var tensorNames: Set<String> = []
    /// The offsets as stored (parallel to `tensors`), for messages about offsets beyond `Int`.
    var rawOffsets: [UInt64] = []
    /// The stored offsets of `unsupportedTensors`, by name.
    var rawUnsupportedOffsets: [String: UInt64] = [:]
    var dataOffset = 0
}

/// Parses and validates a GGUF header from mapped bytes.
enum GGUFParser {
    static let defaultAlignment = 32
    static let maxAlignment = 1 << 20
    static let maxTensorCount = 1 << 20
    static let maxMetadataCount = 1 << 20
    static let maxArrayNesting = 16
    static let maxDimensions = 4

    /// Parses the header, metadata and tensor infos and validates every tensor's data range.
    ///
    /// Tensors of unknown types are recorded in `unsupportedTensors`, not rejected (the caller
    /// decides); their data size is unknown, so only their start is checked.
    static func parse(base: UnsafeRawPointer, size: Int, file: String) throws(GGUFError) -> GGUFHeader {
        var cursor = GGUFCursor(base: base, size: size, file: file)
        var header = GGUFHeader()

        try cursor.require(4)
        let magic = (0..<4).map { base.load(fromByteOffset: $0, as: UInt8.self) }
        guard magic == Array("GGUF".utf8) else { throw .badMagic(file: file, bytes: magic) }
        cursor.offset = 4
        header.version = try cursor.read(UInt32.self)
        guard header.version == 2 || header.version == 3 else {
            throw .unsupportedVersion(file: file, version: header.version)
        }
        let tensorCount = try cursor.read(UInt64.self)
        let kvCount = try cursor.read(UInt64.self)
        guard tensorCount <= UInt64(maxTensorCount) else {
            throw .tooManyTensors(file: file, count: tensorCount, limit: maxTensorCount)
        }
        guard kvCount <= UInt64(maxMetadataCount) else {
            throw .tooManyMetadataEntries(file: file, count: kvCount, limit: maxMetadataCount)
        }

        // Each entry needs at least 8 (key length) + 4 (type) + 1 bytes: never reserve more.
        let kvReserve = min(Int(kvCount), cursor.remaining / 13)
        header.metadata.reserveCapacity(kvReserve)
        header.metadataKeys.reserveCapacity(kvReserve)
        for _ in 0..<Int(kvCount) {
            let keyOffset = cursor.offset
            let key = try cursor.readString()
            let typeOffset = cursor.offset
            let typeID = try cursor.read(UInt32.self)
            let value = try readValue(&cursor, typeID: typeID, typeOffset: typeOffset, key: key, depth: 0)
            guard header.metadata.updateValue(value, forKey: key) == nil else {
                throw .duplicateMetadataKey(file: file, key: key, offset: keyOffset)
            }
            header.metadataKeys.append(key)
        }
        header.alignment = try alignment(of: header.metadata["general.alignment"], file: file)

        try readTensorInfos(&cursor, count: Int(tensorCount), into: &header)

        // The data section starts at the end of the header rounded up to the alignment.
        let align = header.alignment
        header.dataOffset = (cursor.offset + align - 1) / align * align
        for (tensor, rawOffset) in zip(header.tensors, header.rawOffsets) {
            try checkBounds(name: tensor.name, offset: tensor.offset, rawOffset: rawOffset, byteCount: tensor.byteCount,
                            header: header, fileSize: size, file: file)
        }
        for tensor in header.unsupportedTensors {
            try checkBounds(name: tensor.name, offset: tensor.offset, rawOffset: header.rawUnsupportedOffsets[tensor.name] ?? 0,
                            byteCount: 0, header: header, fileSize: size, file: file)
        }
        try checkOverlaps(header, file: file)
        return header
    }

    /// Reads one metadata value whose type id has already been read.
    private static func readValue(
        _ cursor: inout GGUFCursor, typeID: UInt32, typeOffset: Int, key: String, depth: Int
    ) throws(GGUFError) -> GGUFValue {
        switch typeID {
        case 0: return .uint8(try cursor.read(UInt8.self))
        case 1: return .int8(try cursor.read(Int8.self))
        case 2: return .uint16(try cursor.read(UInt16.self))
        case 3: return .int16(try cursor.read(Int16.self))
        case 4: return .uint32(try cursor.read(UInt32.self))
        case 5: return .int32(try cursor.read(Int32.self))
        case 6: return .float32(try cursor.readFloat32())
        case 7: return .bool(try cursor.read(UInt8.self) != 0)
        case 8: return .string(try cursor.readString())
        case 9: return .array(try readArray(&cursor, key: key, depth: depth))
        case 10: return .uint64(try cursor.read(UInt64.self))
        case 11: return .int64(try cursor.read(Int64.self))
        case 12: return .float64(try cursor.readFloat64())
        default:
            throw .unknownValueType(file: cursor.file, key: key, typeID: typeID, offset: typeOffset)
        }
    }

    /// Reads an array body (element type, count, elements), checking the count against the
    /// bytes that remain before allocating anything.
    private static func readArray(
        _ cursor: inout GGUFCursor, key: String, depth: Int
    ) throws(GGUFError) -> [GGUFValue] {
        let arrayOffset = cursor.offset
        guard depth < maxArrayNesting else {
            throw .nestingTooDeep(file: cursor.file, key: key, offset: arrayOffset, limit: maxArrayNesting)
        }
        let elementType = try cursor.read(UInt32.self)
        guard let minimumSize = GGUFValue.minimumEncodedSize(id: elementType) else {
            throw .unknownValueType(file: cursor.file, key: key, typeID: elementType, offset: arrayOffset)
        }
        let declared = try cursor.read(UInt64.self)
        let (needed, overflow) = declared.multipliedReportingOverflow(by: UInt64(minimumSize))
        guard !overflow, needed <= UInt64(cursor.remaining) else {
            throw .arrayTooLarge(
                file: cursor.file, key: key, count: declared, offset: arrayOffset,
                remainingBytes: cursor.remaining)
        }
        let count = Int(declared)
        var elements: [GGUFValue] = []
        elements.reserveCapacity(count)
        switch elementType {
        case 8:
            for _ in 0..<count { elements.append(.string(try cursor.readString())) }
        case 5:
            for _ in 0..<count { elements.append(.int32(try cursor.read(Int32.self))) }
        default:
            for _ in 0..<count {
                let elementOffset = cursor.offset
                elements.append(try readValue(
                    &cursor, typeID: elementType, typeOffset: elementOffset, key: key, depth: depth + 1))
            }
        }
        return elements
    }

    /// Validates `general.alignment`, defaulting to 32.
    private static func alignment(of value: GGUFValue?, file: String) throws(GGUFError) -> Int {
        guard let value else { return defaultAlignment }
        guard let alignment = value.intValue else {
            throw .badAlignment(file: file, value: "a \(value.typeName)")
        }
        guard alignment > 0, alignment <= maxAlignment, alignment & (alignment - 1) == 0 else {
            throw .badAlignment(file: file, value: "\(alignment)")
        }
        return alignment
    }

    /// Reads and validates every tensor info (shape, type, row blocks, duplicate names, alignment).
    private static func readTensorInfos(
        _ cursor: inout GGUFCursor, count: Int, into header: inout GGUFHeader
    ) throws(GGUFError) {
        let file = cursor.file
        // Each info needs at least 8 + 4 + 8 + 4 + 8 bytes: never reserve more than could fit.
        let reserve = min(count, cursor.remaining / 32)
        header.tensors.reserveCapacity(reserve)
        header.tensorIndex.reserveCapacity(reserve)
        for _ in 0..<count {
            let infoOffset = cursor.offset
            let name = try cursor.readString()
            let dimensionCount = try cursor.read(UInt32.self)
            guard dimensionCount >= 1, dimensionCount <= UInt32(maxDimensions) else {
                throw .badDimensionCount(file: file, tensor: name, count: dimensionCount, offset: infoOffset)
            }
            var rawDims: [UInt64] = []
            rawDims.reserveCapacity(Int(dimensionCount))
            for _ in 0..<Int(dimensionCount) { rawDims.append(try cursor.read(UInt64.self)) }
            let typeID = try cursor.read(UInt32.self)
            let offset = try cursor.read(UInt64.self)

            guard rawDims.allSatisfy({ $0 >= 1 && $0 <= UInt64(Int.max) }) else {
                throw .badDimension(file: file, tensor: name, dims: rawDims, offset: infoOffset)
            }
            let dims = rawDims.map { Int($0) }
            var elementCount = 1
            for dim in dims {
                let (product, overflow) = elementCount.multipliedReportingOverflow(by: dim)
                guard !overflow else { throw .elementCountOverflow(file: file, tensor: name, dims: rawDims) }
                elementCount = product
            }
            guard offset % UInt64(header.alignment) == 0 else {
                throw .misalignedTensor(file: file, tensor: name, offset: offset, alignment: header.alignment)
            }
            let position = header.tensors.count + header.unsupportedTensors.count
            // Offsets that do not fit in Int cannot be in the file; checkBounds reports them.
            let dataOffset = Int(exactly: offset) ?? Int.max
            guard let type = GGMLType(rawValue: typeID) else {
                guard header.tensorNames.insert(name).inserted else { throw .duplicateTensor(file: file, tensor: name) }
                header.rawUnsupportedOffsets[name] = offset
                header.unsupportedTensors.append(GGUFUnsupportedTensor(
                    name: name, dims: dims, typeID: typeID, offset: dataOffset, elementCount: elementCount, index: position))
                continue
            }
            guard dims[0] % type.blockSize == 0 else {
                throw .rowNotBlockMultiple(
                    file: file, tensor: name, rowLength: dims[0], blockSize: type.blockSize, type: type.name)
            }
            guard let byteCount = type.byteCount(elements: elementCount) else {
                throw .elementCountOverflow(file: file, tensor: name, dims: rawDims)
            }
            guard header.tensorNames.insert(name).inserted else { throw .duplicateTensor(file: file, tensor: name) }
            header.tensorIndex[name] = header.tensors.count
            header.rawOffsets.append(offset)
            header.tensors.append(GGUFTensorInfo(
                name: name, dims: dims, type: type, offset: dataOffset,
                elementCount: elementCount, byteCount: byteCount))
        }
    }

    /// Throws unless `byteCount` bytes at the tensor's offset lie inside the file.
    private static func checkBounds(
        name: String, offset: Int, rawOffset: UInt64, byteCount: Int, header: GGUFHeader, fileSize: Int, file: String
    ) throws(GGUFError) {
        let (start, overflowStart) = header.dataOffset.addingReportingOverflow(offset)
        let (end, overflowEnd) = start.addingReportingOverflow(byteCount)
        guard !overflowStart, !overflowEnd, end <= fileSize else {
            throw .tensorOutOfBounds(
                file: file, tensor: name, offset: rawOffset, dataOffset: header.dataOffset,
                byteCount: byteCount, fileSize: fileSize)
        }
    }

    /// Throws when a tensor's data (its size from its type and shape) reaches into the data of
    /// the tensor stored after it. Tensors of unknown types only mark where their data starts.
    private static func checkOverlaps(_ header: GGUFHeader, file: String) throws(GGUFError) {
        struct Extent {
            let name: String
            let offset: Int
            let byteCount: Int
            let info: GGUFTensorInfo?
        }
        var extents = header.tensors.map { Extent(name: $0.name, offset: $0.offset, byteCount: $0.byteCount, info: $0) }
        extents += header.unsupportedTensors.map { Extent(name: $0.name, offset: $0.offset, byteCount: 0, info: nil) }
        extents.sort { ($0.offset, $0.byteCount) < ($1.offset, $1.byteCount) }
        for (current, next) in zip(extents, extents.dropFirst()) {
            // Bounds were checked first, so offset + byteCount cannot overflow.
            guard let info = current.info, current.offset + current.byteCount > next.offset else { continue }
            throw .tensorOverlap(
                file: file, tensor: current.name, type: info.type.name, dims: info.dims, offset: current.offset,
                byteCount: current.byteCount, next: next.name, nextOffset: next.offset)
        }
    }
}
