#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A GGUF model file (version 2 or 3), memory-mapped read-only and validated on open.
///
/// Opening parses the header, all metadata and all tensor infos and checks every tensor's
/// data range before returning, so later accesses to tensor data cannot go out of bounds.
/// Tensor data is not copied: `data(of:)` points into the mapping.
///
/// `@unchecked Sendable`: every stored property is immutable after `init`, and the object owns
/// the read-only mapping (unmapped in `deinit`), so sharing it between threads is safe.
public final class GGUFFile: @unchecked Sendable {
    /// The path the file was opened with.
    public let path: String
    /// The GGUF version (2 or 3).
    public let version: UInt32
    /// The data alignment (`general.alignment`, default 32).
    public let alignment: Int
    /// The absolute file offset of the data section.
    public let dataOffset: Int
    /// The file size in bytes.
    public let fileSize: Int
    /// All metadata values by key.
    public let metadata: [String: GGUFValue]
    /// The metadata keys in file order.
    public let metadataKeys: [String]
    /// The tensor infos in file order (tensors of types this reader decodes).
    public let tensors: [GGUFTensorInfo]
    /// The tensors of types this reader does not decode, in file order; always empty unless
    /// the file was opened with `unsupportedTensorTypes: .record`.
    public let unsupportedTensors: [GGUFUnsupportedTensor]

    /// What opening a file does with tensors of types this reader does not decode.
    public enum UnsupportedTensorTypes: Sendable {
        /// Throw `GGUFError.unsupportedTensorType` for the first one (the default: such a file
        /// cannot be loaded).
        case reject
        /// Record them in `unsupportedTensors` and open the file, e.g. to describe it; call
        /// `requireSupportedTensors()` before using its weights.
        case record
    }

    private let tensorIndex: [String: Int]
    private let mapping: UnsafeMutableRawPointer

    /// Opens, maps and validates a GGUF file.
    ///
    /// - Parameters:
    ///   - path: the file's path.
    ///   - unsupportedTensorTypes: `.reject` (default) fails on a tensor type this reader does
    ///     not decode; `.record` lists such tensors in `unsupportedTensors` instead.
    /// - Throws: `GGUFError` naming the file and the first problem found (with its byte offset).
    public convenience init(path: String, unsupportedTensorTypes: UnsupportedTensorTypes = .reject) throws(GGUFError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .openFailed(file: path, reason: GGUFFile.systemError()) }
        defer { close(fd) }

        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .openFailed(file: path, reason: GGUFFile.systemError()) }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw .openFailed(file: path, reason: "not a regular file")
        }
        let size = Int(info.st_size)
        guard size > 0 else { throw .truncated(file: path, needed: 4, offset: 0, fileSize: 0) }
        guard let mapped = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0),
              mapped != UnsafeMutableRawPointer(bitPattern: -1)
        else {
            throw .openFailed(file: path, reason: "mmap failed: " + GGUFFile.systemError())
        }
        try self.init(mapping: mapped, size: size, path: path, unsupportedTensorTypes: unsupportedTensorTypes)
    }

    /// Parses and validates GGUF bytes held in memory (a copy is made), e.g. for fuzzing.
    ///
    /// The result behaves like a file opened with `init(path:)`; `releaseResidentPages()`
    /// would discard the copy, so it is meant for inspection, not for loading weights.
    /// - Parameters:
    ///   - bytes: the complete file contents.
    ///   - name: the name used as `path` in the object and in errors.
    ///   - unsupportedTensorTypes: as for `init(path:unsupportedTensorTypes:)`.
    /// - Throws: `GGUFError` naming `name` and the first problem found.
    public convenience init(
        bytes: [UInt8], name: String = "<memory>", unsupportedTensorTypes: UnsupportedTensorTypes = .reject
    ) throws(GGUFError) {
        guard !bytes.isEmpty else { throw .truncated(file: name, needed: 4, offset: 0, fileSize: 0) }
        guard let mapped = mmap(nil, bytes.count, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
              mapped != UnsafeMutableRawPointer(bitPattern: -1)
        else {
            throw .openFailed(file: name, reason: "mmap failed: " + GGUFFile.systemError())
        }
        bytes.withUnsafeBytes { source in
            if let base = source.baseAddress { mapped.copyMemory(from: base, byteCount: source.count) }
        }
        try self.init(mapping: mapped, size: bytes.count, path: name, unsupportedTensorTypes: unsupportedTensorTypes)
    }

    /// Takes ownership of `mapping` (unmapped on failure or in `deinit`) and parses it.
    private init(
        mapping mapped: UnsafeMutableRawPointer, size: Int, path: String, unsupportedTensorTypes: UnsupportedTensorTypes
    ) throws(GGUFError) {
        let header: GGUFHeader
        do throws(GGUFError) {
            header = try GGUFParser.parse(base: UnsafeRawPointer(mapped), size: size, file: path)
            if unsupportedTensorTypes == .reject, let first = header.unsupportedTensors.first {
                throw .unsupportedTensorType(file: path, tensor: first.name, typeID: first.typeID)
            }
        } catch {
            munmap(mapped, size)
            throw error
        }
        self.path = path
        mapping = mapped
        fileSize = size
        version = header.version
        alignment = header.alignment
        dataOffset = header.dataOffset
        metadata = header.metadata
        metadataKeys = header.metadataKeys
        tensors = header.tensors
        unsupportedTensors = header.unsupportedTensors
        tensorIndex = header.tensorIndex
    }

    deinit {
        munmap(mapping, fileSize)
    }

    /// Throws unless every tensor has a type this reader decodes.
    ///
    /// - Throws: `GGUFError.unsupportedTensorType` for the first tensor in `unsupportedTensors`.
    public func requireSupportedTensors() throws(GGUFError) {
        if let first = unsupportedTensors.first {
            throw .unsupportedTensorType(file: path, tensor: first.name, typeID: first.typeID)
        }
    }

    /// The info of the tensor named `name`, or nil (also for a tensor in `unsupportedTensors`).
    public func tensor(_ name: String) -> GGUFTensorInfo? {
        tensorIndex[name].map { tensors[$0] }
    }

    /// The tensor's bytes inside the mapping, valid while this `GGUFFile` is alive.
    ///
    /// Returns an empty buffer if `info` does not describe a range inside this file
    /// (e.g. it came from another file).
    public func data(of info: GGUFTensorInfo) -> UnsafeRawBufferPointer {
        let (start, overflowStart) = dataOffset.addingReportingOverflow(info.offset)
        let (end, overflowEnd) = start.addingReportingOverflow(info.byteCount)
        guard !overflowStart, !overflowEnd, info.offset >= 0, info.byteCount >= 0, end <= fileSize else {
            return UnsafeRawBufferPointer(start: nil, count: 0)
        }
        return UnsafeRawBufferPointer(start: UnsafeRawPointer(mapping) + start, count: info.byteCount)
    }

    /// The whole mapped file, valid while this `GGUFFile` is alive.
    public var bytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: UnsafeRawPointer(mapping), count: fileSize)
    }

    /// Tells the kernel that the mapped pages are not needed now (they are re-read from the
    /// file on the next access). Used after weights were copied into a packed layout, so the
    /// process does not keep both copies resident.
    public func releaseResidentPages() {
        madvise(mapping, fileSize, MADV_DONTNEED)
    }

    /// Throws unless `general.architecture` is present and one of `allowed`.
    ///
    /// - Throws: `GGUFError.unsupportedArchitecture` (with `found == nil` when the key is absent).
    public func requireArchitecture(_ allowed: Set<String>) throws(GGUFError) {
        let found = string("general.architecture")
        guard let found, allowed.contains(found) else {
            throw .unsupportedArchitecture(file: path, found: found, allowed: allowed.sorted())
        }
    }

    private static func systemError() -> String {
        String(cString: strerror(errno))
    }
}
