import Foundation
import Testing
import Tokenization

@Suite("Encode throughput (prints MB/s, no timing assertion)", .enabled(if: TokenizerFixture.isAvailable))
struct EncodeBenchmarkTests {
    @Test("whole-text and streaming encode of ~4 MB of English")
    func throughput() throws {
        let tokenizer = try TokenizerFixture.tokenizer()
        let golden = try TokenizerCase.goldenA().text
        let copies = max(1, 4_000_000 / golden.utf8.count)
        let text = Array(repeating: golden, count: copies).joined(separator: "\n")
        let megabytes = Double(text.utf8.count) / 1_000_000

        let clock = ContinuousClock()
        var ids: [Int32] = []
        let whole = clock.measure { ids = tokenizer.encode(text, parseSpecial: false) }
        #expect(ids.count > copies * 2000)

        var encoder = try StreamingEncoder(tokenizer: tokenizer)
        let bytes = Array(text.utf8)
        var streamed = 0
        let streaming = try clock.measure {
            var pos = 0
            while pos < bytes.count {
                let end = min(pos + 65536, bytes.count)
                streamed += try bytes[pos..<end].withUnsafeBytes { try encoder.feed($0, isFinal: end == bytes.count).count }
                pos = end
            }
        }
        #expect(streamed == ids.count)
        func rate(_ d: Duration) -> String {
            let seconds = Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
            return String(format: "%.1f MB/s", megabytes / seconds)
        }
        print("Tokenization benchmark: \(String(format: "%.1f", megabytes)) MB → \(ids.count) tokens; encode \(rate(whole)), streaming (64 KiB chunks) \(rate(streaming))")
    }
}

@Suite("Encode throughput, Qwen 2.5 and Gemma 3 (prints MB/s, no timing assertion)", .enabled(if: ModelTokenizerFixture.anyAvailable))
struct ModelEncodeBenchmarkTests {
    @Test("whole-text and streaming encode of ~4 MB of English", arguments: ModelTokenizerFixture.available)
    func throughput(_ model: ModelTokenizerFixture) throws {
        let tokenizer = try model.tokenizer()
        let passage = try model.passageA().text
        let copies = max(1, 4_000_000 / passage.utf8.count)
        let text = Array(repeating: passage, count: copies).joined(separator: "\n")
        let megabytes = Double(text.utf8.count) / 1_000_000
        let clock = ContinuousClock()
        var ids: [Int32] = []
        let whole = clock.measure { ids = tokenizer.encode(text, parseSpecial: false) }
        #expect(ids.count > copies * 2000)
        var encoder = try StreamingEncoder(tokenizer: tokenizer)
        let bytes = Array(text.utf8)
        var streamed: [Int32] = []
        let streaming = try clock.measure {
            var pos = 0
            while pos < bytes.count {
                let end = min(pos + 65536, bytes.count)
                streamed += try bytes[pos..<end].withUnsafeBytes { try encoder.feed($0, isFinal: end == bytes.count) }.map(\.id)
                pos = end
            }
        }
        #expect(streamed == ids)
        func rate(_ d: Duration) -> String {
            let seconds = Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
            return String(format: "%.1f MB/s", megabytes / seconds)
        }
        print("Tokenization benchmark (\(model)): \(String(format: "%.1f", megabytes)) MB → \(ids.count) tokens; encode \(rate(whole)), streaming (64 KiB chunks) \(rate(streaming))")
    }
}
