import Foundation
import Store

/// Renders a task's stored outputs as the files the commands write.
public enum TaskOutput {
    /// One rendered section of a translation: the text followed by a blank line, or a JSON line.
    public static func translatedSection(_ output: OutputChunk, format: TaskOutputFormat, source: String) -> String {
        switch format {
        case .text: return output.text + "\n\n"
        case .jsonl:
            return jsonLine(TranslationLine(section: output.sequence, byte_start: output.byteStart, byte_end: output.byteEnd,
                                            source: source, output: output.text))
        }
    }

    /// The Markdown of a summary: the final summary, then one note per section linked to its byte range.
    public static func summaryMarkdown(documentPath: String, outputs: [OutputChunk]) -> String {
        let name = (documentPath as NSString).lastPathComponent
        let link = "file://" + (documentPath.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? documentPath)
        var text = "# Summary of \(name)\n\n"
        let summary = outputs.last { $0.kind == "summary" }?.text ?? ""
        text += summary + "\n\n## Section notes\n\n"
        let notes = outputs.filter { $0.kind == "note" }
        for (i, note) in notes.enumerated() {
            text += "\(i + 1). [bytes \(note.byteStart)–\(note.byteEnd)](\(link)#bytes=\(note.byteStart)-\(note.byteEnd)) "
                + TaskRun.oneLine(note.text) + "\n"
        }
        return text
    }

    /// Every output of a summary run as JSON lines (kind, byte range, text).
    public static func summaryJSONL(outputs: [OutputChunk]) -> String {
        outputs.map { jsonLine(NoteLine(kind: $0.kind, byte_start: $0.byteStart, byte_end: $0.byteEnd, text: $0.text)) }.joined()
    }

    private struct TranslationLine: Encodable {
        var section: Int64
        var byte_start: Int64
        var byte_end: Int64
        var source: String
        var output: String
    }

    private struct NoteLine: Encodable {
        var kind: String
        var byte_start: Int64
        var byte_end: Int64
        var text: String
    }

    private static func jsonLine<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    /// Replaces `path` with `text` atomically (a temporary file renamed over it).
    /// - Throws: ``TaskError`` naming the path.
    public static func writeAtomically(_ text: String, to path: String) throws {
        do {
            try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw TaskError(code: "task.output", message: "cannot write the output file \(path): \(error.localizedDescription)")
        }
    }

    /// Appends `text` to `path` (created if missing).
    /// - Throws: ``TaskError`` naming the path.
    public static func append(_ text: String, to path: String) throws {
        if !FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.createFile(atPath: path, contents: nil) else {
                throw TaskError(code: "task.output", message: "cannot create the output file \(path).")
            }
        }
        guard let handle = FileHandle(forWritingAtPath: path) else {
            throw TaskError(code: "task.output", message: "cannot open the output file \(path) for writing.")
        }
        defer { try? handle.close() }
        do {
            try handle.seekToEnd()
            try handle.write(contentsOf: Data(text.utf8))
        } catch {
            throw TaskError(code: "task.output", message: "cannot append to the output file \(path): \(error.localizedDescription)")
        }
    }

    /// The document bytes `range` as text (ill-formed UTF-8 becomes U+FFFD).
    /// - Throws: ``TaskError`` when the document cannot be read.
    public static func sourceText(path: String, range: Range<Int64>) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw TaskError(code: "task.source", message: "cannot read the document \(path) for its section text.")
        }
        defer { try? handle.close() }
        do {
            try handle.seek(toOffset: UInt64(range.lowerBound))
            let data = try handle.read(upToCount: range.count) ?? Data()
            return String(decoding: data, as: UTF8.self)
        } catch {
            throw TaskError(code: "task.source", message: "cannot read bytes \(range.lowerBound)–\(range.upperBound) of \(path): \(error.localizedDescription)")
        }
    }
}

extension TaskOutput {
    /// A task run's complete result as its output file holds it, from its stored outputs
    /// (`run` and `export` render with this).
    /// - Parameters:
    ///   - documentPath: the document's registered path (the summary's title and links).
    ///   - source: the document text of a byte range (a translation's JSON lines quote it).
    public static func rendered(config: TaskConfiguration, outputs: [OutputChunk], documentPath: String,
                                source: (Range<Int64>) throws -> String) throws -> String {
        switch config.kind {
        case .summarize:
            return config.format == .jsonl ? summaryJSONL(outputs: outputs)
                : summaryMarkdown(documentPath: documentPath, outputs: outputs)
        case .translate:
            return try outputs.filter { $0.kind == "section" }.map { output in
                translatedSection(output, format: config.format,
                                  source: config.format == .jsonl ? try source(output.byteStart..<output.byteEnd) : "")
            }.joined()
        }
    }
}

extension TaskRun {
    /// The run's complete result as the output file holds it (for standard output).
    public func renderedResult() throws -> String {
        try TaskOutput.rendered(config: config, outputs: try store.outputs(runID: runID), documentPath: registeredDocumentPath) { range in
            try TaskOutput.sourceText(path: documentPath, range: range)
        }
    }

    func renderSection(_ output: OutputChunk) throws -> String {
        let source = config.format == .jsonl ? try TaskOutput.sourceText(path: documentPath, range: output.byteStart..<output.byteEnd) : ""
        return TaskOutput.translatedSection(output, format: config.format, source: source)
    }

    /// A translation's output file holds exactly the checkpointed sections: rewritten at start and resume.
    func rewriteOutputFile() throws {
        guard config.kind == .translate, let path = config.outputPath else { return }
        try TaskOutput.writeAtomically(try renderedResult(), to: path)
    }

    func appendToOutputFile(_ output: OutputChunk) throws {
        guard config.kind == .translate, output.kind == "section", let path = config.outputPath else { return }
        try TaskOutput.append(try renderSection(output), to: path)
    }

    func writeFinalOutput() throws {
        guard let path = config.outputPath else { return }
        try TaskOutput.writeAtomically(try renderedResult(), to: path)
    }
}
