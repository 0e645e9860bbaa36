extension Architecture {
    /// qwen2 (Qwen2 and Qwen2.5): the llama block with q/k/v biases and NeoX RoPE
    /// (base `qwen2.rope.freq_base`, 1e6 for Qwen2.5); `output.weight` is used when present.
    public static let qwen2 = Architecture(name: "qwen2", ropeStyle: .neox, activation: .silu, blockTensors: [.qkvBias])
}
