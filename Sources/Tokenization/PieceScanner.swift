/// Finds pre-token boundaries in valid UTF-8, one piece at a time, exactly as llama.cpp's
/// hand-written splitters (`unicode_regex_split_custom_gpt2` / `_llama3`) do.
///
/// The splitters only look forward and restart at each piece boundary, so a piece can be
/// decided from the bytes after its start. When `isFinal` is false and deciding a piece needs
/// a code point past `end`, `needMore` is set and the piece must be discarded: the caller
/// waits for more input. This is what makes the streaming encoder exact.
struct PieceScanner {
    let base: UnsafePointer<UInt8>
    /// Bytes available (only complete code points).
    let end: Int
    /// Whether `end` is the true end of the text segment (llama.cpp `OUT_OF_RANGE` there).
    let isFinal: Bool
    let classes: UnsafePointer<UInt8>
    /// Set when a decision needed input past `end` while not final.
    var needMore = false
    /// For `.sentencePiece`: the characters a following "▁" may join.
    let joiners: SpaceJoiners?

    static let outOfRange: UInt32 = 0xFFFF_FFFF

    init(base: UnsafePointer<UInt8>, end: Int, isFinal: Bool, joiners: SpaceJoiners? = nil) {
        self.base = base
        self.joiners = joiners
        self.end = end
        self.isFinal = isFinal
        self.classes = UnsafePointer(CharClassTable.shared.pointer)
    }

    /// The class, code point and byte length at byte index `i` (class 0, length 0 past the end).
    @inline(__always)
    mutating func at(_ i: Int) -> (cls: UInt8, scalar: UInt32, len: Int) {
        if i >= end {
            if !isFinal { needMore = true }
            return (CharClass.none, Self.outOfRange, 0)
        }
        let b0 = UInt32(base[i])
        if b0 < 0x80 { return (classes[Int(b0)], b0, 1) }
        let scalar: UInt32
        let len: Int
        if b0 < 0xE0 {
            scalar = ((b0 & 0x1F) << 6) | (UInt32(base[i + 1]) & 0x3F)
            len = 2
        } else if b0 < 0xF0 {
            scalar = ((b0 & 0x0F) << 12) | ((UInt32(base[i + 1]) & 0x3F) << 6) | (UInt32(base[i + 2]) & 0x3F)
            len = 3
        } else {
            scalar = ((b0 & 0x07) << 18) | ((UInt32(base[i + 1]) & 0x3F) << 12)
                | ((UInt32(base[i + 2]) & 0x3F) << 6) | (UInt32(base[i + 3]) & 0x3F)
            len = 4
        }
        return (CharClass.of(scalar, table: classes), scalar, len)
    }

    /// The end of the piece starting at `pos` (which must be < `end`).
    @inline(__always)
    mutating func pieceEnd(from pos: Int, kind: PreTokenizer) -> Int {
        switch kind {
        case .digitsThenGPT2: return gpt2End(from: pos, splitDigits: true)
        case .gpt2: return gpt2End(from: pos, splitDigits: false)
        case .llama3: return llama3End(from: pos, maxDigits: 3)
        case .qwen2: return llama3End(from: pos, maxDigits: 1)
        case .sentencePiece: return sentencePieceEnd(from: pos)
        }
    }

    /// SentencePiece cut points: before a space (or a literal "▁") whose preceding character
    /// no vocabulary token continues with "▁" (`SpaceJoiners`).
    mutating func sentencePieceEnd(from pos: Int) -> Int {
        let b0 = base[pos]
        var p = pos + (b0 < 0x80 ? 1 : b0 < 0xE0 ? 2 : b0 < 0xF0 ? 3 : 4)
        while p < end {
            let b = base[p]
            if b == 0x20 || (b == 0xE2 && base[p + 1] == 0x96 && base[p + 2] == 0x81) {
                var q = p - 1
                while base[q] & 0xC0 == 0x80 { q -= 1 }
                if !(joiners?.joins(at(q).scalar) ?? true) { return p }
            }
            p += 1
        }
        if !isFinal { needMore = true }
        return end
    }

    /// GPT-2 splitter. With `splitDigits`, each `\p{N}` code point is its own segment first
    /// (llama.cpp's preceding `\p{N}` regex), so a number ends every other segment.
    mutating func gpt2End(from pos: Int, splitDigits: Bool) -> Int {
        let c = at(pos)
        if splitDigits && c.cls == CharClass.number { return pos + c.len }

        // 's|'t|'re|'ve|'m|'ll|'d
        if c.scalar == 0x27 {
            let n1 = at(pos + 1).scalar
            switch n1 {
            case 0x73, 0x74, 0x6D, 0x64:  // s t m d
                return pos + 2
            case 0x72, 0x76, 0x6C:  // r v l
                let n2 = at(pos + 2).scalar
                if (n1 != 0x6C && n2 == 0x65) || (n1 == 0x6C && n2 == 0x6C) { return pos + 3 }
            default:
                break
            }
        }

        let isSpace = c.scalar == 0x20
        var f2 = c.cls
        if isSpace { f2 = segmentClass(pos + 1, splitDigits: splitDigits) }
        // <space>?\p{L}+ | <space>?\p{N}+ | <space>?[^\s\p{L}\p{N}]+
        if f2 == CharClass.letter || f2 == CharClass.number || f2 == CharClass.other {
            var p = isSpace ? pos + 1 : pos
            while true {
                let x = at(p)
                let cls = (splitDigits && x.cls == CharClass.number) ? CharClass.none : x.cls
                if cls != f2 { break }
                p += x.len
            }
            return p
        }

        // \s+(?!\S) | \s+
        var q = pos
        var count = 0
        var lastStart = pos
        while true {
            let x = at(q)
            if x.cls != CharClass.whitespace { break }
            lastStart = q
            q += x.len
            count += 1
        }
        if count > 1 && segmentClass(q, splitDigits: splitDigits) != CharClass.none { return lastStart }
        if count > 0 { return q }
        return pos + max(c.len, 1)
    }

    /// The class at `i`, with numbers reading as out-of-segment when digits are split.
    @inline(__always)
    private mutating func segmentClass(_ i: Int, splitDigits: Bool) -> UInt8 {
        let x = at(i)
        return (splitDigits && x.cls == CharClass.number) ? CharClass.none : x.cls
    }

    /// Llama 3 splitter: `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
    /// ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`; with `maxDigits` 1 it is Qwen 2's
    /// (`\p{N}` alone).
    mutating func llama3End(from pos: Int, maxDigits: Int) -> Int {
        let c = at(pos)
        if c.scalar == 0x27 {
            let n1 = Self.asciiLower(at(pos + 1).scalar)
            switch n1 {
            case 0x73, 0x74, 0x6D, 0x64:
                return pos + 2
            case 0x72, 0x76, 0x6C:
                let n2 = Self.asciiLower(at(pos + 2).scalar)
                if (n1 != 0x6C && n2 == 0x65) || (n1 == 0x6C && n2 == 0x6C) { return pos + 3 }
            default:
                break
            }
        }
        let isCRLF = c.scalar == 0x0D || c.scalar == 0x0A
        if !(isCRLF || c.cls == CharClass.number) {
            if c.cls == CharClass.letter || at(pos + c.len).cls == CharClass.letter {
                var p = pos + c.len
                while true {
                    let x = at(p)
                    if x.cls != CharClass.letter { break }
                    p += x.len
                }
                return p
            }
        }
        if c.cls == CharClass.number {
            var p = pos
            var n = 0
            while n < maxDigits {
                let x = at(p)
                if x.cls != CharClass.number { break }
                p += x.len
                n += 1
            }
            return p
        }
        let isSpace = c.scalar == 0x20
        let f2 = isSpace ? at(pos + 1).cls : c.cls
        if f2 == CharClass.other || (f2 == CharClass.none && c.cls != CharClass.none) {
            var p = isSpace ? pos + 1 : pos
            while true {
                let x = at(p)
                if x.cls != CharClass.other { break }
                p += x.len
            }
            while true {
                let x = at(p)
                if x.scalar != 0x0D && x.scalar != 0x0A { break }
                p += 1
            }
            return p
        }
        var q = pos
        var count = 0
        var lastStart = pos
        var lastCRLFEnd = -1
        while true {
            let x = at(q)
            if x.cls != CharClass.whitespace { break }
            if x.scalar == 0x0D || x.scalar == 0x0A { lastCRLFEnd = q + 1 }
            lastStart = q
            q += x.len
            count += 1
        }
        if lastCRLFEnd >= 0 { return lastCRLFEnd }
        if count > 1 && at(q).cls != CharClass.none { return lastStart }
        if count > 0 { return q }
        return pos + max(c.len, 1)
    }

    @inline(__always)
    private static func asciiLower(_ v: UInt32) -> UInt32 {
        (v >= 0x41 && v <= 0x5A) ? v + 0x20 : v
    }
}
