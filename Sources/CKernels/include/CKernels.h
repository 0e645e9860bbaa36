// CKernels: the innermost quantized GEMM / GEMV kernels of Sinkstream, with run-time CPU
// dispatch (AVX-512 VNNI, AVX-VNNI 256-bit, AVX2 maddubs, scalar C).
//
// Conventions
// - Weights are row-major matrices W[rows][cols] in ggml block formats; a row of a quantized
//   type is cols/32 blocks (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL: cols a multiple of 32) or
//   cols/256 super-blocks (Q2_K..Q6_K, IQ4_XS: cols a multiple of 256).
// - Activations A[ntok][cols]; results out[t*ldo + r] = sum_k W[r][k] * A[t][k].
// - Every function may be called concurrently from several threads on disjoint outputs.
// - Determinism: for a given ISA, every output value is bit-identical whatever the row range
//   [row_begin,row_end) of the call, the number of tokens, and the position of the element in
//   the register tile. The quantized GEMM (ss_gemm_q) is moreover bit-identical across all four
//   ISAs (every path performs the same per-block float operations, with fused multiply-adds).
#ifndef SINKSTREAM_CKERNELS_H
#define SINKSTREAM_CKERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// ggml tensor type ids.
#define SS_TYPE_F32 0
#define SS_TYPE_F16 1
#define SS_TYPE_Q4_0 2
#define SS_TYPE_Q4_1 3
#define SS_TYPE_Q5_0 6
#define SS_TYPE_Q5_1 7
#define SS_TYPE_Q8_0 8
#define SS_TYPE_Q2_K 10
#define SS_TYPE_Q3_K 11
#define SS_TYPE_Q4_K 12
#define SS_TYPE_Q5_K 13
#define SS_TYPE_Q6_K 14
#define SS_TYPE_IQ4_NL 20
#define SS_TYPE_IQ4_XS 23
#define SS_TYPE_BF16 30

// Instruction-set paths, in increasing preference.
#define SS_ISA_SCALAR 0
#define SS_ISA_AVX2 1
#define SS_ISA_AVXVNNI 2
#define SS_ISA_AVX512VNNI 3

// Number of elements in one quantization block (ggml QK) and one K-quant super-block (QK_K).
#define SS_QK 32
#define SS_QK_K 256

// ---------------------------------------------------------------------------------------------
// CPU dispatch
// ---------------------------------------------------------------------------------------------

/// Detects the CPU (cpuid + xgetbv) and selects the best ISA path, once. The environment
/// variable SINKSTREAM_ISA=scalar|avx2|avxvnni|avx512vnni overrides the choice when that path
/// is supported. Called implicitly by every other function; calling it again does nothing.
void ss_init(void);

/// The ISA path selected for the calling thread (one of SS_ISA_*): its ss_set_isa, else the process-wide one.
int ss_isa(void);

/// Forces an ISA path (SS_ISA_*) for the calling thread only. Returns 1 on success, 0 when this
/// CPU (or OS) does not support it, in which case the selection is unchanged. Affects what
/// ss_isa() returns on this thread, so ss_quantize_act, ss_pack / ss_packed_size /
/// ss_row_granularity and ss_gemm_f32 called from it; ss_gemm_q always uses the path recorded
/// in the packed buffer. Other threads keep the process-wide selection (best supported, or
/// SINKSTREAM_ISA).
int ss_set_isa(int isa);

/// 1 when the ISA path `isa` can run on this machine, else 0.
int ss_isa_supported(int isa);

/// A short static name for an ISA id: "scalar", "avx2", "avxvnni", "avx512vnni" ("?" if unknown).
const char *ss_isa_name(int isa);

// ---------------------------------------------------------------------------------------------
// ggml formats
// ---------------------------------------------------------------------------------------------

/// Bytes of one ggml row of `n` elements of `type` (0 for unknown types or a bad n).
size_t ss_row_bytes(int type, int64_t n);

/// Dequantizes one ggml row (`n` elements, a multiple of the type's block) to floats, with
/// gguf-python 0.19.0's float32 operations in its order (no fused multiply-adds), so the bits
/// equal `gguf.quants.dequantize`: Q4_0: d*(q-8); Q4_1: d*q + m; Q5_0: d*(q-16); Q5_1: d*q + m;
/// Q8_0: d*q; IQ4_NL: d*value[q]; Q3_K, Q6_K, IQ4_XS: (d*sc)*q; Q2_K, Q4_K, Q5_K:
/// (d*sc)*q - dmin*m (sc, m the sub-block's integer scale and min); F16/BF16 widened.
/// Unknown types leave `dst` untouched.
void ss_dequantize_row(int type, const void *src, int64_t n, float *dst);

// ---------------------------------------------------------------------------------------------
// Activation quantization
// ---------------------------------------------------------------------------------------------

/// Layout of one quantized activation block (48 bytes, 32 elements):
///   float d;        // scale = amax/127 (0 for an all-zero block)
///   float s;        // d * (float)sum
///   int32_t sum;    // sum of the 32 quants
///   int32_t sum16;  // sum of the first 16 quants (the K-quant kernels' per-16 sums)
///   int8_t qs[32];  // quants in [-127, 127]
/// A quantized row of n elements is n/32 consecutive blocks (ss_act_row_bytes(n) bytes); a batch
/// of ntok rows passed to ss_gemm_q is ntok consecutive quantized rows.
typedef struct ss_act_block {
    float d;
    float s;
    int32_t sum;
    int32_t sum16;
    int8_t qs[SS_QK];
} ss_act_block;

/// Bytes of one quantized activation row of `n` elements (n % 32 == 0): (n/32) * 48.
size_t ss_act_row_bytes(int64_t n);

/// Quantizes one activation row of `n` floats (n % 32 == 0) into `dst` (ss_act_row_bytes(n)
/// bytes). Per 32-block: d = amax/127, id = d != 0 ? 1/d : 0, q = round-half-even(x * id).
/// Every ISA path computes exactly these float operations, so outputs are bit-identical.
void ss_quantize_act(const float *x, int64_t n, void *dst);

// ---------------------------------------------------------------------------------------------
// Weight repacking
// ---------------------------------------------------------------------------------------------

/// Bytes needed by ss_pack for a rows x cols matrix of `type` (every quantized type above) in
/// the layout of the current ISA: a 64-byte header then tiles of R interleaved rows (R = 16 for
/// AVX-512, 8 for the 256-bit paths, 1 for scalar; rows padded up to a multiple of R).
/// Q4_0, Q4_1, Q8_0, per tile and 32-column block: quants as R-lane dwords (lane r of vector j =
/// bytes 4j..4j+3 of row r's ggml qs), then R f16 scales d, then (Q4_1) R f16 mins m. Q8_0
/// quants are stored XOR 0x80 (unsigned) for the VNNI paths.
/// Other types, per tile and ggml block (32 or 256 columns): each 32 columns' unsigned values
/// (4-bit pairs for Q2_K, Q3_K, Q4_K, IQ4_NL, IQ4_XS: byte i = value i | value i+16 << 4; one
/// byte each for Q5_0, Q5_1, Q5_K, Q6_K) as R-lane dwords, then R f16 d, R f16 mins (Q5_1 m,
/// K types -dmin), then the int8 sub-block scales and mins (per 32 columns, or per 16 for Q2_K,
/// Q3_K, Q6_K). Returns 0 for an unsupported type or cols not a multiple of the block.
size_t ss_packed_size(int type, int64_t rows, int64_t cols);

/// Repacks a ggml matrix `src` (rows x cols of `type`) into `dst` (ss_packed_size bytes) for
/// the current ISA. Returns 1 on success, 0 for an unsupported type or a bad shape (rows <= 0,
/// cols <= 0 or cols % 32 != 0), in which case nothing is written.
int ss_pack(int type, const void *src, int64_t rows, int64_t cols, void *dst);

/// The ISA a packed buffer was packed for, or -1 when `packed` is not a valid packed buffer.
int ss_packed_isa(const void *packed);

/// The row multiple callers should use when splitting rows between threads for the current
/// ISA (the tile height R). Any split is correct and gives identical bits; this one avoids
/// computing a tile twice.
int64_t ss_row_granularity(int type);

// ---------------------------------------------------------------------------------------------
// GEMM
// ---------------------------------------------------------------------------------------------

/// Quantized GEMM: out[t*ldo + r] = sum over blocks b of d_w*d_a*isum_b (+ m_w*s_a for Q4_1;
/// the other types' per-32-block float operations are documented at ss_tile_scalar_x),
/// for r in [row_begin, row_end) and t in [0, ntok). `packed` comes from ss_pack (type, rows,
/// cols must match it, else nothing is written); `act` holds ntok quantized rows of `cols`
/// elements (ss_quantize_act). isum is the exact integer dot of the block quants (q-8 for
/// Q4_0). Per block the float update is acc = fma((float)isum, d_w*d_a, acc) then, for Q4_1,
/// acc = fma(m_w, s_a, acc), blocks in increasing order: identical bits on every ISA.
void ss_gemm_q(int type, const void *packed, int64_t rows, int64_t cols, const void *act,
               int64_t ntok, float *out, int64_t ldo, int64_t row_begin, int64_t row_end);

/// Float reference GEMM (no activation quantization): out[t*ldo + r] = sum_k W[r][k]*act[t*cols+k]
/// for r in [row_begin, row_end), t in [0, ntok). `w` is the original ggml layout (not packed)
/// of F32, F16, BF16 or any quantized type above (any cols for float types, a multiple of the
/// block for the quantized ones). Rows are dequantized with ss_dequantize_row's formulas and dotted with
/// float FMAs (AVX-512 or AVX2, scalar fallback) in a fixed order.
void ss_gemm_f32(int type, const void *w, int64_t rows, int64_t cols, const float *act,
                 int64_t ntok, float *out, int64_t ldo, int64_t row_begin, int64_t row_end);

/// ss_gemm_f32 on an explicit instruction-set path (rounding differs between paths, so a
/// caller that needs reproducible bits fixes the path once, e.g. when it loads the weights,
/// instead of reading the process-wide selection at every call). An unsupported `isa` falls
/// back to the current selection.
void ss_gemm_f32_isa(int isa, int type, const void *w, int64_t rows, int64_t cols, const float *act,
                     int64_t ntok, float *out, int64_t ldo, int64_t row_begin, int64_t row_end);

// ---------------------------------------------------------------------------------------------
// Benchmark
// ---------------------------------------------------------------------------------------------

/// Micro-benchmark on the calling thread: random weights of `type` (rows x cols) and `ntok`
/// random activation rows; runs ss_gemm_q over all rows `iters` times (after one warm-up) and
/// returns GOP/s (2 ops per multiply-add). variant 0: packed kernels of the current ISA;
/// variant 1: a kernel reading the ggml layout directly (AVX-512 VNNI / Q4_1 only, for
/// comparison; returns -1 when unavailable). Returns -1 on bad arguments.
double ss_bench_gemm(int type, int64_t rows, int64_t cols, int64_t ntok, int iters, int variant);


// ---------------------------------------------------------------------------------------------
// Half-precision KV cache and attention
// ---------------------------------------------------------------------------------------------

/// Converts `n` floats to IEEE half (round to nearest even), writing dst[i * dst_stride].
void ss_f32_to_f16_row(const float *src, int64_t n, uint16_t *dst, int64_t dst_stride);

/// Converts `n` IEEE halves src[i * src_stride] to floats.
void ss_f16_to_f32_row(const uint16_t *src, int64_t src_stride, int64_t n, float *dst);

/// One run of consecutive cache slots visible to a query.
typedef struct ss_attn_segment {
    int64_t slot;   // first slot
    int64_t count;  // number of slots
    int64_t sink;   // nonzero: scored with the sink-rotated queries
} ss_attn_segment;

/// Scaled dot-product attention of `group` query heads sharing one KV head, over a half cache.
///
/// `keys` is the head's transposed key block [d][stride], `values` its value rows [slot][d]
/// (IEEE half bits). The visible keys are the segments' slots in order (n = sum of counts,
/// n >= 1). For head h: s_k = scale * (q_h . key_k) with q_h = (segment sink ? q_sink :
/// q_recent) + h*d, p = softmax(s) (max, then the sum of exp in a fixed order), and
/// out[h*d + i] = sum_k p_k * value_k[i] in slot-visit order. `scratch` holds at least
/// group * (n + 16) floats. `isa` (SS_ISA_*) picks the code path explicitly — callers record it
/// once (e.g. with ss_isa() when the cache is created), so a later ss_set_isa elsewhere in the
/// process cannot change a running stream's bits; an unsupported value falls back to portable C.
/// The arithmetic depends only on the arguments (never on threads).
///
/// With `stats` non-NULL the result is a partial for ss_attn_merge instead: out[h*d + i] =
/// sum_k e_k * value_k[i] with the unnormalised e_k = exp(s_k - m_h), and stats[2h] = m_h (the
/// maximum score), stats[2h + 1] = sum_k e_k. (A part's `out` and `stats` are adjacent in the
/// layout ss_attn_merge reads.)
void ss_attend_f16(int isa, const float *q_recent, const float *q_sink, int64_t group, int64_t d,
                   const uint16_t *keys, const uint16_t *values, int64_t stride,
                   const ss_attn_segment *segments, int64_t segment_count, float scale,
                   float *scratch, float *out, float *stats);

/// The most query tokens ss_attend_f16_tile takes at once.
#define SS_ATTN_TILE_TOKENS 4

/// ss_attend_f16 for `tokens` (1 to SS_ATTN_TILE_TOKENS) query tokens of the same KV head whose
/// visible keys are prefixes of one visiting order: token t sees the first `counts[t]` slots of
/// the `segment_count` (at most 8) segments, with its heads at q_recent[t] and q_sink[t], and
/// writes out[t] and, when stats[t] is non-NULL, its partial's stats[t]. Each token's result
/// is bit for bit the one ss_attend_f16 gives it alone; the keys are read and converted once
/// for all of them. A token with counts[t] <= 0 is skipped. `scratch` holds at least
/// tokens * min(group, 4) * (max counts + 16) floats.
void ss_attend_f16_tile(int isa, int64_t tokens, const float *const *q_recent, const float *const *q_sink,
                        int64_t group, int64_t d, const uint16_t *keys, const uint16_t *values, int64_t stride,
                        const ss_attn_segment *segments, int64_t segment_count, const int64_t *counts, float scale,
                        float *scratch, float *const *out, float *const *stats);

/// Combines `parts` partial attentions of the same queries over consecutive runs of keys (split
/// attention, as in flash-decoding) into `out` (`group` x `d`).
///
/// Part p occupies partial[p * group * (d + 2) ...]: `group * d` unnormalised outputs, then the
/// `group` (max, sum) pairs, as ss_attend_f16 writes them. With M = max_p m_p and w_p =
/// exp(m_p - M): out = (sum_p w_p * out_p) / (sum_p w_p * sum_p), parts combined in order.
void ss_attn_merge(int64_t group, int64_t d, int64_t parts, const float *partial, float *out);

/// The softmax numerators of `row[0 ..< n]` (n >= 1) in place: `*max_out` = the maximum m,
/// row[k] = exp(row[k] - m), and the return value is their sum, in the fixed order attention's
/// softmax uses on `isa` (16 lanes, then ss_sum16 on AVX2/AVX-512; in sequence with expf in
/// portable C). The fused loss reduces each block of the output layer with it.
float ss_softmax_f32(int isa, float *row, int64_t n, float *max_out);

/// Pause hint for spin-wait loops.
static inline void ss_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

#ifdef __cplusplus
}
#endif

#endif
