// Float reference GEMM on the original ggml layout: rows are dequantized into a stack buffer
// (chunks of SS_F32_CHUNK columns) and dotted with float activations using a fixed order.
#include "internal.h"

#pragma STDC FP_CONTRACT OFF

#define SS_F32_CHUNK 4096
#define SS_F32_NT 4

/// Dequantizes columns [k0, k0+n) of one ggml row (k0, n multiples of 32 for quantized types).
static void ss_dequant_cols(int type, const uint8_t *row, int64_t k0, int64_t n, float *dst) {
    const size_t off = ss_row_bytes(type, k0) ;
    if (type == SS_TYPE_F32 || type == SS_TYPE_F16 || type == SS_TYPE_BF16) {
        const size_t es = type == SS_TYPE_F32 ? 4 : 2;
        ss_dequantize_row(type, row + (size_t)k0 * es, n, dst);
    } else {
        ss_dequantize_row(type, row + off, n, dst);
    }
}

/// Shared driver: for each row and token tile, dequantize (once when cols fits one chunk) and
/// call `dot` which accumulates nt tokens over one chunk into its accumulator state.
typedef void (*ss_f32_dot_fn)(const float *w, const float *const *x, int nt, int64_t n, void *state);
typedef void (*ss_f32_fin_fn)(void *state, int nt, float *res);

static void ss_gemm_f32_drive(int type, const void *w, int64_t cols, const float *act, int64_t ntok,
                              float *out, int64_t ldo, int64_t rb, int64_t re, ss_f32_dot_fn dot,
                              ss_f32_fin_fn fin, void *state, size_t state_bytes) {
    float buf[SS_F32_CHUNK] __attribute__((aligned(64)));
    const size_t rbytes = ss_row_bytes(type, cols);
    const int64_t nchunks = (cols + SS_F32_CHUNK - 1) / SS_F32_CHUNK;
    for (int64_t r = rb; r < re; ++r) {
        const uint8_t *row = (const uint8_t *)w + (size_t)r * rbytes;
        for (int64_t t0 = 0; t0 < ntok; t0 += SS_F32_NT) {
            const int nt = (int)(ntok - t0 < SS_F32_NT ? ntok - t0 : SS_F32_NT);
            memset(state, 0, state_bytes);
            for (int64_t c = 0; c < nchunks; ++c) {
                const int64_t k0 = c * SS_F32_CHUNK;
                const int64_t n = cols - k0 < SS_F32_CHUNK ? cols - k0 : SS_F32_CHUNK;
                if (nchunks > 1 || t0 == 0) ss_dequant_cols(type, row, k0, n, buf);
                const float *x[SS_F32_NT];
                for (int t = 0; t < nt; ++t) x[t] = act + (size_t)(t0 + t) * (size_t)cols + k0;
                dot(buf, x, nt, n, state);
            }
            float res[SS_F32_NT];
            fin(state, nt, res);
            for (int t = 0; t < nt; ++t) out[(t0 + t) * ldo + r] = res[t];
        }
    }
}

static int ss_f32_args_ok(int type, int64_t cols) {
    return ss_row_bytes(type, cols) != 0;
}

// ---- scalar: 8 running sums per token, lane i takes k = i mod 8, summed pairwise at the end.
static void ss_dot_scalar(const float *w, const float *const *x, int nt, int64_t n, void *state) {
    float(*s)[8] = (float(*)[8])state;
    for (int t = 0; t < nt; ++t)
        for (int64_t k = 0; k < n; ++k) s[t][k & 7] += w[k] * x[t][k];
}
static void ss_fin_scalar(void *state, int nt, float *res) {
    float(*s)[8] = (float(*)[8])state;
    for (int t = 0; t < nt; ++t)
        res[t] = ((s[t][0] + s[t][4]) + (s[t][2] + s[t][6])) + ((s[t][1] + s[t][5]) + (s[t][3] + s[t][7]));
}
void ss_gemm_f32_scalar(int type, const void *w, int64_t rows, int64_t cols, const float *act,
                        int64_t ntok, float *out, int64_t ldo, int64_t rb, int64_t re) {
    (void)rows;
    float state[SS_F32_NT][8];
    ss_gemm_f32_drive(type, w, cols, act, ntok, out, ldo, rb, re, ss_dot_scalar, ss_fin_scalar, state, sizeof state);
}

#if SS_X86
// ---- AVX2: two 8-lane accumulators per token (k mod 16), masked tail.
typedef struct { __m256 a[SS_F32_NT][2]; } ss_state256;
static SS_TAVX2 void ss_dot_avx2(const float *w, const float *const *x, int nt, int64_t n, void *state) {
    ss_state256 *s = (ss_state256 *)state;
    int64_t k = 0;
    for (; k + 16 <= n; k += 16) {
        const __m256 w0 = _mm256_loadu_ps(w + k), w1 = _mm256_loadu_ps(w + k + 8);
        for (int t = 0; t < nt; ++t) {
            s->a[t][0] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x[t] + k), s->a[t][0]);
            s->a[t][1] = _mm256_fmadd_ps(w1, _mm256_loadu_ps(x[t] + k + 8), s->a[t][1]);
        }
    }
    for (int h = 0; h < 2 && k < n; ++h, k += 8) {
        const int64_t left = n - k;
        const __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(left > 8 ? 8 : left)),
                                             _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        const __m256 wv = _mm256_maskload_ps(w + k, m);
        for (int t = 0; t < nt; ++t)
            s->a[t][h] = _mm256_fmadd_ps(wv, _mm256_maskload_ps(x[t] + k, m), s->a[t][h]);
    }
}
static SS_TAVX2 void ss_fin_avx2(void *state, int nt, float *res) {
    ss_state256 *s = (ss_state256 *)state;
    for (int t = 0; t < nt; ++t) {
        const __m256 v = _mm256_add_ps(s->a[t][0], s->a[t][1]);
        __m128 h = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        h = _mm_add_ps(h, _mm_movehl_ps(h, h));
        h = _mm_add_ss(h, _mm_movehdup_ps(h));
        res[t] = _mm_cvtss_f32(h);
    }
}
void ss_gemm_f32_avx2(int type, const void *w, int64_t rows, int64_t cols, const float *act,
                      int64_t ntok, float *out, int64_t ldo, int64_t rb, int64_t re) {
    (void)rows;
    ss_state256 state;
    ss_gemm_f32_drive(type, w, cols, act, ntok, out, ldo, rb, re, ss_dot_avx2, ss_fin_avx2, &state, sizeof state);
}

// ---- AVX-512: two 16-lane accumulators per token (k mod 32), masked tail.
typedef struct { __m512 a[SS_F32_NT][2]; } ss_state512;
static SS_T512 void ss_dot_avx512(const float *w, const float *const *x, int nt, int64_t n, void *state) {
    ss_state512 *s = (ss_state512 *)state;
    int64_t k = 0;
    for (; k + 32 <= n; k += 32) {
        const __m512 w0 = _mm512_loadu_ps(w + k), w1 = _mm512_loadu_ps(w + k + 16);
        for (int t = 0; t < nt; ++t) {
            s->a[t][0] = _mm512_fmadd_ps(w0, _mm512_loadu_ps(x[t] + k), s->a[t][0]);
            s->a[t][1] = _mm512_fmadd_ps(w1, _mm512_loadu_ps(x[t] + k + 16), s->a[t][1]);
        }
    }
    for (int h = 0; h < 2 && k < n; ++h, k += 16) {
        const int64_t left = n - k;
        const __mmask16 m = (__mmask16)(left >= 16 ? 0xffff : ((1u << left) - 1));
        const __m512 wv = _mm512_maskz_loadu_ps(m, w + k);
        for (int t = 0; t < nt; ++t)
            s->a[t][h] = _mm512_fmadd_ps(wv, _mm512_maskz_loadu_ps(m, x[t] + k), s->a[t][h]);
    }
}
static SS_T512 void ss_fin_avx512(void *state, int nt, float *res) {
    ss_state512 *s = (ss_state512 *)state;
    for (int t = 0; t < nt; ++t) res[t] = _mm512_reduce_add_ps(_mm512_add_ps(s->a[t][0], s->a[t][1]));
}
void ss_gemm_f32_avx512(int type, const void *w, int64_t rows, int64_t cols, const float *act,
                        int64_t ntok, float *out, int64_t ldo, int64_t rb, int64_t re) {
    (void)rows;
    ss_state512 state;
    ss_gemm_f32_drive(type, w, cols, act, ntok, out, ldo, rb, re, ss_dot_avx512, ss_fin_avx512, &state, sizeof state);
}
#endif

void ss_gemm_f32(int type, const void *w, int64_t rows, int64_t cols, const float *act,
                 int64_t ntok, float *out, int64_t ldo, int64_t row_begin, int64_t row_end) {
    ss_gemm_f32_isa(ss_isa(), type, w, rows, cols, act, ntok, out, ldo, row_begin, row_end);
}

void ss_gemm_f32_isa(int isa, int type, const void *w, int64_t rows, int64_t cols, const float *act,
                     int64_t ntok, float *out, int64_t ldo, int64_t row_begin, int64_t row_end) {
    if (!ss_f32_args_ok(type, cols) || ntok <= 0) return;
    if (row_begin < 0) row_begin = 0;
    if (row_end > rows) row_end = rows;
    if (row_begin >= row_end) return;
    if (!ss_isa_supported(isa)) isa = ss_isa();
    switch (isa) {
#if SS_X86
    case SS_ISA_AVX512VNNI: ss_gemm_f32_avx512(type, w, rows, cols, act, ntok, out, ldo, row_begin, row_end); return;
    case SS_ISA_AVXVNNI: case SS_ISA_AVX2: ss_gemm_f32_avx2(type, w, rows, cols, act, ntok, out, ldo, row_begin, row_end); return;
#endif
    default: ss_gemm_f32_scalar(type, w, rows, cols, act, ntok, out, ldo, row_begin, row_end); return;
    }
}
