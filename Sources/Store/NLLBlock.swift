import Foundation
import GRDB

/// The losses of tokens `firstToken ..< firstToken + nll.count` and where each token starts
/// in the document.
public struct NLLBlock: Sendable, Equatable {
    /// The first token of the block.
    public var firstToken: Int64
    /// `nll[i]` is the negative log-likelihood (nats) of token `firstToken + i`.
    public var nll: [Float]
    /// `byteOffsets[i]` is the document byte offset where token `firstToken + i` starts.
    public var byteOffsets: [Int64]

    /// Creates a block; `nll` and `byteOffsets` must have the same length.
    public init(firstToken: Int64, nll: [Float], byteOffsets: [Int64]) {
        self.firstToken = firstToken
        self.nll = nll
        self.byteOffsets = byteOffsets
    }

    /// The token range the block covers.
    public var tokens: Range<Int64> { firstToken ..< firstToken + Int64(nll.count) }
}

/// A row of `nll_block`: the losses as little-endian Float32 and the byte offsets as
/// zig-zag LEB128 deltas (see `BlobCoding`).
struct NLLBlockRecord: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "nll_block"

    var runID: String
    var firstToken: Int64
    var count: Int64
    var nll: Data
    var byteOffsets: Data

    enum Columns {
        static let runID = Column(CodingKeys.runID)
        static let firstToken = Column(CodingKeys.firstToken)
    }

    init(runID: String, block: NLLBlock) {
        self.runID = runID
        self.firstToken = block.firstToken
        self.count = Int64(block.nll.count)
        (self.nll, self.byteOffsets) = block.storedBlobs
    }

    /// Decodes the blobs, checking that both hold exactly `count` values.
    func decoded(path: String) throws -> NLLBlock {
        guard let block = NLLBlock(firstToken: firstToken, count: count, nll: nll, byteOffsets: byteOffsets) else {
            throw StoreError.invalidData(
                "The loss block of run \(runID) starting at token \(firstToken) is damaged (expected \(count) values).",
                runID: runID, path: path)
        }
        return block
    }
}

/// Losses and byte offsets for a contiguous token range.
public struct NLLSlice: Sendable, Equatable {
    /// The tokens actually returned: the requested range clipped to what is stored.
    public var tokens: Range<Int64>
    /// `nll[i]` is the loss of token `tokens.lowerBound + i`.
    public var nll: [Float]
    /// `byteOffsets[i]` is the document byte offset of token `tokens.lowerBound + i`.
    public var byteOffsets: [Int64]

    /// Creates a slice.
    public init(tokens: Range<Int64>, nll: [Float], byteOffsets: [Int64]) {
        self.tokens = tokens
        self.nll = nll
        self.byteOffsets = byteOffsets
    }
}
