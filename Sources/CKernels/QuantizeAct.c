// Activation quantization to 32-element int8 blocks (ss_act_block), per ISA with equal bits.
#include "internal.h"
#include <math.h>

#pragma STDC FP_CONTRACT OFF

size_t ss_act_row_bytes(int64_t n) { return n > 0 ? (size_t)(n / SS_QK) * sizeof(ss_act_block) : 0; }

/// The block scale and its inverse: d = amax/127, id = d != 0 ? 1/d : 0 (shared by all paths).
static inline void ss_act_scale(float amax, float *d, float *id) {
    *d = amax / 127.0f;
    *id = *d != 0.0f ? 1.0f / *d : 0.0f;
}

void ss_quantize_act_scalar(const float *x, int64_t n, ss_act_block *dst) {
    for (int64_t b = 0; b < n / SS_QK; ++b, x += SS_QK, ++dst) {
        float amax = 0.0f;
        for (int j = 0; j < SS_QK; ++j) amax = fmaxf(amax, fabsf(x[j]));
        float d, id;
        ss_act_scale(amax, &d, &id);
        int32_t sum = 0, sum16 = 0;
        for (int j = 0; j < SS_QK; ++j) {
            long v = lrintf(x[j] * id);  // default rounding: half to even, like cvtps2dq
            v = v > 127 ? 127 : (v < -127 ? -127 : v);
            dst->qs[j] = (int8_t)v;
            sum += dst->qs[j];
            if (j == 15) sum16 = sum;
        }
        dst->d = d;
        dst->sum = sum;
        dst->s = d * (float)sum;
        dst->sum16 = sum16;
    }
}

#if SS_X86
SS_TAVX2 void ss_quantize_act_avx2(const float *x, int64_t n, ss_act_block *dst) {
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    const __m256i lim = _mm256_set1_epi32(127), nlim = _mm256_set1_epi32(-127);
    for (int64_t b = 0; b < n / SS_QK; ++b, x += SS_QK, ++dst) {
        __m256 v[4], m = _mm256_setzero_ps();
        for (int i = 0; i < 4; ++i) {
            v[i] = _mm256_loadu_ps(x + 8 * i);
            m = _mm256_max_ps(m, _mm256_and_ps(v[i], absmask));
        }
        __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
        h = _mm_max_ps(h, _mm_movehl_ps(h, h));
        h = _mm_max_ss(h, _mm_movehdup_ps(h));
        float d, id;
        ss_act_scale(_mm_cvtss_f32(h), &d, &id);
        const __m256 vid = _mm256_set1_ps(id);
        __m256i q[4], s = _mm256_setzero_si256();
        for (int i = 0; i < 4; ++i) {
            q[i] = _mm256_cvtps_epi32(_mm256_mul_ps(v[i], vid));
            q[i] = _mm256_max_epi32(_mm256_min_epi32(q[i], lim), nlim);
            s = _mm256_add_epi32(s, q[i]);
        }
        const __m256i p01 = _mm256_packs_epi32(q[0], q[1]), p23 = _mm256_packs_epi32(q[2], q[3]);
        __m256i p = _mm256_packs_epi16(p01, p23);
        p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256((__m256i *)dst->qs, p);
        __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
        s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4e));
        s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xb1));
        const int32_t sum = _mm_cvtsi128_si32(s4);
        const __m256i s01 = _mm256_add_epi32(q[0], q[1]);
        __m128i h4 = _mm_add_epi32(_mm256_castsi256_si128(s01), _mm256_extracti128_si256(s01, 1));
        h4 = _mm_add_epi32(h4, _mm_shuffle_epi32(h4, 0x4e));
        h4 = _mm_add_epi32(h4, _mm_shuffle_epi32(h4, 0xb1));
        dst->d = d;
        dst->sum = sum;
        dst->s = d * (float)sum;
        dst->sum16 = _mm_cvtsi128_si32(h4);
    }
}

SS_T512 void ss_quantize_act_avx512(const float *x, int64_t n, ss_act_block *dst) {
    const __m512i lim = _mm512_set1_epi32(127), nlim = _mm512_set1_epi32(-127);
    for (int64_t b = 0; b < n / SS_QK; ++b, x += SS_QK, ++dst) {
        const __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
        const __m512 m = _mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1));
        float d, id;
        ss_act_scale(_mm512_reduce_max_ps(m), &d, &id);
        const __m512 vid = _mm512_set1_ps(id);
        __m512i q0 = _mm512_cvtps_epi32(_mm512_mul_ps(v0, vid));
        __m512i q1 = _mm512_cvtps_epi32(_mm512_mul_ps(v1, vid));
        q0 = _mm512_max_epi32(_mm512_min_epi32(q0, lim), nlim);
        q1 = _mm512_max_epi32(_mm512_min_epi32(q1, lim), nlim);
        _mm_storeu_si128((__m128i *)dst->qs, _mm512_cvtepi32_epi8(q0));
        _mm_storeu_si128((__m128i *)(dst->qs + 16), _mm512_cvtepi32_epi8(q1));
        const int32_t sum = _mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1));
        dst->d = d;
        dst->sum = sum;
        dst->s = d * (float)sum;
        dst->sum16 = _mm512_reduce_add_epi32(q0);
    }
}
#endif

void ss_quantize_act(const float *x, int64_t n, void *dst) {
    ss_act_block *out = (ss_act_block *)dst;
    switch (ss_isa()) {
#if SS_X86
    case SS_ISA_AVX512VNNI: ss_quantize_act_avx512(x, n, out); return;
    case SS_ISA_AVXVNNI: case SS_ISA_AVX2: ss_quantize_act_avx2(x, n, out); return;
#endif
    default: ss_quantize_act_scalar(x, n, out); return;
    }
}
