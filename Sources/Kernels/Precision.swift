/// Which arithmetic the matrix products use.
public enum Precision: String, Sendable, CaseIterable, Codable {
    /// Activations quantized to 8 bits per 32-block, integer dot products (as llama.cpp does).
    case fast
    /// Float activations against dequantized weights: the verification path.
    case f32
}
