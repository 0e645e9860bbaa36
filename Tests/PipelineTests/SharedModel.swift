import Foundation
import Kernels
import Model
import TestSupport

/// Loads the real default model once per precision for the whole test run.
enum SharedModel {
    nonisolated(unsafe) private static var cache: [Precision: LlamaModel] = [:]
    private static let lock = NSLock()

    static func load(_ precision: Precision = .fast) throws -> LlamaModel? {
        guard let path = Fixtures.modelPath else { return nil }
        lock.lock()
        defer { lock.unlock() }
        if let m = cache[precision] { return m }
        let m = try LlamaModel(path: path, precision: precision)
        cache[precision] = m
        return m
    }

    /// The golden passage as a document file in a fresh directory.
    static func goldenDocument(in dir: URL) throws -> String {
        let path = dir.appendingPathComponent("golden.txt").path
        try Data(try GoldenA.load().text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }
}
