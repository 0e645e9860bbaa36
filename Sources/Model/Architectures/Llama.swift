extension Architecture {
    /// llama (also Llama 2/3, Mistral, SmolLM2): adjacent-pair RoPE, SwiGLU, no biases, the
    /// embedding doubles as the output matrix when `output.weight` is absent.
    public static let llama = Architecture(name: "llama", ropeStyle: .adjacent, activation: .silu)
}
