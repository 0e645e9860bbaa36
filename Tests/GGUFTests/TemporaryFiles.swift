import Foundation
import GGUF
import TestSupport

/// Writes `bytes` to a fresh temporary file, opens it as GGUF and deletes the file again
/// (the mapping outlives the directory entry).
func openGGUF(_ bytes: [UInt8], name: String = "test.gguf") throws -> GGUFFile {
    let path = try temporaryPath(name)
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try GGUFFile(path: path)
}

/// The `GGUFError` that opening `bytes` throws, or nil when it opens.
func openError(_ bytes: [UInt8], name: String = "test.gguf") throws -> GGUFError? {
    do {
        _ = try openGGUF(bytes, name: name)
        return nil
    } catch let error as GGUFError {
        return error
    }
}

/// A unique path inside this test process's temporary directory.
func temporaryPath(_ name: String) throws -> String {
    let directory = try sharedTemporaryDirectory.get()
    return directory.appendingPathComponent(UUID().uuidString + "-" + name).path
}

private let sharedTemporaryDirectory = Result { try Fixtures.temporaryDirectory("gguf") }

/// The bytes of a tiny random model.
func tinyModelBytes(seed: UInt64 = 1, weightType: GGMLType = .q4_1) throws -> [UInt8] {
    let path = try temporaryPath("tiny.gguf")
    defer { try? FileManager.default.removeItem(atPath: path) }
    try TinyModel.write(to: path, seed: seed, weightType: weightType)
    return try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
}
