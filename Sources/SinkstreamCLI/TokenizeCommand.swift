import ArgumentParser
import Foundation
import Model
import Tokenization

struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Print a file's token ids as one JSON array.",
        discussion: "Control-token text such as <|im_end|> is plain text unless --parse-special is given.")

    @Argument(help: "The text file to tokenize ('-' for standard input).")
    var file: String

    @Flag(help: "Turn control-token text into control tokens.")
    var parseSpecial = false

    @OptionGroup var options: ModelOptions

    func run() throws {
        let model = try options.load(logger: options.makeLogger())
        let text = try DocumentText.read(file)
        let ids = model.tokenizer.encode(text, parseSpecial: parseSpecial)
        print("[" + ids.map(String.init).joined(separator: ",") + "]")
    }
}

/// Reads a whole (small) text file as UTF-8, with an error naming the first bad byte.
enum DocumentText {
    static func read(_ path: String) throws -> String {
        let data: Data
        do {
            data = path == "-" ? FileHandle.standardInput.readDataToEndOfFile() : try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw ValidationError("\(path): cannot read the file: \((error as NSError).localizedDescription)")
        }
        guard let text = String(validatingUTF8Data: data) else {
            let offset = firstInvalidUTF8Offset(data) ?? 0
            throw ValidationError("\(path): not valid UTF-8 at byte offset \(offset).")
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
