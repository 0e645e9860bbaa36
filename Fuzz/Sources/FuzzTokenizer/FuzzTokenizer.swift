#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import FuzzSupport
import Tokenization

// libFuzzer target for the BPE tokenizer. Input layout: two bytes choose a split point, one
// byte a chunk size, the rest is the document. Checked for every input:
// - encode → decode gives back the text (the bytes decoded as UTF-8 with U+FFFD), with
//   parseSpecial false and true, less the bytes that have no token in the vocabulary (dropped,
//   as llama.cpp does), and every id is inside the vocabulary;
// - `encode(utf8:)` equals `encode(_:)`;
// - the StreamingEncoder fed the text split at the chosen point, or in chunks of the chosen
//   size, gives the whole-text ids with byte offsets equal to the running byte count;
// - fed the raw bytes with replaceInvalid it gives the same ids as the repaired text; without
//   replaceInvalid it throws `invalidUTF8` exactly when the bytes are not valid UTF-8.

private let vocabulary = FuzzVocabulary.make()
private let missingBytes = FuzzVocabulary.missingBytes(vocabulary.tokenizer)

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> CInt {
    FuzzCheck.log("FuzzTokenizer: \(vocabulary.tokenizer.vocabularySize) tokens from \(vocabulary.source), \(missingBytes.count) bytes without a token")
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTokenizer(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data, size >= 3 else { return 0 }
    let tokenizer = vocabulary.tokenizer
    let splitSeed = Int(data[0]) | Int(data[1]) << 8
    let chunkSize = 1 + Int(data[2] % 16)
    let raw = Array(UnsafeBufferPointer(start: data + 3, count: size - 3))
    let text = String(decoding: raw, as: UTF8.self)
    let utf8 = Array(text.utf8)
    let isValid = utf8 == raw
    let kept = utf8.filter { !missingBytes.contains($0) }
    let dropsBytes = kept.count != utf8.count

    let plain = tokenizer.encode(text, parseSpecial: false)
    checkIDs(plain, tokenizer)
    FuzzCheck.require(tokenizer.decodeBytes(plain) == kept, "decode(encode(text, parseSpecial: false)) != text")
    let viaUTF8 = utf8.withUnsafeBufferPointer { tokenizer.encode(utf8: $0, parseSpecial: false) }
    FuzzCheck.require(viaUTF8 == plain, "encode(utf8:) differs from encode(_:)")

    let special = tokenizer.encode(text, parseSpecial: true)
    checkIDs(special, tokenizer)
    FuzzCheck.require(tokenizer.decodeBytes(special) == kept, "decode(encode(text, parseSpecial: true)) != text")

    let split = splitSeed % (utf8.count + 1)
    checkStream(tokenizer, chunks: [Array(utf8[..<split]), Array(utf8[split...])], expected: plain, replaceInvalid: false,
                checkOffsets: !dropsBytes)
    checkStream(tokenizer, chunks: chunked(utf8, size: chunkSize), expected: plain, replaceInvalid: false,
                checkOffsets: !dropsBytes)

    let rawSplit = splitSeed % (raw.count + 1)
    checkStream(tokenizer, chunks: [Array(raw[..<rawSplit]), Array(raw[rawSplit...])], expected: plain,
                replaceInvalid: true, checkOffsets: isValid && !dropsBytes)
    do {
        var encoder = try StreamingEncoder(tokenizer: tokenizer)
        var ids: [Int32] = []
        for chunk in chunked(raw, size: chunkSize) { ids += try encoder.feed(chunk, isFinal: false).map(\.id) }
        ids += try encoder.feed([], isFinal: true).map(\.id)
        FuzzCheck.require(isValid, "invalid UTF-8 accepted without replaceInvalid")
        FuzzCheck.require(ids == plain, "streamed ids of raw valid bytes differ")
    } catch TokenizerError.invalidUTF8 {
        FuzzCheck.require(!isValid, "valid UTF-8 rejected")
    } catch {
        FuzzCheck.fail("unexpected error \(error)")
    }
    return 0
}

private func checkIDs(_ ids: [Int32], _ tokenizer: BPETokenizer) {
    FuzzCheck.require(ids.allSatisfy { $0 >= 0 && Int($0) < tokenizer.vocabularySize }, "id outside the vocabulary")
}

private func chunked(_ bytes: [UInt8], size: Int) -> [[UInt8]] {
    stride(from: 0, to: bytes.count, by: size).map { Array(bytes[$0..<min($0 + size, bytes.count)]) }
}

/// Streams `chunks` (the last fed as final) and compares with `expected`.
private func checkStream(
    _ tokenizer: BPETokenizer, chunks: [[UInt8]], expected: [Int32], replaceInvalid: Bool, checkOffsets: Bool
) {
    var tokens: [EncodedToken] = []
    do {
        var encoder = try StreamingEncoder(tokenizer: tokenizer, replaceInvalid: replaceInvalid)
        for (index, chunk) in chunks.enumerated() {
            tokens += try encoder.feed(chunk, isFinal: index == chunks.count - 1)
        }
        if chunks.isEmpty { tokens += try encoder.feed([], isFinal: true) }
        FuzzCheck.require(encoder.heldBackByteCount == 0, "bytes held back after the final chunk")
    } catch {
        FuzzCheck.fail("streaming threw \(error) (replaceInvalid \(replaceInvalid))")
    }
    FuzzCheck.require(tokens.map(\.id) == expected,
                      "streamed ids differ from whole-text encode (\(chunks.map(\.count)) byte chunks, replaceInvalid \(replaceInvalid))")
    FuzzCheck.require(zip(tokens, tokens.dropFirst()).allSatisfy { $0.byteOffset <= $1.byteOffset }, "offsets decrease")
    if checkOffsets {
        var offset: Int64 = 0
        for token in tokens {
            FuzzCheck.require(token.byteOffset == offset, "token offset \(token.byteOffset), expected \(offset)")
            offset += Int64(tokenizer.tokenBytes(token.id).count)
        }
    }
}
