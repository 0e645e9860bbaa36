import Foundation
import Kernels
import Model
import TestSupport

/// Loads the real default model once per precision for the whole test run.
enum SharedModel {
    nonisolated(unsafe) private static var cache: [Precision: LlamaModel] = [:]
    private static let lock = NSLock()

    static func load(_ precision: Precision) throws -> LlamaModel? {
        guard let path = Fixtures.modelPath else { return nil }
        lock.lock()
        defer { lock.unlock() }
        if let m = cache[precision] { return m }
        let m = try LlamaModel(path: path, precision: precision)
        cache[precision] = m
        return m
    }
}
