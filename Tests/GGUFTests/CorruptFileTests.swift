import GGUF
import Testing
import TestSupport

@Suite("Corrupt and hostile files give specific errors, never a crash")
struct CorruptFileTests {
    @Test("every corrupt variant of the tiny model gives its specific error")
    func variants() throws {
        let bytes = try tinyModelBytes()
        let variants = TinyModel.corruptVariants(of: bytes)
        #expect(Set(variants.map(\.name)) == Set(TinyModel.expectedErrorCodes.keys))
        for variant in variants {
            let expected = try #require(TinyModel.expectedErrorCodes[variant.name])
            if variant.name == "architecture-gpt2" {
                let file = try openGGUF(variant.bytes)
                #expect(file.string("general.architecture") == "gpt2")
                #expect(file.tensors.count == 20)
                #expect(throws: GGUFError.unsupportedArchitecture(file: file.path, found: "gpt2", allowed: ["llama"])) {
                    try file.requireArchitecture(["llama"])
                }
                continue
            }
            let error = try openError(variant.bytes, name: variant.name + ".gguf")
            #expect(error?.code == expected, "\(variant.name): \(String(describing: error))")
            if let error {
                #expect(error.description.contains(variant.name + ".gguf: "), "\(error)")
                #expect(error.description.hasSuffix("."))
            }
        }
    }

    @Test("error messages carry the context (tensor name, offsets, sizes)")
    func messages() throws {
        let bytes = try tinyModelBytes()
        let variants = Dictionary(uniqueKeysWithValues: TinyModel.corruptVariants(of: bytes).map { ($0.name, $0.bytes) })
        func error(_ name: String, file: String = "test.gguf") throws -> GGUFError {
            let variant = try #require(variants[name], "variant \(name) missing")
            return try #require(try openError(variant, name: file), "variant \(name) opened")
        }
        let truncated = try error("truncated-in-header", file: "m.gguf")
        #expect(truncated == .truncated(file: truncated.file, needed: 8, offset: 8, fileSize: 12))
        #expect(truncated.description.hasSuffix("m.gguf: file is truncated: needed 8 bytes at offset 8 but the file has 12 bytes."))
        let magic = try error("wrong-magic")
        #expect(magic == .badMagic(file: magic.file, bytes: [0x46, 0x55, 0x47, 0x47]))
        #expect(magic.description.contains("the first bytes are 46 55 47 47 (\"FUGG\") instead of \"GGUF\""))
        let past = try error("truncated-in-data")
        guard case .tensorOutOfBounds(_, let tensor, _, _, _, let fileSize) = past else {
            Issue.record("expected tensorOutOfBounds, got \(past)")
            return
        }
        #expect(tensor == "output_norm.weight")
        #expect(fileSize == bytes.count - 1)
        #expect(past.description.contains("output_norm.weight"))
        let type = try error("unsupported-tensor-type")
        #expect(type == .unsupportedTensorType(file: type.file, tensor: "token_embd.weight", typeID: 16))
        #expect(type.description.contains("has ggml type 16 (IQ2_XXS), which is not supported; supported types are F32, F16, Q4_0"))
        let version = try error("version-1")
        #expect(version == .unsupportedVersion(file: version.file, version: 1))
    }

    @Test("missing files and directories give openFailed")
    func openFailures() throws {
        let missing = #expect(throws: GGUFError.self) { try GGUFFile(path: "/nonexistent/model.gguf") }
        #expect(missing?.code == "gguf.open_failed")
        #expect(missing?.description.hasPrefix("/nonexistent/model.gguf: cannot open the model file: ") == true)
        let directory = #expect(throws: GGUFError.self) { try GGUFFile(path: "/tmp") }
        #expect(directory?.code == "gguf.open_failed")
    }

    @Test("every truncation of the header is rejected")
    func truncations() throws {
        let bytes = try tinyModelBytes()
        let complete = try openGGUF(bytes)
        let lengths = Array(Swift.stride(from: 1, to: complete.dataOffset + 64, by: 5)) + [bytes.count - 1]
        for length in lengths {
            let error = try openError(Array(bytes[..<length]))
            #expect(error != nil, "prefix of \(length) bytes opened")
        }
    }

    @Test("random byte mutations of the header either fail cleanly or stay in bounds")
    func mutations() throws {
        let bytes = try tinyModelBytes()
        let headerEnd = try openGGUF(bytes).dataOffset
        var rng = TinyModel.SplitMix64(seed: 42)
        var failures: [String: Int] = [:]
        var opened = 0
        for _ in 0..<400 {
            var mutated = bytes
            for _ in 0..<(1 + Int(rng.next() % 4)) {
                let at = Int(rng.next() % UInt64(headerEnd))
                mutated[at] = rng.next() % 2 == 0 ? UInt8(truncatingIfNeeded: rng.next()) : 0xff
            }
            do {
                let file = try openGGUF(mutated)
                opened += 1
                for tensor in file.tensors {
                    let data = file.data(of: tensor)
                    #expect(data.count == tensor.byteCount)
                    if let base = data.baseAddress, let start = file.bytes.baseAddress {
                        #expect(base - start + data.count <= file.fileSize)
                    }
                }
            } catch let error as GGUFError {
                failures[error.code, default: 0] += 1
            }
        }
        print("GGUF header mutations: \(opened) opened, failures by code: \(failures.sorted { $0.key < $1.key })")
        #expect(opened + failures.values.reduce(0, +) == 400)
    }
}
