/// The description of one tensor in a GGUF file: name, shape, type and data location.
///
/// `dims[0]` (ggml's `ne0`) is the fastest-varying dimension, i.e. the row length; a matrix
/// `[ne0, ne1]` is stored as `ne1` rows of `ne0` elements.
public struct GGUFTensorInfo: Sendable, Equatable {
    /// The tensor's name, e.g. `blk.0.attn_q.weight`.
    public let name: String
    /// The dimensions, fastest-varying first.
    public let dims: [Int]
    /// The element type.
    public let type: GGMLType
    /// The data offset relative to the start of the file's data section.
    public let offset: Int
    /// The number of elements (product of `dims`).
    public let elementCount: Int
    /// The size of the tensor's data in bytes.
    public let byteCount: Int

    /// Elements per row (`dims[0]`).
    public var rowLength: Int { dims[0] }
    /// The number of rows (product of `dims[1...]`, 1 for a vector).
    public var rows: Int { elementCount / dims[0] }
    /// Bytes per row.
    public var rowBytes: Int { dims[0] / type.blockSize * type.bytesPerBlock }
}

/// A tensor whose ggml type this reader does not decode, recorded when a file is opened with
/// `GGUFFile(path:unsupportedTensorTypes: .record)` so that the file can still be described.
///
/// Its byte size is unknown, so it has no data range (`GGUFFile.data(of:)` takes only
/// `GGUFTensorInfo`s); `GGUFFile.requireSupportedTensors()` reports it as an error.
public struct GGUFUnsupportedTensor: Sendable, Equatable {
    /// The tensor's name.
    public let name: String
    /// The dimensions, fastest-varying first.
    public let dims: [Int]
    /// The ggml type id as stored in the file.
    public let typeID: UInt32
    /// The data offset relative to the start of the file's data section.
    public let offset: Int
    /// The number of elements (product of `dims`).
    public let elementCount: Int
    /// The tensor's position among all tensors of the file (supported or not), from 0.
    public let index: Int

    /// ggml's name of the type (`IQ2_XXS`, …), or nil for an id ggml does not define.
    public var typeName: String? { GGMLType.knownName(typeID: typeID) }
}
