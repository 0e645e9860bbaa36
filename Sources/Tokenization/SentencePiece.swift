/// The SentencePiece side of a `tokenizer.ggml.model = llama` vocabulary, with llama.cpp's
/// algorithm (`llm_tokenizer_spm`): spaces become "▁" (U+2581); the text is split into UTF-8
/// characters; the adjacent pair whose concatenation is a vocabulary token with the highest
/// score is merged, repeatedly (ties: the leftmost pair); a final symbol that is not a token
/// becomes its bytes' `<0xNN>` tokens.
struct SentencePieceModel: Sendable {
    /// Vocabulary text → id (texts as stored: "▁the").
    let table: TokenTextTable
    /// `tokenizer.ggml.scores`.
    let scores: [Float]
    /// The byte-fallback token of each byte (`<0xNN>`, else the one-byte token), or -1.
    let byteTokens: [Int32]
    /// The unknown token, used when a byte has no fallback token.
    let unknownID: Int32?
    /// `tokenizer.ggml.add_space_prefix`: a space is put before text at the start and after a
    /// special token.
    let addSpacePrefix: Bool
    /// Where a space may start a piece (see `PieceScanner.sentencePieceEnd`).
    let joiners: SpaceJoiners

    static let escapedSpace: [UInt8] = [0xE2, 0x96, 0x81]

    init(tokens: [String], scores: [Float], unknownID: Int32?, addSpacePrefix: Bool) {
        let utf8 = tokens.map { Array($0.utf8) }
        let table = TokenTextTable(utf8)
        self.table = table
        self.scores = scores
        self.unknownID = unknownID
        self.addSpacePrefix = addSpacePrefix
        var fallback = [Int32](repeating: -1, count: 256)
        let hex = Array("0123456789ABCDEF".utf8)
        for b in 0..<256 {
            let name: [UInt8] = [0x3C, 0x30, 0x78, hex[b >> 4], hex[b & 15], 0x3E]
            var id = name.withUnsafeBufferPointer { table.id($0.baseAddress!, 6) }
            if id < 0 { id = [UInt8(b)].withUnsafeBufferPointer { table.id($0.baseAddress!, 1) } }
            fallback[b] = id
        }
        byteTokens = fallback
        joiners = SpaceJoiners(tokens: tokens)
    }
}

/// The characters after which "▁" can continue a vocabulary token ("X▁" inside some token).
///
/// SentencePiece merges over a whole text, but a position that no vocabulary token spans
/// separates it: merges on either side never meet. A space preceded by a character not in this
/// set is such a position (every token spanning it would contain "X▁"), so text is cut into
/// pieces there, which makes pieces cacheable and lets the streaming encoder settle them.
struct SpaceJoiners: Sendable {
    private let ascii: [Bool]
    private let others: Set<UInt32>

    init(tokens: [String]) {
        var ascii = [Bool](repeating: false, count: 128)
        var others = Set<UInt32>()
        for token in tokens {
            var previous: UInt32?
            for scalar in token.unicodeScalars {
                if scalar.value == 0x2581, let p = previous {
                    if p < 128 { ascii[Int(p)] = true } else { others.insert(p) }
                }
                previous = scalar.value
            }
        }
        // A literal "▁" or a space before a space: both read as "▁".
        if others.contains(0x2581) { ascii[0x20] = true }
        if ascii[0x20] { others.insert(0x2581) }
        self.ascii = ascii
        self.others = others
    }

    /// Whether "▁" after this code point may belong to the same token.
    @inline(__always)
    func joins(_ scalar: UInt32) -> Bool {
        scalar < 128 ? ascii[Int(scalar)] : others.contains(scalar)
    }
}

/// Reusable buffers for SentencePiece merging of one piece.
struct SentencePieceMerger {
    private var escaped: [UInt8] = []
    private var start: [Int32] = []
    private var length: [Int32] = []
    private var prev: [Int32] = []
    private var next: [Int32] = []
    private var heap: [Bigram] = []

    private struct Bigram {
        var score: Float
        var left: Int32
        var right: Int32
        var size: Int32

        /// Whether `self` is merged before `other`: higher score, then the leftmost.
        @inline(__always)
        func before(_ other: Bigram) -> Bool {
            score > other.score || (score == other.score && left < other.left)
        }
    }

    /// Appends the ids of the raw text `p[0..<n]` (spaces not yet escaped), with a leading
    /// "▁" first when `prefixSpace`.
    mutating func encode(_ p: UnsafePointer<UInt8>, _ n: Int, prefixSpace: Bool, model: SentencePieceModel,
                         into output: inout [Int32]) {
        escaped.removeAll(keepingCapacity: true)
        if prefixSpace { escaped.append(contentsOf: SentencePieceModel.escapedSpace) }
        for i in 0..<n {
            let b = p[i]
            if b == 0x20 { escaped.append(contentsOf: SentencePieceModel.escapedSpace) } else { escaped.append(b) }
        }
        escaped.withUnsafeBufferPointer { buf in
            guard let text = buf.baseAddress, buf.count > 0 else { return }
            merge(text, buf.count, model: model, into: &output)
        }
    }

    private mutating func merge(_ text: UnsafePointer<UInt8>, _ n: Int, model: SentencePieceModel, into output: inout [Int32]) {
        start.removeAll(keepingCapacity: true)
        length.removeAll(keepingCapacity: true)
        prev.removeAll(keepingCapacity: true)
        next.removeAll(keepingCapacity: true)
        heap.removeAll(keepingCapacity: true)
        var offset = 0
        var index: Int32 = 0
        while offset < n {
            let lead = text[offset]
            let len = min(lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4, n - offset)
            start.append(Int32(offset))
            length.append(Int32(len))
            prev.append(index - 1)
            offset += len
            next.append(offset == n ? -1 : index + 1)
            index += 1
        }
        let count = start.count
        if count > 1 {
            for i in 1..<count { tryAdd(Int32(i - 1), Int32(i), text, model) }
        }
        while let top = pop() {
            let l = Int(top.left), r = Int(top.right)
            if length[l] == 0 || length[r] == 0 || length[l] + length[r] != top.size { continue }
            length[l] += length[r]
            length[r] = 0
            next[l] = next[r]
            if next[r] >= 0 { prev[Int(next[r])] = top.left }
            tryAdd(prev[l], top.left, text, model)
            tryAdd(top.left, next[l], text, model)
        }
        var i: Int32 = 0
        while i >= 0 {
            let s = Int(start[Int(i)]), len = Int(length[Int(i)])
            let id = model.table.id(text + s, len)
            if id >= 0 {
                output.append(id)
            } else {
                for k in 0..<len {
                    let byteID = model.byteTokens[Int(text[s + k])]
                    if byteID >= 0 { output.append(byteID) } else if let unk = model.unknownID { output.append(unk) }
                }
            }
            i = next[Int(i)]
        }
    }

    @inline(__always)
    private mutating func tryAdd(_ left: Int32, _ right: Int32, _ text: UnsafePointer<UInt8>, _ model: SentencePieceModel) {
        guard left >= 0, right >= 0 else { return }
        let size = length[Int(left)] + length[Int(right)]
        let id = model.table.id(text + Int(start[Int(left)]), Int(size))
        guard id >= 0 else { return }
        push(Bigram(score: model.scores[Int(id)], left: left, right: right, size: size))
    }

    private mutating func push(_ bigram: Bigram) {
        heap.append(bigram)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            if !heap[child].before(heap[parent]) { break }
            heap.swapAt(parent, child)
            child = parent
        }
    }

    private mutating func pop() -> Bigram? {
        guard let last = heap.popLast() else { return nil }
        if heap.isEmpty { return last }
        let top = heap[0]
        heap[0] = last
        var parent = 0
        let count = heap.count
        while true {
            let l = 2 * parent + 1
            if l >= count { break }
            var best = l
            if l + 1 < count && heap[l + 1].before(heap[l]) { best = l + 1 }
            if !heap[best].before(heap[parent]) { break }
            heap.swapAt(parent, best)
            parent = best
        }
        return top
    }
}
