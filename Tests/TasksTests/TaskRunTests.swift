import Foundation
import Pipeline
import Store
import Tasks
import TestSupport
import Testing

@Suite("Summarize and translate runs in process", .serialized)
struct TaskRunTests {
    static func document(_ label: String, _ text: String = TaskDocuments.threeParagraphs) throws -> (dir: URL, doc: String, store: RunStore) {
        let dir = try Fixtures.temporaryDirectory(label)
        let doc = dir.appendingPathComponent("doc.txt").path
        try Data(text.utf8).write(to: URL(fileURLWithPath: doc))
        return (dir, doc, try RunStore(path: dir.appendingPathComponent("runs.sqlite").path))
    }

    static func summarizeConfig(output: String? = nil) -> TaskConfiguration {
        TaskConfiguration(kind: .summarize, sectionTokens: 64, maxTokens: 12, length: .short, checkpointEveryTokens: 0,
                          checkpointEverySeconds: 0, outputPath: output)
    }

    static func translateConfig(seed: UInt64) -> TaskConfiguration {
        TaskConfiguration(kind: .translate, sectionTokens: 64, maxTokens: 14, style: "modern English",
                          sampling: SamplingConfiguration(temperature: 0.8, topK: 40, topP: 0.95, seed: seed),
                          checkpointEveryTokens: 0, checkpointEverySeconds: 0)
    }

    @Test("Summarize: one note per section, byte ranges covering the document, a final summary, Markdown with links")
    func summarize() throws {
        guard let model = try SharedModel.load() else { Issue.record("model missing"); return }
        let (dir, doc, store) = try Self.document("sum")
        let output = dir.appendingPathComponent("summary.md").path
        let run = try TaskRun.start(documentPath: doc, model: model, modelSHA256: "test", config: Self.summarizeConfig(output: output),
                                    store: store, threads: 2)
        #expect(try run.run() == .completed)
        let outputs = try store.outputs(runID: run.runID)
        let notes = outputs.filter { $0.kind == "note" }
        #expect(run.sectionCount == 3)
        #expect(notes.count == 3)
        #expect(notes.first?.byteStart == 0)
        #expect(notes.last?.byteEnd == Int64(TaskDocuments.threeParagraphs.utf8.count))
        for (a, b) in zip(notes, notes.dropFirst()) { #expect(a.byteEnd == b.byteStart) }
        #expect(notes.allSatisfy { !$0.text.isEmpty })
        #expect(outputs.last { $0.kind != "warning" }?.kind == "summary")
        // Replies that failed a check are reported as warnings beside the outputs, never in them.
        let warnings = outputs.filter { $0.kind == "warning" }
        #expect(warnings.allSatisfy { $0.text.contains("bytes ") })
        let markdown = try String(contentsOfFile: output, encoding: .utf8)
        #expect(markdown.hasPrefix("# Summary of doc.txt\n"))
        #expect(markdown.contains("1. [bytes 0–\(notes[0].byteEnd)](file://"))
        #expect(markdown == (try run.renderedResult()))
        #expect(try store.run(id: run.runID)?.status == .completed)
        #expect(run.counters.generatedTokens > 0 && run.counters.sourceTokens > 100)
    }

    /// Runs to completion, pausing at each of `pauses` (counted in steps since the last start) and resuming.
    static func outputs(config: TaskConfiguration, label: String, pauses: [Int]) throws -> [OutputChunk] {
        guard let model = try SharedModel.load() else { return [] }
        let (_, doc, store) = try document(label)
        var run = try TaskRun.start(documentPath: doc, model: model, modelSHA256: "test", config: config, store: store, threads: 2)
        for pause in pauses {
            var calls = 0
            let outcome = try run.run(shouldStop: { calls += 1; return calls > pause })
            #expect(outcome == .paused)
            #expect(try store.run(id: run.runID)?.status == .paused)
            run = try TaskRun.resume(runID: run.runID, store: store, model: model, modelSHA256: "test", threads: 1)
        }
        #expect(try run.run() == .completed)
        return try store.outputs(runID: run.runID)
    }

    @Test("Greedy summarize paused mid-generation (several times, other thread count) resumes to identical notes and summary")
    func summarizePauseResume() throws {
        guard try SharedModel.load() != nil else { Issue.record("model missing"); return }
        let reference = try Self.outputs(config: Self.summarizeConfig(), label: "sum-ref", pauses: [])
        let resumed = try Self.outputs(config: Self.summarizeConfig(), label: "sum-pause", pauses: [3, 9, 17])
        #expect(resumed == reference.map { var o = $0; o.runID = resumed.first?.runID ?? ""; return o })
        #expect(reference.filter { $0.kind != "warning" }.count == 4, "three notes and the summary")
    }

    @Test("Greedy summarize paused every 3 steps, across rewound branches, resumes to identical outputs every time")
    func summarizePauseEverywhere() throws {
        guard let model = try SharedModel.load() else { Issue.record("model missing"); return }
        let reference = try Self.outputs(config: Self.summarizeConfig(), label: "sum-ref3", pauses: [])
        // A checkpoint after nearly every step leaves K/V blocks starting inside the branch; the
        // rewound stream overwrites those tokens, and every resume must restore the new rows only.
        let (_, doc, store) = try Self.document("sum-every")
        var run = try TaskRun.start(documentPath: doc, model: model, modelSHA256: "test", config: Self.summarizeConfig(), store: store, threads: 2)
        var resumes = 0
        while true {
            var calls = 0
            let outcome = try run.run(shouldStop: { calls += 1; return calls > 3 })
            if outcome == .completed { break }
            #expect(outcome == .paused)
            let blocks = try store.kvBlocks(runID: run.runID).map(\.tokens)
            for (a, b) in zip(blocks, blocks.dropFirst()) { #expect(a.upperBound <= b.lowerBound, "stored K/V blocks \(a) and \(b) overlap") }
            run = try TaskRun.resume(runID: run.runID, store: store, model: model, modelSHA256: "test", threads: 2)
            resumes += 1
        }
        #expect(resumes > 20)
        let resumed = try store.outputs(runID: run.runID)
        #expect(resumed == reference.map { var o = $0; o.runID = run.runID; return o })
    }

    @Test("Seeded sampling translate paused mid-generation resumes to identical sections; another seed differs")
    func translatePauseResume() throws {
        guard try SharedModel.load() != nil else { Issue.record("model missing"); return }
        let reference = try Self.outputs(config: Self.translateConfig(seed: 11), label: "tr-ref", pauses: [])
        let resumed = try Self.outputs(config: Self.translateConfig(seed: 11), label: "tr-pause", pauses: [2, 8])
        #expect(resumed.map(\.text) == reference.map(\.text))
        #expect(resumed.map(\.byteStart) == reference.map(\.byteStart))
        let other = try Self.outputs(config: Self.translateConfig(seed: 12), label: "tr-other", pauses: [])
        #expect(other.map(\.text) != reference.map(\.text))
        #expect(reference.count == 3)
    }
}
