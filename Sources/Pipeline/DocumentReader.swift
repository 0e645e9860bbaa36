#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Tokenization

/// Reads a document from disk block by block and tokenizes it incrementally.
///
/// Nothing proportional to the document's length is held in memory: one read block and the
/// encoder's held-back tail. Every token comes with the byte offset of its first byte. The
/// reader's position and the encoder's carry-over state can be saved and restored, so a run can
/// continue mid-document after a restart.
public final class DocumentReader {
    public let path: String
    private let fd: Int32
    private var encoder: StreamingEncoder
    private var buffer: [UInt8]
    /// The size of a regular file when it was opened (nil for pipes and devices): the reader
    /// reads exactly that many bytes and fails if the file changes size meanwhile.
    private let expectedSize: Int64?
    /// Whether the file has been read to its end.
    public private(set) var reachedEnd = false
    /// The BOS token still to be returned before the document's first token (models whose
    /// vocabulary says `add_bos_token`, e.g. Gemma); nil once returned or when restoring.
    private var pendingBOS: Int32?
    /// Whether any byte other than ASCII white space has been read.
    public private(set) var sawText = false
    /// Whether a document of white space only (or nothing) is read rather than refused.
    private let acceptsBlank: Bool

    /// Bytes read from the file so far (the offset of the next byte to read).
    public var bytesRead: Int64 { encoder.bytesConsumed }
    /// The encoder's carry-over state, for a checkpoint.
    public var encoderState: Data { encoder.state }

    /// Opens a document.
    ///
    /// - Parameters:
    ///   - replaceInvalid: substitute U+FFFD for ill-formed UTF-8 instead of failing.
    ///   - restoring: an encoder state saved from ``encoderState``; reading continues at the
    ///     offset it records.
    ///   - acceptsBlank: read an empty or white-space-only document (`tokenize`) instead of
    ///     refusing it as nothing to score.
    /// - Throws: ``DocumentError`` when the path is missing, a directory, unreadable, or the
    ///   state does not fit.
    public init(path: String, tokenizer: BPETokenizer, replaceInvalid: Bool = false,
                restoring state: Data? = nil, blockSize: Int = 1 << 20, acceptsBlank: Bool = false) throws {
        self.path = path
        self.acceptsBlank = acceptsBlank
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw DocumentError(code: "document.missing", path: path, byteOffset: nil,
                                message: "cannot open the document: \(String(cString: strerror(errno))).")
        }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            throw DocumentError(code: "document.directory", path: path, byteOffset: nil, message: "this is a directory, not a text file.")
        }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw DocumentError(code: "document.unreadable", path: path, byteOffset: nil,
                                message: "cannot open the document: \(String(cString: strerror(errno))).")
        }
        self.fd = fd
        var opened = stat()
        expectedSize = fstat(fd, &opened) == 0 && (opened.st_mode & S_IFMT) == S_IFREG ? Int64(opened.st_size) : nil
        buffer = [UInt8](repeating: 0, count: max(4096, blockSize))
        do {
            if let state {
                encoder = try StreamingEncoder(tokenizer: tokenizer, restoring: state)
            } else {
                encoder = try StreamingEncoder(tokenizer: tokenizer, replaceInvalid: replaceInvalid)
            }
        } catch {
            close(fd)
            throw DocumentError(code: "document.state", path: path, byteOffset: nil, message: "cannot resume tokenizing: \(error).")
        }
        if encoder.bytesConsumed > 0, lseek(fd, off_t(encoder.bytesConsumed), SEEK_SET) < 0 {
            close(fd)
            throw DocumentError.io(path, "cannot seek to the saved position: \(String(cString: strerror(errno))).", at: encoder.bytesConsumed)
        }
        reachedEnd = encoder.isFinished
        sawText = encoder.bytesConsumed > 0
        pendingBOS = state == nil && tokenizer.addsBOS ? tokenizer.bosID : nil
    }

    deinit { close(fd) }

    /// Reads the next block and returns the tokens it settles (possibly none; the last call
    /// flushes everything). Returns an empty array once the document is exhausted.
    /// - Throws: ``DocumentError`` for a read failure or ill-formed UTF-8 (naming its offset).
    public func next() throws -> [EncodedToken] {
        if reachedEnd { return [] }
        var limit = buffer.count
        if let expectedSize { limit = Int(min(Int64(limit), max(0, expectedSize - bytesRead))) }
        let count = limit == 0 ? 0 : buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, limit) }
        if count < 0 {
            throw DocumentError.io(path, "read failed: \(String(cString: strerror(errno))).", at: bytesRead)
        }
        let final = count == 0
        if final, let expectedSize {
            // A file rewritten, truncated or appended to while a run reads it would give tokens
            // from two different documents (and a resume could not reproduce them).
            var now = stat()
            let size = fstat(fd, &now) == 0 ? Int64(now.st_size) : -1
            if bytesRead != expectedSize || size != expectedSize {
                throw DocumentError(code: "document.changed", path: path, byteOffset: bytesRead,
                                    message: "the file changed while it was being read (it had \(expectedSize) bytes, now \(size)); score a copy that nothing writes to")
            }
        }
        let blockStart = bytesRead
        try buffer.withUnsafeBytes { raw in
            let block = UnsafeRawBufferPointer(rebasing: raw[0..<count])
            if blockStart == 0, count >= 2, (block[0] == 0xFF && block[1] == 0xFE) || (block[0] == 0xFE && block[1] == 0xFF) {
                throw DocumentError(code: "document.utf16", path: path, byteOffset: 0,
                                    message: "the document is UTF-16 (it starts with a byte-order mark); convert it to UTF-8 first, e.g. `iconv -f UTF-16 -t UTF-8`")
            }
            if let nul = block.firstIndex(of: 0) {
                throw DocumentError(code: "document.binary", path: path, byteOffset: blockStart + Int64(nul),
                                    message: "the document looks binary (it contains a NUL byte), not text")
            }
            if !sawText {
                sawText = block.contains { !($0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 || $0 == 0x0B || $0 == 0x0C) }
            }
        }
        if final && !sawText && !acceptsBlank {
            throw DocumentError(code: "document.empty", path: path, byteOffset: nil,
                                message: bytesRead == 0 ? "the document is empty; there is nothing to score."
                                    : "the document holds only white space; there is nothing to score.")
        }
        do {
            let tokens = try buffer.withUnsafeBytes { raw in
                try encoder.feed(UnsafeRawBufferPointer(rebasing: raw[0..<count]), isFinal: final)
            }
            if final { reachedEnd = true }
            // BOS comes first, at offset 0 (as llama-tokenize gives it): nll[0] then predicts
            // the first text token.
            if let bos = pendingBOS {
                pendingBOS = nil
                return [EncodedToken(id: bos, byteOffset: 0)] + tokens
            }
            return tokens
        } catch let error as TokenizerError {
            if case .invalidUTF8(let offset) = error {
                throw DocumentError(code: "document.invalid-utf8", path: path, byteOffset: Int64(offset),
                                    message: "the document is not valid UTF-8; pass --replace-invalid to read it with U+FFFD substitutions")
            }
            throw DocumentError(code: "document.tokenize", path: path, byteOffset: bytesRead, message: "\(error)")
        }
    }
}
