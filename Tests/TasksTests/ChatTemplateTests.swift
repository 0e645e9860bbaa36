import Tasks
import TestSupport
import Testing
import Tokenization

@Suite("Chat templates")
struct ChatTemplateTests {
    @Test("Formats are recognised from Jinja templates", arguments: [
        ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>{% endfor %}", ChatTemplate.chatml),
        ("<|start_header_id|>{{ role }}<|end_header_id|>\n\n{{ content }}<|eot_id|>", .llama3),
        ("[INST] <<SYS>>\n{{ system }}\n<</SYS>>\n\n{{ user }} [/INST]", .llama2),
        ("{{ bos_token }}[INST] {{ user }} [/INST]", .mistral),
    ])
    func detect(_ template: String, _ expected: ChatTemplate) {
        #expect(ChatTemplate.detect(template) == expected)
    }

    @Test("Unknown or missing templates are not guessed")
    func unknown() {
        #expect(ChatTemplate.detect(nil) == nil)
        #expect(ChatTemplate.detect("{{ messages }}") == nil)
    }

    @Test("A format whose control tokens are missing from the vocabulary is refused")
    func missingControlToken() throws {
        let bytes = TinyModel.byteToUnicode.map { String($0) }
        let tokenizer = try BPETokenizer(tokens: bytes, tokenTypes: nil, merges: [],
                                         preTokenizer: "smollm", bosID: nil, eosID: nil)
        #expect(throws: ChatTemplate.Failure.self) {
            _ = try ChatTemplate.chatml.encode([.init(role: "user", content: "hi")], tokenizer: tokenizer)
        }
    }
}
