import Foundation

extension StreamingEncoder {
    private struct SavedState: Codable {
        var version: Int
        var vocabularySize: Int
        var preTokenizer: String
        var replaceInvalid: Bool
        var pending: Data
        var pendingStart: Int64
        /// `[pendingIndex, documentOffset, documentLength]` per replacement.
        var replacements: [[Int64]]
        var carry: Data
        var consumed: Int64
        var finished: Bool
    }

    /// The carry-over state (held-back bytes and offsets) as JSON, for checkpointing.
    ///
    /// Restoring it with `init(tokenizer:restoring:)` and feeding the rest of the document
    /// continues exactly as this encoder would. The piece cache is not saved (it only speeds
    /// things up).
    public var state: Data {
        let saved = SavedState(
            version: 1, vocabularySize: tokenizer.vocabularySize, preTokenizer: tokenizer.preTokenizer.rawValue,
            replaceInvalid: replaceInvalid, pending: Data(pending), pendingStart: pendingStart,
            replacements: replacements.map { [Int64($0.pendingIndex), $0.documentOffset, Int64($0.documentLength)] },
            carry: Data(carry), consumed: consumed, finished: isFinished)
        // Encoding plain integers, booleans and Data cannot fail.
        return (try? JSONEncoder().encode(saved)) ?? Data()
    }

    /// Resumes a stream from `state`.
    ///
    /// - Parameters:
    ///   - tokenizer: The same tokenizer the state was saved with.
    ///   - state: Data from `state`.
    /// - Throws: `TokenizerError.invalidStreamingState` if the data is not a saved state, was
    ///   saved with a different vocabulary or pre-tokenizer, or is inconsistent.
    public init(tokenizer: BPETokenizer, restoring state: Data) throws {
        let saved: SavedState
        do {
            saved = try JSONDecoder().decode(SavedState.self, from: state)
        } catch {
            throw TokenizerError.invalidStreamingState(reason: "it is not a saved streaming state (\(error))")
        }
        guard saved.version == 1 else {
            throw TokenizerError.invalidStreamingState(reason: "version \(saved.version) is not supported")
        }
        guard saved.vocabularySize == tokenizer.vocabularySize, saved.preTokenizer == tokenizer.preTokenizer.rawValue else {
            throw TokenizerError.invalidStreamingState(reason: "it was saved with a different tokenizer")
        }
        let pending = [UInt8](saved.pending)
        let carry = [UInt8](saved.carry)
        guard carry.count <= 3, saved.pendingStart >= 0,
              saved.consumed >= saved.pendingStart + Int64(carry.count),
              String(validating: pending, as: UTF8.self) != nil else {
            throw TokenizerError.invalidStreamingState(reason: "its buffered bytes and offsets are inconsistent")
        }
        var replacements: [Replacement] = []
        for r in saved.replacements {
            guard r.count == 3, r[0] >= 0, Int(r[0]) + 3 <= pending.count, r[2] > 0 else {
                throw TokenizerError.invalidStreamingState(reason: "a U+FFFD substitution record is malformed")
            }
            replacements.append(Replacement(pendingIndex: Int(r[0]), documentOffset: r[1], documentLength: Int(r[2])))
        }
        try self.init(tokenizer: tokenizer, replaceInvalid: saved.replaceInvalid)
        self.pending = pending
        self.pendingStart = saved.pendingStart
        self.replacements = replacements
        self.carry = carry
        self.consumed = saved.consumed
        self.isFinished = saved.finished
    }
}
