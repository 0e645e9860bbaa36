// Single-thread micro-benchmark of ss_gemm_q, plus a kernel that reads the ggml layout
// directly (no repacking) to measure what repacking buys.
#include "internal.h"
#include <stdlib.h>
#include <time.h>

static double ss_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint32_t ss_rand(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(*s >> 33);
}

#if SS_X86
/// ggml-layout Q4_1 kernel: 1 row x 4 tokens per step, 256-bit vpdpbusd, horizontal sum at the end.
static SS_T512 void ss_direct_q4_1(const uint8_t *w, int64_t rows, int64_t cols, const uint8_t *act,
                                   int64_t ntok, float *out, int64_t ldo) {
    const int64_t nb = cols / SS_QK;
    const size_t astride = ss_act_row_bytes(cols);
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    for (int64_t r = 0; r < rows; ++r) {
        const uint8_t *row = w + (size_t)r * (size_t)nb * 20;
        for (int64_t t0 = 0; t0 < ntok; t0 += 4) {
            const int nt = (int)(ntok - t0 < 4 ? ntok - t0 : 4);
            __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
            float macc[4] = {0, 0, 0, 0};
            for (int64_t b = 0; b < nb; ++b) {
                const uint8_t *g = row + b * 20;
                const float d = _cvtsh_ss(ss_load_u16(g)), m = _cvtsh_ss(ss_load_u16(g + 2));
                const __m128i q = _mm_loadu_si128((const __m128i *)(g + 4));
                const __m256i wq = _mm256_and_si256(
                    _mm256_inserti128_si256(_mm256_castsi128_si256(q), _mm_srli_epi16(q, 4), 1), m4);
                for (int t = 0; t < nt; ++t) {
                    const ss_act_block *x = (const ss_act_block *)(act + (size_t)(t0 + t) * astride) + b;
                    const __m256i is = _mm256_dpbusd_epi32(_mm256_setzero_si256(), wq,
                                                           _mm256_loadu_si256((const __m256i *)x->qs));
                    acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(is), _mm256_set1_ps(d * x->d), acc[t]);
                    macc[t] += m * x->s;
                }
            }
            for (int t = 0; t < nt; ++t) {
                __m128 h = _mm_add_ps(_mm256_castps256_ps128(acc[t]), _mm256_extractf128_ps(acc[t], 1));
                h = _mm_add_ps(h, _mm_movehl_ps(h, h));
                h = _mm_add_ss(h, _mm_movehdup_ps(h));
                out[(t0 + t) * ldo + r] = _mm_cvtss_f32(h) + macc[t];
            }
        }
    }
}
#endif

double ss_bench_gemm(int type, int64_t rows, int64_t cols, int64_t ntok, int iters, int variant) {
    if (rows <= 0 || cols <= 0 || cols % SS_QK || ntok <= 0 || iters <= 0) return -1;
    const size_t wbytes = ss_row_bytes(type, cols) * (size_t)rows;
    const size_t pbytes = ss_packed_size(type, rows, cols);
    if (wbytes == 0 || pbytes == 0) return -1;
#if SS_X86
    if (variant == 1 && (type != SS_TYPE_Q4_1 || !ss_isa_supported(SS_ISA_AVX512VNNI))) return -1;
#else
    if (variant == 1) return -1;
#endif
    uint8_t *w = malloc(wbytes), *packed = aligned_alloc(64, (pbytes + 63) / 64 * 64);
    float *x = malloc((size_t)(ntok * cols) * sizeof(float));
    uint8_t *act = aligned_alloc(64, (ss_act_row_bytes(cols) * (size_t)ntok + 63) / 64 * 64);
    float *out = malloc((size_t)(ntok * rows) * sizeof(float));
    double result = -1;
    if (w && packed && x && act && out) {
        uint64_t seed = 12345;
        for (size_t i = 0; i < wbytes; ++i) w[i] = (uint8_t)ss_rand(&seed);
        // Sane f16 scales (0x2000..0x23ff ~ 0.008) in each block's f16 fields.
        const ss_fmt f = ss_fmt_of(type);
        const size_t bs = f.qk ? (size_t)f.gbytes : ss_row_bytes(type, SS_QK);
        size_t fo[2] = {0, 2};
        int nf = type == SS_TYPE_Q4_1 || type == SS_TYPE_Q5_1 || type == SS_TYPE_Q4_K || type == SS_TYPE_Q5_K ? 2 : 1;
        if (type == SS_TYPE_Q2_K) { fo[0] = 80; fo[1] = 82; nf = 2; }
        if (type == SS_TYPE_Q3_K) fo[0] = 108;
        if (type == SS_TYPE_Q6_K) fo[0] = 208;
        for (size_t i = 0; i + bs <= wbytes; i += bs) {
            const uint16_t h = (uint16_t)(0x2000 | (ss_rand(&seed) & 0x3ff));
            for (int k = 0; k < nf; ++k) memcpy(w + i + fo[k], &h, 2);
        }
        for (int64_t i = 0; i < ntok * cols; ++i) x[i] = (float)ss_rand(&seed) / 4294967296.0f - 0.25f;
        for (int64_t t = 0; t < ntok; ++t)
            ss_quantize_act(x + t * cols, cols, act + (size_t)t * ss_act_row_bytes(cols));
        ss_pack(type, w, rows, cols, packed);
        double best = 1e30;
        for (int rep = 0; rep < iters + 1; ++rep) {
            const double t0 = ss_now();
#if SS_X86
            if (variant == 1) ss_direct_q4_1(w, rows, cols, act, ntok, out, rows);
            else
#endif
                ss_gemm_q(type, packed, rows, cols, act, ntok, out, rows, 0, rows);
            const double dt = ss_now() - t0;
            if (rep > 0 && dt < best) best = dt;
        }
        result = 2.0 * (double)rows * (double)cols * (double)ntok / best * 1e-9;
    }
    free(w);
    free(packed);
    free(x);
    free(act);
    free(out);
    return result;
}
