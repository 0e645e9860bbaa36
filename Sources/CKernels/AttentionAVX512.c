// AVX-512 attention over a half-precision KV cache. The query heads of a GQA group are scored
// together, so every converted key vector feeds `G` FMAs and every value row `G` more.
#include "internal.h"

#if SS_X86
#include <math.h>

/// e^x per lane (Cephes polynomial, the same formula as VectorMath.exp); x <= 0 here.
static SS_AI SS_T512 __m512 ss_exp512(__m512 x) {
    const __m512 lo = _mm512_set1_ps(-87.33654f);
    const __mmask16 under = _mm512_cmp_ps_mask(x, lo, _CMP_LT_OQ);
    __m512 v = _mm512_max_ps(x, lo);
    const __m512 magic = _mm512_set1_ps(12582912.0f);
    const __m512 shifted = _mm512_fmadd_ps(v, _mm512_set1_ps(1.442695040888963f), magic);
    const __m512 n = _mm512_sub_ps(shifted, magic);
    const __m512i nbits = _mm512_sub_epi32(_mm512_castps_si512(shifted), _mm512_set1_epi32(0x4B400000));
    v = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), v);
    v = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), v);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, v, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, v, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, v, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, v, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, v, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(v, v), _mm512_add_ps(v, _mm512_set1_ps(1.0f)));
    const __m512i bits = _mm512_slli_epi32(_mm512_add_epi32(nbits, _mm512_set1_epi32(127)), 23);
    const __m512 r = _mm512_mul_ps(p, _mm512_castsi512_ps(bits));
    return _mm512_maskz_mov_ps((__mmask16)~under, r);
}

/// Scores of G query vectors (up to 16: the heads of a group, or of several tokens' groups) for
/// `count` slots starting at `keys` (transposed, row stride `stride`). Every score is its own FMA
/// chain over the head dimension, so neither G nor the blocking below changes a bit.
static SS_AI SS_T512 void ss_scores512(const int G, const int64_t D, const float *q, const uint16_t *keys,
                                       int64_t stride, int64_t count, float scale, float *row, int64_t rs) {
    const __m512 vs = _mm512_set1_ps(scale);
    int64_t k = 0;
    // Two key vectors per step while 2G accumulators fit the 32 registers, else one.
    if (G <= 12) {
        for (; k + 32 <= count; k += 32) {
            __m512 a0[12], a1[12];
            for (int h = 0; h < G; ++h) a0[h] = a1[h] = _mm512_setzero_ps();
            const uint16_t *kp = keys + k;
            for (int64_t i = 0; i < D; ++i, kp += stride) {
                // The transposed keys are 64 strided rows: too many streams for the hardware
                // prefetcher, so fetch this row's next blocks explicitly (measured: the key loads
                // were a third of decode attention time at depth 1,024 without this).
                _mm_prefetch((const char *)(kp + 64), _MM_HINT_T0);
                const __m512 k0 = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)kp));
                const __m512 k1 = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(kp + 16)));
                for (int h = 0; h < G; ++h) {
                    const __m512 qb = _mm512_set1_ps(q[h * D + i]);
                    a0[h] = _mm512_fmadd_ps(qb, k0, a0[h]);
                    a1[h] = _mm512_fmadd_ps(qb, k1, a1[h]);
                }
            }
            for (int h = 0; h < G; ++h) {
                _mm512_storeu_ps(row + h * rs + k, _mm512_mul_ps(a0[h], vs));
                _mm512_storeu_ps(row + h * rs + k + 16, _mm512_mul_ps(a1[h], vs));
            }
        }
    }
    for (; k < count; k += 16) {
        const __mmask16 m = count - k >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (count - k)) - 1);
        __m512 a0[16];
        for (int h = 0; h < G; ++h) a0[h] = _mm512_setzero_ps();
        const uint16_t *kp = keys + k;
        for (int64_t i = 0; i < D; ++i, kp += stride) {
            _mm_prefetch((const char *)(kp + 32), _MM_HINT_T0);
            const __m512 k0 = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, kp));
            for (int h = 0; h < G; ++h) a0[h] = _mm512_fmadd_ps(_mm512_set1_ps(q[h * D + i]), k0, a0[h]);
        }
        for (int h = 0; h < G; ++h) _mm512_mask_storeu_ps(row + h * rs + k, m, _mm512_mul_ps(a0[h], vs));
    }
}

/// The sum of 16 lanes: lanes i + (i + 8), then + 4, + 2, + 1 (the AVX2 kernel's ss_sum16_256).
static SS_AI SS_T512 float ss_sum16_512(__m512 acc) {
    const __m256 s8 = _mm256_add_ps(_mm512_castps512_ps256(acc), _mm512_extractf32x8_ps(acc, 1));
    const __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
    const __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
    return _mm_cvtss_f32(_mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 1)));
}

/// Softmax numerators in place; returns the sum of exp (fixed reduction order, ss_sum16_512)
/// and the maximum score in `*max_out`.
static SS_AI SS_T512 float ss_softmax512(float *row, int64_t n, float *max_out) {
    __m512 vm = _mm512_set1_ps(-INFINITY);
    int64_t k = 0;
    for (; k + 16 <= n; k += 16) vm = _mm512_max_ps(vm, _mm512_loadu_ps(row + k));
    if (k < n) vm = _mm512_mask_max_ps(vm, (__mmask16)((1u << (n - k)) - 1), vm, _mm512_loadu_ps(row + k));
    const float mx = _mm512_reduce_max_ps(vm);
    *max_out = mx;
    const __m512 m = _mm512_set1_ps(mx);
    __m512 acc = _mm512_setzero_ps();
    for (k = 0; k + 16 <= n; k += 16) {
        const __m512 e = ss_exp512(_mm512_sub_ps(_mm512_loadu_ps(row + k), m));
        _mm512_storeu_ps(row + k, e);
        acc = _mm512_add_ps(acc, e);
    }
    if (k < n) {
        const __mmask16 mk = (__mmask16)((1u << (n - k)) - 1);
        const __m512 e = _mm512_maskz_mov_ps(mk, ss_exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(mk, row + k), m)));
        _mm512_mask_storeu_ps(row + k, mk, e);
        acc = _mm512_add_ps(acc, e);
    }
    return ss_sum16_512(acc);
}

/// outs[h][i] = inv[h] * sum_k p_hk * value_k[i] over the first cnt[h] visited slots, for G (at
/// most 16) query vectors: each element is one FMA chain over the keys in visit order (as
/// ss_values256), every converted value vector feeding all G. R registers of 16 columns per
/// vector: 4 for up to 4 vectors, 2 for up to 8, else 1.
static SS_AI SS_T512 void ss_values512(const int G, const int64_t D, const uint16_t *values, const ss_attn_segment *segs,
                                       int64_t nseg, const float *p, int64_t rs, const int64_t *cnt, const float *inv,
                                       float *const *outs) {
    enum { MAXR = 4 };
    const int R = G <= 4 ? 4 : G <= 8 ? 2 : 1;
    int64_t lo = cnt[0], hi = cnt[0];
    for (int h = 1; h < G; ++h) {
        lo = cnt[h] < lo ? cnt[h] : lo;
        hi = cnt[h] > hi ? cnt[h] : hi;
    }
    for (int64_t c = 0; c < D; c += 16 * R) {
        const int parts = D - c >= 16 * R ? R : (int)((D - c) / 16);
        __m512 o[16][MAXR];
        for (int h = 0; h < G; ++h)
            for (int j = 0; j < R; ++j) o[h][j] = _mm512_setzero_ps();
        int64_t at = 0;
        for (int64_t s = 0; s < nseg && at < hi; ++s) {
            const uint16_t *v = values + segs[s].slot * D + c;
            for (int64_t k = 0; k < segs[s].count && at < hi; ++k, ++at, v += D) {
                __m512 vv[MAXR];
                for (int j = 0; j < parts; ++j) vv[j] = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(v + 16 * j)));
                const int every = at < lo;
                for (int h = 0; h < G; ++h) {
                    if (!every && at >= cnt[h]) continue;
                    const __m512 w = _mm512_set1_ps(p[h * rs + at]);
                    for (int j = 0; j < parts; ++j) o[h][j] = _mm512_fmadd_ps(w, vv[j], o[h][j]);
                }
            }
        }
        for (int h = 0; h < G; ++h) {
            const __m512 vi = _mm512_set1_ps(inv[h]);
            for (int j = 0; j < parts; ++j) _mm512_storeu_ps(outs[h] + c + 16 * j, _mm512_mul_ps(o[h][j], vi));
        }
    }
}


SS_T512 void ss_attn_scores_avx512(int64_t group, int64_t d, const float *q, const uint16_t *keys, int64_t stride,
                                   int64_t count, float scale, float *row, int64_t rs) {
#define SS_CALL(G, D) ss_scores512(G, D, q, keys, stride, count, scale, row, rs)
    SS_SPECIALISE_QUERIES(SS_CALL)
#undef SS_CALL
}

SS_T512 float ss_attn_softmax_avx512(float *row, int64_t n, float *max_out) { return ss_softmax512(row, n, max_out); }

SS_T512 void ss_attn_values_avx512(int64_t group, int64_t d, const uint16_t *values, const ss_attn_segment *segs,
                                   int64_t nseg, const float *p, int64_t rs, const int64_t *cnt, const float *inv,
                                   float *const *outs) {
#define SS_CALL(G, D) ss_values512(G, D, values, segs, nseg, p, rs, cnt, inv, outs)
    SS_SPECIALISE_QUERIES(SS_CALL)
#undef SS_CALL
}
#endif
