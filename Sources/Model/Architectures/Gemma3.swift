extension Architecture {
    /// gemma3 (Gemma 3 text): per-head q/k RMS norms, post-attention and post-FFN norms,
    /// GELU-tanh gated FFN, embeddings scaled by √embedding, tied output, NeoX RoPE.
    ///
    /// Layer `l` is local (a sliding window of `gemma3.attention.sliding_window` tokens, RoPE base
    /// `rope.freq_base_swa` or llama.cpp's default 10,000) when `l % pattern < pattern − 1`, and
    /// global (RoPE base `rope.freq_base`) otherwise; the pattern is
    /// `attention.sliding_window_pattern` or llama.cpp's default of 6 (layers 5, 11, 17 global).
    public static let gemma3 = Architecture(
        name: "gemma3", ropeStyle: .neox, activation: .geluTanh, blockTensors: [.qkNorm, .postNorms],
        scalesEmbedding: true
    ) { file, config in
        let path = file.path
        guard let window = file.integer("gemma3.attention.sliding_window") else {
            throw ModelError.missingKey(path, "gemma3.attention.sliding_window")
        }
        guard (1...16_777_216).contains(window) else {
            throw ModelError.invalid(path, "gemma3.attention.sliding_window = \(window) is not a usable window.")
        }
        let pattern = file.integer("gemma3.attention.sliding_window_pattern") ?? 6
        guard pattern >= 1 else {
            throw ModelError.invalid(path, "gemma3.attention.sliding_window_pattern = \(pattern) is not a usable pattern.")
        }
        let localBase = file.float("gemma3.rope.freq_base_swa") ?? 10_000
        for l in 0..<config.layerCount where l % pattern < pattern - 1 {
            config.layers[l] = LayerSpec(attention: .sliding(window: window), ropeBase: localBase)
        }
    }
}
