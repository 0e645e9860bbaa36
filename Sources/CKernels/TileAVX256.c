// 256-bit tile kernels: 8 interleaved rows x up to 4 tokens, with AVX-VNNI (vpdpbusd ymm) or
// AVX2 (vpmaddubsw + vpmaddwd). Same per-block float operations as every other path.
#include "internal.h"

#if SS_X86
#pragma STDC FP_CONTRACT OFF

/// One tile; `vnni` selects vpdpbusd (Q8_0 quants stored XOR 0x80) or the AVX2 sequence
/// (Q8_0 quants raw signed: |w| x sign(a, w), as ggml does, to avoid int16 saturation).
#define SS_K256_BODY(DPBUSD_Q4, ADD_Q4, Q8_STEP)                                                          \
    enum { R = 8 };                                                                               \
    const size_t qb = type == SS_TYPE_Q8_0 ? 32 : 16;                                             \
    const size_t tbb = ss_tile_block_bytes(type, R);                                              \
    const __m256i m4 = _mm256_set1_epi8(0x0f);                                                    \
    const __m256i ones = _mm256_set1_epi16(1);                                                    \
    (void)ones;                                                                                   \
    __m256 acc[4];                                                                                \
    for (int t = 0; t < NT; ++t) acc[t] = _mm256_setzero_ps();                                    \
    for (int64_t b = 0; b < nb; ++b, w += tbb) {                                                  \
        const int32_t *q[4];                                                                      \
        const ss_act_block *x[4];                                                                 \
        __m256i is[4], is2[4]; /* is2: second chain for NT <= 2 (latency) */                      \
        for (int t = 0; t < NT; ++t) {                                                            \
            is2[t] = _mm256_setzero_si256();                                                      \
            x[t] = (const ss_act_block *)(act + (size_t)t * astride) + b;                        \
            q[t] = (const int32_t *)x[t]->qs;                                                     \
            is[t] = _mm256_setzero_si256();                                                       \
        }                                                                                         \
        if (type == SS_TYPE_Q8_0) {                                                               \
            for (int j = 0; j < 8; ++j) {                                                         \
                const __m256i wr = _mm256_loadu_si256((const __m256i *)(w + 32 * j));             \
                Q8_STEP                                                                           \
            }                                                                                     \
        } else {                                                                                  \
            for (int j = 0; j < 4; ++j) {                                                         \
                const __m256i raw = _mm256_loadu_si256((const __m256i *)(w + 32 * j));            \
                const __m256i lo = _mm256_and_si256(raw, m4);                                     \
                const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), m4);               \
                for (int t = 0; t < NT; ++t) {                                                    \
                    DPBUSD_Q4(is[t], lo, _mm256_set1_epi32(q[t][j]));                             \
                    if (NT <= 2) DPBUSD_Q4(is2[t], hi, _mm256_set1_epi32(q[t][j + 4]));           \
                    else DPBUSD_Q4(is[t], hi, _mm256_set1_epi32(q[t][j + 4]));                    \
                }                                                                                 \
            }                                                                                     \
        }                                                                                         \
        const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + R * qb)));        \
        for (int t = 0; t < NT; ++t) {                                                            \
            __m256i s = NT <= 2 ? ADD_Q4(is[t], is2[t]) : is[t];                                  \
            if (type != SS_TYPE_Q8_0 && !SS_VNNI) s = _mm256_madd_epi16(s, ones);                 \
            if (type == SS_TYPE_Q4_0) s = _mm256_sub_epi32(s, _mm256_set1_epi32(x[t]->sum * 8));  \
            if (type == SS_TYPE_Q8_0 && SS_VNNI)                                                  \
                s = _mm256_sub_epi32(s, _mm256_set1_epi32(x[t]->sum * 128));                      \
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_mul_ps(dw, _mm256_set1_ps(x[t]->d)), acc[t]); \
            if (type == SS_TYPE_Q4_1) {                                                           \
                const __m256 mw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + R * qb + 2 * R))); \
                acc[t] = _mm256_fmadd_ps(mw, _mm256_set1_ps(x[t]->s), acc[t]);                    \
            }                                                                                     \
        }                                                                                         \
    }                                                                                             \
    for (int t = 0; t < NT; ++t) _mm256_storeu_ps(tmp + t * R, acc[t]);

// AVX-VNNI: Q4 and Q8 (XOR 0x80) both accumulate straight into int32 lanes.
#define SS_VNNI 1
#define SS_DP_VNNI(ACC, W, A) (ACC) = _mm256_dpbusd_avx_epi32((ACC), (W), (A))
static SS_AI SS_TVNNI256 void ss_kvnni(const int type, const int NT, const uint8_t *restrict w, int64_t nb,
                                       const uint8_t *restrict act, size_t astride, float *restrict tmp) {
    SS_K256_BODY(SS_DP_VNNI, _mm256_add_epi32,
                 for (int t = 0; t < NT; ++t) {
                     if (NT <= 2 && (j & 1)) SS_DP_VNNI(is2[t], wr, _mm256_set1_epi32(q[t][j]));
                     else SS_DP_VNNI(is[t], wr, _mm256_set1_epi32(q[t][j]));
                 })
}
#undef SS_VNNI

// AVX2: Q4 products summed in int16 (8 x 2 x 15 x 127 < 32768), widened once per block;
// Q8 products widened per step.
#define SS_VNNI 0
/// Adds the two int16 chains of a Q4 block, or the two int32 chains of a Q8 block.
#define ss_add_q4_avx2(A, B) (type == SS_TYPE_Q8_0 ? _mm256_add_epi32((A), (B)) : _mm256_add_epi16((A), (B)))
#define SS_DP_AVX2(ACC, W, A) (ACC) = _mm256_add_epi16((ACC), _mm256_maddubs_epi16((W), (A)))
static SS_AI SS_TAVX2 void ss_kavx2(const int type, const int NT, const uint8_t *restrict w, int64_t nb,
                                    const uint8_t *restrict act, size_t astride, float *restrict tmp) {
    SS_K256_BODY(SS_DP_AVX2, ss_add_q4_avx2,
                 const __m256i wa = _mm256_sign_epi8(wr, wr);
                 for (int t = 0; t < NT; ++t) {
                     const __m256i sa = _mm256_sign_epi8(_mm256_set1_epi32(q[t][j]), wr);
                     is[t] = _mm256_add_epi32(is[t], _mm256_madd_epi16(_mm256_maddubs_epi16(wa, sa), ones));
                 })
}
#undef SS_VNNI

#define SS_TILE256(NAME, KERNEL, TARGET, TYPE)                                                   \
    static TARGET void NAME(int nt, const uint8_t *w, int64_t nb, const uint8_t *a, size_t s, float *o) { \
        switch (nt) {                                                                            \
        case 1: KERNEL(TYPE, 1, w, nb, a, s, o); break;                                          \
        case 2: KERNEL(TYPE, 2, w, nb, a, s, o); break;                                          \
        case 3: KERNEL(TYPE, 3, w, nb, a, s, o); break;                                          \
        default: KERNEL(TYPE, 4, w, nb, a, s, o); break;                                         \
        }                                                                                        \
    }

#define SS_X_VNNI 1
#define SS_X_NAME ss_kxvnni
#define SS_X_TARGET SS_TVNNI256
#include "TileX256.h"
#undef SS_X_VNNI
#undef SS_X_NAME
#undef SS_X_TARGET
#define SS_X_VNNI 0
#define SS_X_NAME ss_kxavx2
#define SS_X_TARGET SS_TAVX2
#include "TileX256.h"
#undef SS_X_VNNI
#undef SS_X_NAME
#undef SS_X_TARGET

#define SS_X_TYPES(X, ISA)                                                                       \
    X(ISA, q5_0, SS_TYPE_Q5_0) X(ISA, q5_1, SS_TYPE_Q5_1) X(ISA, q2_k, SS_TYPE_Q2_K)            \
    X(ISA, q3_k, SS_TYPE_Q3_K) X(ISA, q4_k, SS_TYPE_Q4_K) X(ISA, q5_k, SS_TYPE_Q5_K)            \
    X(ISA, q6_k, SS_TYPE_Q6_K) X(ISA, iq4_nl, SS_TYPE_IQ4_NL) X(ISA, iq4_xs, SS_TYPE_IQ4_XS)
#define SS_X_DEF_vnni(ISA, N, T) SS_TILE256(ss_tilevnni_##N, ss_kxvnni, SS_TVNNI256, T)
#define SS_X_DEF_avx2(ISA, N, T) SS_TILE256(ss_tileavx2_##N, ss_kxavx2, SS_TAVX2, T)
#define SS_X_CASE_vnni(ISA, N, T) case T: return ss_tilevnni_##N;
#define SS_X_CASE_avx2(ISA, N, T) case T: return ss_tileavx2_##N;
SS_X_TYPES(SS_X_DEF_vnni, vnni)
SS_X_TYPES(SS_X_DEF_avx2, avx2)

SS_TILE256(ss_tilevnni_q4_0, ss_kvnni, SS_TVNNI256, SS_TYPE_Q4_0)
SS_TILE256(ss_tilevnni_q4_1, ss_kvnni, SS_TVNNI256, SS_TYPE_Q4_1)
SS_TILE256(ss_tilevnni_q8_0, ss_kvnni, SS_TVNNI256, SS_TYPE_Q8_0)
SS_TILE256(ss_tileavx2_q4_0, ss_kavx2, SS_TAVX2, SS_TYPE_Q4_0)
SS_TILE256(ss_tileavx2_q4_1, ss_kavx2, SS_TAVX2, SS_TYPE_Q4_1)
SS_TILE256(ss_tileavx2_q8_0, ss_kavx2, SS_TAVX2, SS_TYPE_Q8_0)

ss_tile_fn ss_tile_avxvnni(int type) {
    switch (type) {
    case SS_TYPE_Q4_0: return ss_tilevnni_q4_0;
    case SS_TYPE_Q4_1: return ss_tilevnni_q4_1;
    case SS_TYPE_Q8_0: return ss_tilevnni_q8_0;
    SS_X_TYPES(SS_X_CASE_vnni, vnni)
    default: return NULL;
    }
}

ss_tile_fn ss_tile_avx2(int type) {
    switch (type) {
    case SS_TYPE_Q4_0: return ss_tileavx2_q4_0;
    case SS_TYPE_Q4_1: return ss_tileavx2_q4_1;
    case SS_TYPE_Q8_0: return ss_tileavx2_q8_0;
    SS_X_TYPES(SS_X_CASE_avx2, avx2)
    default: return NULL;
    }
}
#else
ss_tile_fn ss_tile_avxvnni(int type) { (void)type; return NULL; }
ss_tile_fn ss_tile_avx2(int type) { (void)type; return NULL; }
#endif
