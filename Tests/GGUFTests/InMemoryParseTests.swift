import Foundation
import GGUF
import TestSupport
import Testing

@Suite("GGUFFile(bytes:) parses in-memory bytes like a file")
struct InMemoryParseTests {
    @Test("the tiny model parses the same from bytes as from its file")
    func sameAsFile() throws {
        let path = try temporaryPath("tiny.gguf")
        try TinyModel.write(to: path)
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let fromFile = try GGUFFile(path: path)
        let fromBytes = try GGUFFile(bytes: bytes, name: "tiny-in-memory")
        #expect(fromBytes.path == "tiny-in-memory")
        #expect(fromBytes.metadataKeys == fromFile.metadataKeys)
        #expect(fromBytes.metadata == fromFile.metadata)
        #expect(fromBytes.tensors == fromFile.tensors)
        #expect(fromBytes.dataOffset == fromFile.dataOffset && fromBytes.fileSize == bytes.count)
        for info in fromFile.tensors {
            #expect(Array(fromBytes.data(of: info)) == Array(fromFile.data(of: info)), "\(info.name)")
        }
    }

    @Test("every corrupt variant gives the same error code from bytes, naming the given name")
    func corruptVariants() throws {
        let path = try temporaryPath("tiny.gguf")
        try TinyModel.write(to: path)
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        for (name, variant) in TinyModel.corruptVariants(of: bytes) where name != "architecture-gpt2" {
            let error = #expect(throws: GGUFError.self, "\(name)") { try GGUFFile(bytes: variant, name: name) }
            #expect(error?.code == TinyModel.expectedErrorCodes[name], "\(name)")
            #expect(error?.file == name)
            #expect(error?.description.hasPrefix(name + ": ") == true)
        }
    }
}
