import ArgumentParser
import Foundation
import Model
import Pipeline
import Tokenization

struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Print a file's token ids as one JSON array.",
        discussion: """
            The file is read and tokenized block by block (any length; output streams as it goes), \
            exactly as `score` tokenizes it. Control-token text such as <|im_end|> is plain text \
            unless --parse-special is given, which reads the whole file at once (for prompts).
            """)

    @Argument(help: "The text file to tokenize ('-' for standard input).")
    var file: String

    @Flag(help: "Turn control-token text into control tokens.")
    var parseSpecial = false

    @OptionGroup var options: ModelOptions

    func run() throws {
        let tokenizer = try options.loadTokenizer(logger: options.makeLogger())
        if parseSpecial {
            let text = try DocumentText.read(file)
            let ids = tokenizer.encode(text, parseSpecial: true)
            print("[" + ids.map(String.init).joined(separator: ",") + "]")
            return
        }
        let reader = try DocumentReader(path: file == "-" ? "/dev/stdin" : file, tokenizer: tokenizer, acceptsBlank: true)
        let out = FileHandle.standardOutput
        var separator = "["
        while !reader.reachedEnd {
            let tokens = try reader.next()
            if tokens.isEmpty { continue }
            var chunk = ""
            chunk.reserveCapacity(tokens.count * 6)
            for token in tokens {
                chunk += separator
                chunk += String(token.id)
                separator = ","
            }
            out.write(Data(chunk.utf8))
        }
        out.write(Data((separator == "[" ? "[]\n" : "]\n").utf8))
    }
}

/// Reads a whole (small) text file as UTF-8, with an error naming the first bad byte.
enum DocumentText {
    static func read(_ path: String) throws -> String {
        let data: Data
        do {
            data = path == "-" ? FileHandle.standardInput.readDataToEndOfFile() : try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw DocumentError(code: FileManager.default.fileExists(atPath: path) ? "document.unreadable" : "document.missing",
                                path: path, byteOffset: nil, message: "cannot read the file: \((error as NSError).localizedDescription)")
        }
        guard let text = String(validatingUTF8Data: data) else {
            let offset = firstInvalidUTF8Offset(data) ?? 0
            throw DocumentError(code: "document.invalid-utf8", path: path, byteOffset: Int64(offset), message: "the file is not valid UTF-8")
        }
        return text
    }
}

extension String {
    init?(validatingUTF8Data data: Data) {
        guard let s = String(data: data, encoding: .utf8) else { return nil }
        self = s
    }
}

/// The offset of the first byte that breaks UTF-8, or nil if the data is valid.
func firstInvalidUTF8Offset(_ data: Data) -> Int? {
    var iterator = data.makeIterator()
    var decoder = UTF8()
    var consumed = 0
    while true {
        switch decoder.decode(&iterator) {
        case .scalarValue(let scalar): consumed += UTF8.width(scalar)
        case .emptyInput: return nil
        case .error: return consumed
        }
    }
}
