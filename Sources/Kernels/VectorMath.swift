/// Float vector kernels of the forward pass (RMSNorm, SwiGLU, softmax pieces).
///
/// Compiled with a target CPU (see Package.swift) so that `SIMD8<Float>` lowers to AVX2/FMA.
/// Every reduction here has a fixed order, so results never depend on threads or batching.
public enum VectorMath {
    /// `out[i] = x[i] / sqrt(mean(x²) + eps) * weight[i]` for one row of `n` floats.
    @inlinable
    public static func rmsNorm(
        _ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, count n: Int, eps: Float,
        into out: UnsafeMutablePointer<Float>
    ) {
        var acc = SIMD8<Float>(repeating: 0)
        var i = 0
        while i + 8 <= n {
            let v = SIMD8<Float>(UnsafeBufferPointer(start: x + i, count: 8))
            acc.addProduct(v, v)
            i += 8
        }
        var sum = acc.sum()
        while i < n { sum += x[i] * x[i]; i += 1 }
        let scale = 1 / (sum / Float(n) + eps).squareRoot()
        i = 0
        while i + 8 <= n {
            let v = SIMD8<Float>(UnsafeBufferPointer(start: x + i, count: 8))
            let w = SIMD8<Float>(UnsafeBufferPointer(start: weight + i, count: 8))
            store(v * scale * w, to: out + i)
            i += 8
        }
        while i < n { out[i] = x[i] * scale * weight[i]; i += 1 }
    }

    /// `gate[i] = silu(gate[i]) * up[i]`, with `silu(x) = x / (1 + e^-x)`.
    @inlinable
    public static func swiGLU(gate: UnsafeMutablePointer<Float>, up: UnsafePointer<Float>, count n: Int) {
        var i = 0
        while i + 8 <= n {
            let g = SIMD8<Float>(UnsafeBufferPointer(start: gate + i, count: 8))
            let u = SIMD8<Float>(UnsafeBufferPointer(start: up + i, count: 8))
            store(g / (1 + exp(-g)) * u, to: gate + i)
            i += 8
        }
        while i < n {
            let g = gate[i]
            gate[i] = g / (1 + exp(SIMD8<Float>(repeating: -g))[0]) * up[i]
            i += 1
        }
    }

    /// `gate[i] = gelu_tanh(gate[i]) * up[i]`, with
    /// `gelu_tanh(g) = 0.5·g·(1 + tanh(√(2/π)·(g + 0.044715·g³)))` and `tanh(y) = 1 − 2/(e^{2y} + 1)`.
    @inlinable
    public static func geluTanhGLU(gate: UnsafeMutablePointer<Float>, up: UnsafePointer<Float>, count n: Int) {
        let c = SIMD8<Float>(repeating: 0.7978845608028654), k = SIMD8<Float>(repeating: 0.044715)
        @inline(__always) func gelu(_ g: SIMD8<Float>) -> SIMD8<Float> {
            let y = c * (g + k * g * g * g)
            let t = 1 - 2 / (exp(2 * y) + 1)
            return 0.5 * g * (1 + t)
        }
        var i = 0
        while i + 8 <= n {
            let g = SIMD8<Float>(UnsafeBufferPointer(start: gate + i, count: 8))
            let u = SIMD8<Float>(UnsafeBufferPointer(start: up + i, count: 8))
            store(gelu(g) * u, to: gate + i)
            i += 8
        }
        while i < n {
            gate[i] = gelu(SIMD8<Float>(repeating: gate[i]))[0] * up[i]
            i += 1
        }
    }

    /// `x[i] *= s`.
    @inlinable
    public static func scale(_ x: UnsafeMutablePointer<Float>, by s: Float, count n: Int) {
        var i = 0
        while i + 8 <= n {
            store(SIMD8<Float>(UnsafeBufferPointer(start: x + i, count: 8)) * s, to: x + i)
            i += 8
        }
        while i < n { x[i] *= s; i += 1 }
    }

    /// `x[i] = cap · tanh(x[i] / cap)` (logit soft-capping).
    @inlinable
    public static func softCap(_ x: UnsafeMutablePointer<Float>, cap: Float, count n: Int) {
        for i in 0..<n {
            let y = x[i] / cap
            x[i] = cap * (1 - 2 / (exp(SIMD8<Float>(repeating: 2 * y))[0] + 1))
        }
    }

    /// `x[i] += y[i]`.
    @inlinable
    public static func add(_ y: UnsafePointer<Float>, into x: UnsafeMutablePointer<Float>, count n: Int) {
        var i = 0
        while i + 8 <= n {
            let a = SIMD8<Float>(UnsafeBufferPointer(start: x + i, count: 8))
            let b = SIMD8<Float>(UnsafeBufferPointer(start: y + i, count: 8))
            store(a + b, to: x + i)
            i += 8
        }
        while i < n { x[i] += y[i]; i += 1 }
    }

    /// Stores a vector to memory.
    @inlinable @inline(__always)
    public static func store(_ v: SIMD8<Float>, to p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
    }

    /// Loads a vector from memory (no alignment needed).
    @inlinable @inline(__always)
    public static func load(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
    }

    /// `e^x` per lane, accurate to about 2 ulp over the float range (Cephes polynomial);
    /// inputs below -87.3 give 0 and above 88.37 give +inf.
    @inlinable @inline(__always)
    public static func exp(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let hi = SIMD8<Float>(repeating: 88.37626), lo = SIMD8<Float>(repeating: -87.33654)
        var v = x
        v.replace(with: lo, where: x .< lo)
        v.replace(with: hi, where: x .> hi)
        // n = round(x / ln2) by the 1.5·2^23 trick (the add rounds to nearest even and leaves n
        // in the low mantissa bits, so no float→int conversion call is needed);
        // r = x − n·ln2 in two steps for accuracy.
        let magic = SIMD8<Float>(repeating: 12_582_912)
        let shifted = v * 1.442695040888963 + magic
        let n = shifted - magic
        let nBits = unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- 0x4B40_0000
        v = v - n * 0.693359375
        v = v - n * -2.12194440e-4
        var p = SIMD8<Float>(repeating: 1.9875691500e-4)
        p = p * v + 1.3981999507e-3
        p = p * v + 8.3334519073e-3
        p = p * v + 4.1665795894e-2
        p = p * v + 1.6666665459e-1
        p = p * v + 5.0000001201e-1
        p = p * (v * v) + v + 1
        // scale by 2^n through the exponent bits
        let bits = (nBits &+ 127) &<< 23
        var result = p * unsafeBitCast(bits, to: SIMD8<Float>.self)
        result.replace(with: 0, where: x .< lo)
        result.replace(with: .infinity, where: x .> hi)
        return result
    }
}
