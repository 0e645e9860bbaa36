// AVX2 (+FMA, F16C) attention over a half-precision KV cache: the AVX-512 kernel's arithmetic
// in 8-lane registers. Every score is one FMA chain over the head dimension, every output
// element one FMA chain over the keys, exp is the same polynomial, and the sum of exp uses the
// same 16 lane accumulators and the same reduction tree (ss_sum16), so both kernels produce the
// same bits: a result does not depend on whether the machine has AVX-512.
#include "internal.h"

#if SS_X86
#include <math.h>

/// e^x per lane (Cephes polynomial, the same formula and operations as ss_exp512); x <= 0 here.
static SS_AI SS_TAVX2 __m256 ss_exp256(__m256 x) {
    const __m256 lo = _mm256_set1_ps(-87.33654f);
    const __m256 under = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
    __m256 v = _mm256_max_ps(x, lo);
    const __m256 magic = _mm256_set1_ps(12582912.0f);
    const __m256 shifted = _mm256_fmadd_ps(v, _mm256_set1_ps(1.442695040888963f), magic);
    const __m256 n = _mm256_sub_ps(shifted, magic);
    const __m256i nbits = _mm256_sub_epi32(_mm256_castps_si256(shifted), _mm256_set1_epi32(0x4B400000));
    v = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), v);
    v = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), v);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, v, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, v, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, v, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, v, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, v, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(v, v), _mm256_add_ps(v, _mm256_set1_ps(1.0f)));
    const __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(nbits, _mm256_set1_epi32(127)), 23);
    const __m256 r = _mm256_mul_ps(p, _mm256_castsi256_ps(bits));
    return _mm256_andnot_ps(under, r);
}

/// Eight halves of a row that may end before eight (zero-padded), as floats.
static SS_AI SS_TAVX2 __m256 ss_load_ph_tail(const uint16_t *p, int64_t count) {
    uint16_t tmp[8] = {0};
    for (int64_t j = 0; j < count && j < 8; ++j) tmp[j] = p[j];
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)tmp));
}

/// Scores of G <= 6 query vectors for `count` slots starting at `keys` (transposed, row stride
/// `stride`): ss_scores512's arithmetic (one FMA chain per score) in 8-lane registers.
static SS_AI SS_TAVX2 void ss_scores256(const int G, const int64_t D, const float *q, const uint16_t *keys,
                                        int64_t stride, int64_t count, float scale, float *row, int64_t rs) {
    const __m256 vs = _mm256_set1_ps(scale);
    int64_t k = 0;
    for (; k + 16 <= count; k += 16) {
        __m256 a0[6], a1[6];
        for (int h = 0; h < G; ++h) a0[h] = a1[h] = _mm256_setzero_ps();
        const uint16_t *kp = keys + k;
        for (int64_t i = 0; i < D; ++i, kp += stride) {
            _mm_prefetch((const char *)(kp + 64), _MM_HINT_T0);
            const __m256 k0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)kp));
            const __m256 k1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(kp + 8)));
            for (int h = 0; h < G; ++h) {
                const __m256 qb = _mm256_broadcast_ss(q + h * D + i);
                a0[h] = _mm256_fmadd_ps(qb, k0, a0[h]);
                a1[h] = _mm256_fmadd_ps(qb, k1, a1[h]);
            }
        }
        for (int h = 0; h < G; ++h) {
            _mm256_storeu_ps(row + h * rs + k, _mm256_mul_ps(a0[h], vs));
            _mm256_storeu_ps(row + h * rs + k + 8, _mm256_mul_ps(a1[h], vs));
        }
    }
    for (; k < count; k += 8) {
        const int64_t left = count - k;
        __m256 a0[6];
        for (int h = 0; h < G; ++h) a0[h] = _mm256_setzero_ps();
        const uint16_t *kp = keys + k;
        for (int64_t i = 0; i < D; ++i, kp += stride) {
            const __m256 k0 = left >= 8 ? _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)kp)) : ss_load_ph_tail(kp, left);
            for (int h = 0; h < G; ++h) a0[h] = _mm256_fmadd_ps(_mm256_broadcast_ss(q + h * D + i), k0, a0[h]);
        }
        for (int h = 0; h < G; ++h) {
            float tmp[8];
            _mm256_storeu_ps(tmp, _mm256_mul_ps(a0[h], vs));
            for (int64_t j = 0; j < left && j < 8; ++j) row[h * rs + k + j] = tmp[j];
        }
    }
}

/// The sum of 16 lanes held as lanes 0-7 (`lo`) and 8-15 (`hi`), in ss_sum16's tree order.
static SS_AI SS_TAVX2 float ss_sum16_256(__m256 lo, __m256 hi) {
    const __m256 s8 = _mm256_add_ps(lo, hi);
    const __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
    const __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
    return _mm_cvtss_f32(_mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 1)));
}

/// Softmax numerators in place; returns the sum of exp (16 lane accumulators, as the AVX-512
/// kernel) and the maximum score in `*max_out`.
static SS_AI SS_TAVX2 float ss_softmax256(float *row, int64_t n, float *max_out) {
    float mx = -INFINITY;
    {
        __m256 vm = _mm256_set1_ps(-INFINITY);
        int64_t k = 0;
        for (; k + 8 <= n; k += 8) vm = _mm256_max_ps(vm, _mm256_loadu_ps(row + k));
        float lanes[8];
        _mm256_storeu_ps(lanes, vm);
        for (int j = 0; j < 8; ++j) mx = lanes[j] > mx ? lanes[j] : mx;
        for (; k < n; ++k) mx = row[k] > mx ? row[k] : mx;
    }
    *max_out = mx;
    const __m256 m = _mm256_set1_ps(mx);
    __m256 lo = _mm256_setzero_ps(), hi = _mm256_setzero_ps();
    int64_t k = 0;
    for (; k + 16 <= n; k += 16) {
        const __m256 e0 = ss_exp256(_mm256_sub_ps(_mm256_loadu_ps(row + k), m));
        const __m256 e1 = ss_exp256(_mm256_sub_ps(_mm256_loadu_ps(row + k + 8), m));
        _mm256_storeu_ps(row + k, e0);
        _mm256_storeu_ps(row + k + 8, e1);
        lo = _mm256_add_ps(lo, e0);
        hi = _mm256_add_ps(hi, e1);
    }
    if (k < n) {
        // The AVX-512 kernel adds zeros in the lanes past n; so does this.
        float tmp[16];
        for (int j = 0; j < 16; ++j) tmp[j] = k + j < n ? row[k + j] : mx;
        __m256 e0 = ss_exp256(_mm256_sub_ps(_mm256_loadu_ps(tmp), m));
        __m256 e1 = ss_exp256(_mm256_sub_ps(_mm256_loadu_ps(tmp + 8), m));
        float out[16];
        _mm256_storeu_ps(out, e0);
        _mm256_storeu_ps(out + 8, e1);
        for (int j = 0; j < 16; ++j) {
            if (k + j < n) row[k + j] = out[j];
            else out[j] = 0;
        }
        lo = _mm256_add_ps(lo, _mm256_loadu_ps(out));
        hi = _mm256_add_ps(hi, _mm256_loadu_ps(out + 8));
    }
    return ss_sum16_256(lo, hi);
}

/// outs[h][i] = inv[h] * sum_k p_hk * value_k[i] over the first cnt[h] visited slots, for G <= 6
/// query vectors, 16 output elements of every vector at a time (2 registers each): each element
/// is one FMA chain over the keys in visit order, whatever the chunking.
static SS_AI SS_TAVX2 void ss_values256(const int G, const int64_t D, const uint16_t *values, const ss_attn_segment *segs,
                                        int64_t nseg, const float *p, int64_t rs, const int64_t *cnt, const float *inv,
                                        float *const *outs) {
    int64_t lo = cnt[0], hi = cnt[0];
    for (int h = 1; h < G; ++h) {
        lo = cnt[h] < lo ? cnt[h] : lo;
        hi = cnt[h] > hi ? cnt[h] : hi;
    }
    for (int64_t c = 0; c < D; c += 16) {
        __m256 o[6][2];
        for (int h = 0; h < G; ++h) o[h][0] = o[h][1] = _mm256_setzero_ps();
        int64_t at = 0;
        for (int64_t s = 0; s < nseg && at < hi; ++s) {
            const uint16_t *v = values + segs[s].slot * D + c;
            for (int64_t k = 0; k < segs[s].count && at < hi; ++k, ++at, v += D) {
                const __m256 v0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)v));
                const __m256 v1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(v + 8)));
                const int every = at < lo;
                for (int h = 0; h < G; ++h) {
                    if (!every && at >= cnt[h]) continue;
                    const __m256 w = _mm256_broadcast_ss(p + h * rs + at);
                    o[h][0] = _mm256_fmadd_ps(w, v0, o[h][0]);
                    o[h][1] = _mm256_fmadd_ps(w, v1, o[h][1]);
                }
            }
        }
        for (int h = 0; h < G; ++h) {
            const __m256 vi = _mm256_set1_ps(inv[h]);
            for (int j = 0; j < 2; ++j) _mm256_storeu_ps(outs[h] + c + 8 * j, _mm256_mul_ps(o[h][j], vi));
        }
    }
}

SS_TAVX2 void ss_attn_scores_avx2(int64_t group, int64_t d, const float *q, const uint16_t *keys, int64_t stride,
                                  int64_t count, float scale, float *row, int64_t rs) {
    // Slices of at most 6 query vectors (12 accumulators and 2 keys in the 16 registers); a
    // score's bits do not depend on its neighbours.
    for (int64_t h = 0; h < group; h += 6) {
        const int64_t slice = group - h < 6 ? group - h : 6;
        const float *qs = q + h * d;
        float *rows = row + h * rs;
#define SS_CALL(G, D) ss_scores256(G, D, qs, keys, stride, count, scale, rows, rs)
        switch (slice) {
        case 1: SS_CALL(1, d); break; case 2: SS_CALL(2, d); break; case 3: SS_CALL(3, d); break;
        case 4: SS_CALL(4, d); break; case 5: SS_CALL(5, d); break; default: SS_CALL(6, d); break;
        }
#undef SS_CALL
    }
}

SS_TAVX2 float ss_attn_softmax_avx2(float *row, int64_t n, float *max_out) { return ss_softmax256(row, n, max_out); }

SS_TAVX2 void ss_attn_values_avx2(int64_t group, int64_t d, const uint16_t *values, const ss_attn_segment *segs,
                                  int64_t nseg, const float *p, int64_t rs, const int64_t *cnt, const float *inv,
                                  float *const *outs) {
    // Slices of at most 6 query vectors, as the scores.
    for (int64_t h = 0; h < group; h += 6) {
        const int64_t slice = group - h < 6 ? group - h : 6;
        const float *ps = p + h * rs;
#define SS_CALL(G) ss_values256(G, d, values, segs, nseg, ps, rs, cnt + h, inv + h, outs + h)
        switch (slice) {
        case 1: SS_CALL(1); break; case 2: SS_CALL(2); break; case 3: SS_CALL(3); break;
        case 4: SS_CALL(4); break; case 5: SS_CALL(5); break; default: SS_CALL(6); break;
        }
#undef SS_CALL
    }
}
#endif
