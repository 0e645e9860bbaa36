#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import FuzzSupport
import GGUF
import Tokenization

// libFuzzer target for the GGUF reader: parse arbitrary bytes with `GGUFFile(bytes:)`; a
// rejected input must give a `GGUFError` whose message names the file; an accepted one must
// have every tensor's data inside the file, and everything a loader does next (typed
// accessors, dequantizing rows, building the tokenizer from the metadata) must not crash.
//
// With SINKSTREAM_FUZZ_WRITE_SEEDS=DIR set, the binary writes its seed corpus to DIR and exits.

private let fileName = "fuzz.gguf"

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> CInt {
    if let directory = FuzzEnvironment.value("SINKSTREAM_FUZZ_WRITE_SEEDS") {
        for seed in GGUFSeeds.all() {
            // Each seed must itself parse, or the corpus would start from nothing useful.
            do {
                _ = try GGUFFile(bytes: seed.bytes, name: seed.name)
            } catch {
                FuzzCheck.fail("seed \(seed.name) does not parse: \(error)")
            }
            FuzzCheck.require(FuzzEnvironment.write(seed.bytes, to: directory + "/" + seed.name),
                              "cannot write \(directory)/\(seed.name)")
        }
        exit(0)
    }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGGUF(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    let file: GGUFFile
    do {
        file = try GGUFFile(bytes: bytes, name: fileName)
    } catch {
        FuzzCheck.require(error.description.hasPrefix(fileName + ": "), "error does not name the file: \(error)")
        FuzzCheck.require(error.code.hasPrefix("gguf."), "error without a code: \(error)")
        FuzzCheck.require(error.file == fileName, "error names another file: \(error.file)")
        return 0
    }
    checkStructure(file, size: size)
    exerciseMetadata(file)
    exerciseTensors(file)
    exerciseTokenizer(file)
    return 0
}

/// Invariants of an accepted file.
private func checkStructure(_ file: GGUFFile, size: Int) {
    FuzzCheck.require(file.version == 2 || file.version == 3, "version \(file.version) accepted")
    FuzzCheck.require(file.fileSize == size, "fileSize \(file.fileSize) != \(size)")
    FuzzCheck.require(file.alignment > 0 && file.alignment & (file.alignment - 1) == 0, "alignment \(file.alignment)")
    FuzzCheck.require(file.dataOffset % file.alignment == 0, "data offset \(file.dataOffset) not aligned")
    FuzzCheck.require(file.metadataKeys.count == file.metadata.count, "metadata keys and values differ in count")
    FuzzCheck.require(Set(file.tensors.map(\.name)).count == file.tensors.count, "duplicate tensor names accepted")
    for info in file.tensors {
        FuzzCheck.require((1...4).contains(info.dims.count) && info.dims.allSatisfy { $0 > 0 }, "dims \(info.dims)")
        FuzzCheck.require(info.dims.reduce(1, *) == info.elementCount, "element count of \(info.name)")
        FuzzCheck.require(info.type.byteCount(elements: info.elementCount) == info.byteCount, "byte count of \(info.name)")
        FuzzCheck.require(info.rowLength % info.type.blockSize == 0, "row of \(info.name) not whole blocks")
        FuzzCheck.require(info.offset % file.alignment == 0, "offset of \(info.name) not aligned")
        FuzzCheck.require(file.tensor(info.name) == info, "lookup of \(info.name)")
        let data = file.data(of: info)
        FuzzCheck.require(data.count == info.byteCount, "data(of: \(info.name)) has \(data.count) bytes, not \(info.byteCount)")
        if let base = data.baseAddress {
            let start = UnsafeRawPointer(base) - UnsafeRawPointer(file.bytes.baseAddress!)
            FuzzCheck.require(start >= 0 && start + data.count <= file.fileSize, "data of \(info.name) outside the file")
        }
    }
}

/// Every typed accessor on every key.
private func exerciseMetadata(_ file: GGUFFile) {
    for key in file.metadataKeys {
        FuzzCheck.require(file.metadata[key] != nil, "key \(key) listed but absent")
        _ = file.string(key)
        _ = file.integer(key)
        _ = file.float(key)
        _ = file.bool(key)
        _ = file.stringArray(key)
        _ = file.integerArray(key)
        _ = file.floatArray(key)
        _ = file.metadata[key]?.typeName
    }
    do {
        try file.requireArchitecture(["llama"])
    } catch {
        FuzzCheck.require(error.code == "gguf.unsupported_architecture", "requireArchitecture threw \(error)")
    }
}

/// Dequantizes the first row (at most 256 elements) of every tensor.
private func exerciseTensors(_ file: GGUFFile) {
    for info in file.tensors {
        let count = min(info.rowLength, 256 / info.type.blockSize * info.type.blockSize)
        guard count > 0 else { continue }
        let values = GGMLDequantize.dequantize(file.data(of: info), type: info.type, count: count)
        FuzzCheck.require(values.count == count, "dequantized \(values.count) of \(count) values of \(info.name)")
    }
}

/// Builds the tokenizer a loader would build from the metadata, strict and lenient, and uses it.
private func exerciseTokenizer(_ file: GGUFFile) {
    for strict in [true, false] {
        let tokenizer: BPETokenizer
        do {
            guard let built = try FuzzVocabulary.fromGGUF(file, strictMerges: strict) else { return }
            tokenizer = built
        } catch {
            FuzzCheck.require(error is TokenizerError, "tokenizer construction threw a \(type(of: error))")
            continue
        }
        for parseSpecial in [false, true] {
            let ids = tokenizer.encode("Hello wörld <|im_end|> 12345 \n\n  x", parseSpecial: parseSpecial)
            FuzzCheck.require(ids.allSatisfy { $0 >= 0 && Int($0) < tokenizer.vocabularySize },
                              "encode gave an id outside the vocabulary")
            _ = tokenizer.decode(ids)
        }
        if var encoder = try? StreamingEncoder(tokenizer: tokenizer, replaceInvalid: true) {
            _ = try? encoder.feed(Array("ab\u{e9} 12".utf8) + [0xFF], isFinal: true)
        }
    }
}
