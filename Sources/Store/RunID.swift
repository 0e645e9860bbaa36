/// Short, random, human-typable run ids: `r` followed by six Crockford base-32 characters.
///
/// The alphabet leaves out `i`, `l`, `o` and `u` so ids survive being read aloud or retyped.
public enum RunID {
    static let alphabet = Array("0123456789abcdefghjkmnpqrstvwxyz")
    static let length = 6

    /// A new random id (about 10^9 possibilities; the store retries on a collision).
    static func random<G: RandomNumberGenerator>(using generator: inout G) -> String {
        var id = "r"
        for _ in 0 ..< length {
            id.append(alphabet[Int.random(in: 0 ..< alphabet.count, using: &generator)])
        }
        return id
    }

    /// A new random id from the system generator.
    public static func random() -> String {
        var generator = SystemRandomNumberGenerator()
        return random(using: &generator)
    }
}
