/// An error found while opening, validating or writing a GGUF file.
///
/// Every case names the file (the path as it was given) and, where it applies, the byte
/// offset of the problem. `code` is a stable machine-readable identifier; `description`
/// reads as one sentence for the user.
public enum GGUFError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The file could not be opened, inspected or mapped (`reason` is the system's message).
    case openFailed(file: String, reason: String)
    /// A read of `needed` bytes at `offset` would go past the end of the file.
    case truncated(file: String, needed: Int, offset: Int, fileSize: Int)
    /// The first four bytes are not `GGUF`.
    case badMagic(file: String, bytes: [UInt8])
    /// The version is not 2 or 3.
    case unsupportedVersion(file: String, version: UInt32)
    /// The header declares more tensors than any sane model has.
    case tooManyTensors(file: String, count: UInt64, limit: Int)
    /// The header declares more metadata entries than any sane model has.
    case tooManyMetadataEntries(file: String, count: UInt64, limit: Int)
    /// A metadata array declares more elements than the remaining bytes could hold.
    case arrayTooLarge(file: String, key: String, count: UInt64, offset: Int, remainingBytes: Int)
    /// A string declares a length larger than the remaining bytes.
    case stringTooLong(file: String, length: UInt64, offset: Int, remainingBytes: Int)
    /// Metadata arrays are nested deeper than the reader allows.
    case nestingTooDeep(file: String, key: String, offset: Int, limit: Int)
    /// A metadata value (or array element) has a type id outside 0...12.
    case unknownValueType(file: String, key: String, typeID: UInt32, offset: Int)
    /// The same metadata key appears twice.
    case duplicateMetadataKey(file: String, key: String, offset: Int)
    /// `general.alignment` is not a power of two in 1...1<<20 (or not an integer).
    case badAlignment(file: String, value: String)
    /// A tensor has zero or more than four dimensions.
    case badDimensionCount(file: String, tensor: String, count: UInt32, offset: Int)
    /// A tensor dimension is zero or does not fit in `Int`.
    case badDimension(file: String, tensor: String, dims: [UInt64], offset: Int)
    /// The product of a tensor's dimensions (or its byte count) overflows.
    case elementCountOverflow(file: String, tensor: String, dims: [UInt64])
    /// A tensor uses a ggml type this reader does not decode (`typeID` as stored; see
    /// `GGMLType.knownName(typeID:)` for its name).
    case unsupportedTensorType(file: String, tensor: String, typeID: UInt32)
    /// A tensor's row length is not a multiple of its type's block size.
    case rowNotBlockMultiple(file: String, tensor: String, rowLength: Int, blockSize: Int, type: String)
    /// The same tensor name appears twice.
    case duplicateTensor(file: String, tensor: String)
    /// A tensor's data (`byteCount` bytes at data offset `offset`, as its type and shape need)
    /// runs into the data of the next tensor in the file, at data offset `nextOffset`.
    case tensorOverlap(file: String, tensor: String, type: String, dims: [Int], offset: Int, byteCount: Int, next: String, nextOffset: Int)
    /// A tensor's data offset is not a multiple of the file's alignment.
    case misalignedTensor(file: String, tensor: String, offset: UInt64, alignment: Int)
    /// A tensor's data range reaches past the end of the file (`offset` is relative to the
    /// data section, which starts at `dataOffset`).
    case tensorOutOfBounds(file: String, tensor: String, offset: UInt64, dataOffset: Int, byteCount: Int, fileSize: Int)
    /// `general.architecture` is missing (`found == nil`) or not one of the allowed values.
    case unsupportedArchitecture(file: String, found: String?, allowed: [String])
    /// A required metadata key is absent.
    case missingKey(file: String, key: String)
    /// A metadata key holds a value of another type than required.
    case wrongType(file: String, key: String, expected: String, found: String)
    /// The writer was given inconsistent input (tensor data size, mixed-type array, …).
    case invalidWriterInput(file: String, reason: String)
    /// Writing the file failed.
    case writeFailed(file: String, reason: String)

    /// A stable identifier of the kind of error, e.g. `gguf.truncated`.
    public var code: String {
        switch self {
        case .openFailed: "gguf.open_failed"
        case .truncated: "gguf.truncated"
        case .badMagic: "gguf.bad_magic"
        case .unsupportedVersion: "gguf.unsupported_version"
        case .tooManyTensors: "gguf.too_many_tensors"
        case .tooManyMetadataEntries: "gguf.too_many_metadata_entries"
        case .arrayTooLarge: "gguf.array_too_large"
        case .stringTooLong: "gguf.string_too_long"
        case .nestingTooDeep: "gguf.nesting_too_deep"
        case .unknownValueType: "gguf.unknown_value_type"
        case .duplicateMetadataKey: "gguf.duplicate_metadata_key"
        case .badAlignment: "gguf.bad_alignment"
        case .badDimensionCount: "gguf.bad_dimension_count"
        case .badDimension: "gguf.bad_dimension"
        case .elementCountOverflow: "gguf.element_count_overflow"
        case .unsupportedTensorType: "gguf.unsupported_tensor_type"
        case .rowNotBlockMultiple: "gguf.row_not_block_multiple"
        case .duplicateTensor: "gguf.duplicate_tensor"
        case .tensorOverlap: "gguf.tensor_overlap"
        case .misalignedTensor: "gguf.misaligned_tensor"
        case .tensorOutOfBounds: "gguf.tensor_out_of_bounds"
        case .unsupportedArchitecture: "gguf.unsupported_architecture"
        case .missingKey: "gguf.missing_key"
        case .wrongType: "gguf.wrong_type"
        case .invalidWriterInput: "gguf.invalid_writer_input"
        case .writeFailed: "gguf.write_failed"
        }
    }

    /// The file the error is about.
    public var file: String {
        switch self {
        case .openFailed(let file, _), .truncated(let file, _, _, _), .badMagic(let file, _),
             .unsupportedVersion(let file, _), .tooManyTensors(let file, _, _),
             .tooManyMetadataEntries(let file, _, _), .arrayTooLarge(let file, _, _, _, _),
             .stringTooLong(let file, _, _, _), .nestingTooDeep(let file, _, _, _),
             .unknownValueType(let file, _, _, _), .duplicateMetadataKey(let file, _, _),
             .badAlignment(let file, _), .badDimensionCount(let file, _, _, _),
             .badDimension(let file, _, _, _), .elementCountOverflow(let file, _, _),
             .unsupportedTensorType(let file, _, _), .rowNotBlockMultiple(let file, _, _, _, _),
             .duplicateTensor(let file, _), .misalignedTensor(let file, _, _, _),
             .tensorOverlap(let file, _, _, _, _, _, _, _),
             .tensorOutOfBounds(let file, _, _, _, _, _), .unsupportedArchitecture(let file, _, _),
             .missingKey(let file, _), .wrongType(let file, _, _, _),
             .invalidWriterInput(let file, _), .writeFailed(let file, _):
            file
        }
    }

    /// The error as one sentence, starting with the file name.
    public var description: String {
        "\(file): \(message)."
    }

    private var message: String {
        switch self {
        case .openFailed(_, let reason):
            return "cannot open the model file: \(reason)"
        case .truncated(_, let needed, let offset, let fileSize):
            return "file is truncated: needed \(needed) bytes at offset \(offset) but the file has \(fileSize) bytes"
        case .badMagic(_, let bytes):
            let hex = bytes.map { byte in
                let digits = String(byte, radix: 16)
                return digits.count == 1 ? "0" + digits : digits
            }.joined(separator: " ")
            let text = String(decoding: bytes.map { (32...126).contains($0) ? $0 : UInt8(ascii: ".") }, as: UTF8.self)
            return "not a GGUF file: the first bytes are \(hex) (\"\(text)\") instead of \"GGUF\""
        case .unsupportedVersion(_, let version):
            let hint = version == 1 ? " (version 1 files are obsolete; re-convert the model)" : ""
            return "unsupported GGUF version \(version); only versions 2 and 3 are supported\(hint)"
        case .tooManyTensors(_, let count, let limit):
            return "the header declares \(count) tensors, more than the limit of \(limit)"
        case .tooManyMetadataEntries(_, let count, let limit):
            return "the header declares \(count) metadata entries, more than the limit of \(limit)"
        case .arrayTooLarge(_, let key, let count, let offset, let remaining):
            return "metadata array '\(key)' at offset \(offset) declares \(count) elements, more than the remaining \(remaining) bytes could hold"
        case .stringTooLong(_, let length, let offset, let remaining):
            return "string at offset \(offset) declares a length of \(length) bytes but only \(remaining) bytes remain"
        case .nestingTooDeep(_, let key, let offset, let limit):
            return "metadata array '\(key)' at offset \(offset) is nested more than \(limit) levels deep"
        case .unknownValueType(_, let key, let typeID, let offset):
            return "metadata value '\(key)' at offset \(offset) has unknown type id \(typeID) (known ids are 0 to 12)"
        case .duplicateMetadataKey(_, let key, let offset):
            return "metadata key '\(key)' appears a second time at offset \(offset)"
        case .badAlignment(_, let value):
            return "general.alignment is \(value), but it must be a power of two between 1 and 1048576"
        case .badDimensionCount(_, let tensor, let count, let offset):
            return "tensor '\(tensor)' (info at offset \(offset)) has \(count) dimensions; 1 to 4 are allowed"
        case .badDimension(_, let tensor, let dims, let offset):
            return "tensor '\(tensor)' (info at offset \(offset)) has invalid dimensions \(dims); each must be between 1 and \(Int.max)"
        case .elementCountOverflow(_, let tensor, let dims):
            return "tensor '\(tensor)' has dimensions \(dims) whose element or byte count overflows"
        case .unsupportedTensorType(_, let tensor, let typeID):
            let supported = GGMLType.allCases.map(\.name).joined(separator: ", ")
            guard let name = GGMLType.knownName(typeID: typeID) else {
                return "tensor '\(tensor)' has type id \(typeID), which is not a ggml type this reader knows; supported types are \(supported)"
            }
            return "tensor '\(tensor)' has ggml type \(typeID) (\(name)), which is not supported; supported types are \(supported)"
        case .rowNotBlockMultiple(_, let tensor, let rowLength, let blockSize, let type):
            let unit = blockSize == 256 ? "super-block size" : "block size"
            return "tensor '\(tensor)' has a row length of \(rowLength), which is not a multiple of the \(type) \(unit) \(blockSize); every row must be whole blocks"
        case .duplicateTensor(_, let tensor):
            return "tensor '\(tensor)' appears more than once"
        case .tensorOverlap(_, let tensor, let type, let dims, let offset, let byteCount, let next, let nextOffset):
            return "tensor '\(tensor)' (\(type), shape \(dims)) needs \(byteCount) bytes from data offset \(offset), which runs into tensor '\(next)' at data offset \(nextOffset); the tensor's type or shape does not match its data"
        case .misalignedTensor(_, let tensor, let offset, let alignment):
            return "tensor '\(tensor)' has data offset \(offset), which is not a multiple of the alignment \(alignment)"
        case .tensorOutOfBounds(_, let tensor, let offset, let dataOffset, let byteCount, let fileSize):
            let (absolute, overflow) = offset.addingReportingOverflow(UInt64(dataOffset))
            let at = overflow ? "beyond any file size" : "at file offset \(absolute)"
            return "tensor '\(tensor)' needs \(byteCount) bytes at data offset \(offset) (\(at)) but the file has only \(fileSize) bytes; the file is truncated or the tensor's type or shape is wrong"
        case .unsupportedArchitecture(_, let found, let allowed):
            let list = allowed.sorted().joined(separator: ", ")
            if let found {
                return "model architecture '\(found)' is not supported; supported: \(list)"
            }
            return "general.architecture is missing; supported architectures: \(list)"
        case .missingKey(_, let key):
            return "required metadata key '\(key)' is missing"
        case .wrongType(_, let key, let expected, let found):
            return "metadata key '\(key)' holds a \(found) but a \(expected) is required"
        case .invalidWriterInput(_, let reason):
            return "cannot write GGUF: \(reason)"
        case .writeFailed(_, let reason):
            return "cannot write the file: \(reason)"
        }
    }
}
