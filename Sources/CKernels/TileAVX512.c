// AVX-512 VNNI tile kernel: 16 interleaved rows x up to 8 tokens. Each vpdpbusd produces the
// partial dots of 16 rows in one zmm (no horizontal sums); nibbles are unpacked once per block
// and reused by every token of the tile.
#include "internal.h"

#if SS_X86
#pragma STDC FP_CONTRACT OFF

#ifndef SS_PREFETCH_BLOCKS
#define SS_PREFETCH_BLOCKS 16
#endif

static SS_AI SS_T512 void ss_k512(const int type, const int NT, const uint8_t *restrict w, int64_t nb,
                                  const uint8_t *restrict act, size_t astride, float *restrict tmp) {
    enum { R = 16 };
    const size_t qb = type == SS_TYPE_Q8_0 ? 32 : 16;
    const size_t tbb = ss_tile_block_bytes(type, R);
    const __m512i m4 = _mm512_set1_epi8(0x0f);
    __m512 acc[SS_NT_MAX];
    for (int t = 0; t < NT; ++t) acc[t] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; ++b, w += tbb) {
        // Decode streams the weights from L3/DRAM once per token: ask for them a few blocks
        // ahead (bandwidth per core is bound by outstanding misses).
        if (NT == 1) {
            for (size_t off = 0; off < tbb; off += 64) _mm_prefetch((const char *)(w + SS_PREFETCH_BLOCKS * tbb + off), _MM_HINT_T0);
        }
        __m512i wv[8];
        if (type == SS_TYPE_Q8_0) {
            for (int j = 0; j < 8; ++j) wv[j] = _mm512_loadu_si512((const void *)(w + 64 * j));
        } else {
            for (int j = 0; j < 4; ++j) {
                const __m512i raw = _mm512_loadu_si512((const void *)(w + 64 * j));
                wv[j] = _mm512_and_si512(raw, m4);
                wv[j + 4] = _mm512_and_si512(_mm512_srli_epi16(raw, 4), m4);
            }
        }
        const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(w + R * qb)));
        __m512 mw = _mm512_setzero_ps();
        if (type == SS_TYPE_Q4_1) mw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(w + R * qb + 2 * R)));
        for (int t = 0; t < NT; ++t) {
            const ss_act_block *x = (const ss_act_block *)(act + (size_t)t * astride) + b;
            const int32_t *q = (const int32_t *)x->qs;
            // Independent integer chains hide vpdpbusd latency for small tiles (exact sums,
            // so the split does not change any result).
            const int C = NT >= 4 ? 1 : (NT >= 2 ? 2 : 4);
            __m512i ch[4];
            for (int c = 0; c < C; ++c) ch[c] = _mm512_setzero_si512();
            for (int j = 0; j < 8; ++j) ch[j % C] = _mm512_dpbusd_epi32(ch[j % C], wv[j], _mm512_set1_epi32(q[j]));
            for (int c = 1; c < C; ++c) ch[0] = _mm512_add_epi32(ch[0], ch[c]);
            __m512i is = ch[0];
            if (type == SS_TYPE_Q4_0) is = _mm512_sub_epi32(is, _mm512_set1_epi32(x->sum * 8));
            if (type == SS_TYPE_Q8_0) is = _mm512_sub_epi32(is, _mm512_set1_epi32(x->sum * 128));
            acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(is), _mm512_mul_ps(dw, _mm512_set1_ps(x->d)), acc[t]);
            if (type == SS_TYPE_Q4_1) acc[t] = _mm512_fmadd_ps(mw, _mm512_set1_ps(x->s), acc[t]);
        }
    }
    for (int t = 0; t < NT; ++t) _mm512_storeu_ps(tmp + t * R, acc[t]);
}

#define SS_TILE512(NAME, TYPE)                                                                   \
    static SS_T512 void NAME(int nt, const uint8_t *w, int64_t nb, const uint8_t *a, size_t s, float *o) { \
        switch (nt) {                                                                            \
        case 1: ss_k512(TYPE, 1, w, nb, a, s, o); break;                                         \
        case 2: ss_k512(TYPE, 2, w, nb, a, s, o); break;                                         \
        case 3: ss_k512(TYPE, 3, w, nb, a, s, o); break;                                         \
        case 4: ss_k512(TYPE, 4, w, nb, a, s, o); break;                                         \
        case 5: ss_k512(TYPE, 5, w, nb, a, s, o); break;                                         \
        case 6: ss_k512(TYPE, 6, w, nb, a, s, o); break;                                         \
        case 7: ss_k512(TYPE, 7, w, nb, a, s, o); break;                                         \
        default: ss_k512(TYPE, 8, w, nb, a, s, o); break;                                        \
        }                                                                                        \
    }

SS_TILE512(ss_tile512_q4_0, SS_TYPE_Q4_0)
SS_TILE512(ss_tile512_q4_1, SS_TYPE_Q4_1)
SS_TILE512(ss_tile512_q8_0, SS_TYPE_Q8_0)

ss_tile_fn ss_tile_avx512(int type) {
    switch (type) {
    case SS_TYPE_Q4_0: return ss_tile512_q4_0;
    case SS_TYPE_Q4_1: return ss_tile512_q4_1;
    case SS_TYPE_Q8_0: return ss_tile512_q8_0;
    default: return NULL;
    }
}
#else
ss_tile_fn ss_tile_avx512(int type) { (void)type; return NULL; }
#endif
