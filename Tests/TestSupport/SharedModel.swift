import Foundation
import Kernels
import Model

/// The real default model, loaded once per precision for the whole test run.
public enum SharedModel {
    nonisolated(unsafe) private static var cache: [Precision: LanguageModel] = [:]
    private static let lock = NSLock()

    /// The model, or `nil` when it has not been fetched (`sinkstream model fetch`).
    public static func load(_ precision: Precision = .fast) throws -> LanguageModel? {
        guard let path = Fixtures.modelPath else { return nil }
        lock.lock()
        defer { lock.unlock() }
        if let m = cache[precision] { return m }
        let m = try LanguageModel(path: path, precision: precision)
        cache[precision] = m
        return m
    }

    /// The golden passage as a document file in `dir`.
    public static func goldenDocument(in dir: URL) throws -> String {
        let path = dir.appendingPathComponent("golden.txt").path
        try Data(try GoldenA.load().text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }
}
