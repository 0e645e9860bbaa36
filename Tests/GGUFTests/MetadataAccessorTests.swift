import GGUF
import Testing

@Suite("Typed metadata accessors")
struct MetadataAccessorTests {
    let file: GGUFFile

    init() throws {
        var writer = GGUFWriter()
        writer.set("u8", .uint8(200))
        writer.set("i16", .int16(-300))
        writer.set("u64.big", .uint64(.max))
        writer.set("i64", .int64(-7))
        writer.set("f32", .float32(0.25))
        writer.set("f64", .float64(2.5))
        writer.set("flag", .bool(true))
        writer.set("name", .string("tiny"))
        writer.set("strings", .array([.string("a"), .string("b")]))
        writer.set("ints", .array([.int32(-1), .int32(4)]))
        writer.set("floats", .array([.float32(1.5), .float32(-2)]))
        writer.set("empty", .array([]))
        file = try openGGUF(writer.serialized(), name: "meta.gguf")
    }

    @Test("integers of any width, floats from integers, nil for other types")
    func scalars() {
        #expect(file.integer("u8") == 200)
        #expect(file.integer("i16") == -300)
        #expect(file.integer("i64") == -7)
        #expect(file.integer("u64.big") == nil)
        #expect(file.integer("f32") == nil)
        #expect(file.float("f32") == 0.25)
        #expect(file.float("f64") == 2.5)
        #expect(file.float("i16") == -300)
        #expect(file.float("name") == nil)
        #expect(file.bool("flag") == true)
        #expect(file.bool("u8") == nil)
        #expect(file.string("name") == "tiny")
        #expect(file.string("missing") == nil)
    }

    @Test("typed arrays")
    func arrays() {
        #expect(file.stringArray("strings") == ["a", "b"])
        #expect(file.stringArray("ints") == nil)
        #expect(file.integerArray("ints") == [-1, 4])
        #expect(file.floatArray("floats") == [1.5, -2])
        #expect(file.floatArray("ints") == [-1, 4])
        #expect(file.floatArray("strings") == nil)
        #expect(file.stringArray("empty") == [])
        #expect(file.stringArray("name") == nil)
    }

    @Test("required accessors throw missingKey and wrongType with context")
    func required() throws {
        #expect(try file.requireInteger("u8") == 200)
        #expect(try file.requireFloatArray("floats") == [1.5, -2])
        #expect(throws: GGUFError.missingKey(file: file.path, key: "nope")) { try file.requireString("nope") }
        #expect(throws: GGUFError.wrongType(file: file.path, key: "name", expected: "integer", found: "string")) {
            try file.requireInteger("name")
        }
        #expect(throws: GGUFError.wrongType(file: file.path, key: "ints", expected: "array of string", found: "array of int32")) {
            try file.requireStringArray("ints")
        }
        let error = GGUFError.wrongType(file: "m.gguf", key: "k", expected: "bool", found: "string")
        #expect(error.description == "m.gguf: metadata key 'k' holds a string but a bool is required.")
    }

    @Test("requireArchitecture names what it found")
    func architecture() throws {
        #expect(throws: GGUFError.unsupportedArchitecture(file: file.path, found: nil, allowed: ["llama"])) {
            try file.requireArchitecture(["llama"])
        }
        var writer = GGUFWriter()
        writer.set("general.architecture", .string("llama"))
        let llama = try openGGUF(writer.serialized())
        try llama.requireArchitecture(["llama", "mistral"])
        let error = #expect(throws: GGUFError.self) { try llama.requireArchitecture(["gpt2"]) }
        #expect(error?.description.contains("model architecture 'llama' is not supported; supported: gpt2") == true)
    }
}
