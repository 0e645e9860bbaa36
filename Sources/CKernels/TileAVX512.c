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

/// Generic-kernel types (ss_fmt, see ss_tile_scalar_x for the arithmetic): 16 rows x up to 8
/// tokens. 4-bit values are unpacked once per block (IQ4 through the value table shifted to
/// unsigned, minus 128 * the activation sums); per-block scales are widened once per block.
static SS_AI SS_T512 void ss_kx512(const int type, const int NT, const uint8_t *restrict w, int64_t nb,
                                   const uint8_t *restrict act, size_t astride, float *restrict tmp) {
    enum { R = 16 };
    const ss_fmt f = ss_fmt_of(type);
    const int SB = f.qk / 32;
    const size_t qb = ss_xqb(f), per = f.split ? 2 : 1;
    const size_t sbb = ss_xsb_bytes(f, R);
    const int off = f.lut ? 128 : f.off;
    const __m512i m4 = _mm512_set1_epi8(0x0f);
    const __m512i lut = _mm512_broadcast_i32x4(_mm_setr_epi8(1, 24, 45, 63, 79, 93, 106, 118, (char)129, (char)141,
                                                             (char)153, (char)166, (char)181, (char)197, (char)217, (char)241));
    __m512 acc[SS_NT_MAX];
    for (int t = 0; t < NT; ++t) acc[t] = _mm512_setzero_ps();
    for (int64_t s = 0; s < nb / SB; ++s, w += sbb) {
        const uint8_t *hd = w + (size_t)SB * qb * R;
        const __m512 dv = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)hd));
        const __m512 mv = f.min ? _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(hd + 2 * R))) : _mm512_setzero_ps();
        const int8_t *hsc = (const int8_t *)(hd + 2 * R + (f.min ? 2 * R : 0));
        const int8_t *hmn = hsc + ((f.sc || f.split) ? (size_t)SB * per * R : 0);
        for (int b = 0; b < SB; ++b) {
            const uint8_t *wq = w + (size_t)b * qb * R;
            if (NT == 1) {
                const size_t bb = sbb / (size_t)SB;
                for (size_t o = 0; o < bb; o += 64) _mm_prefetch((const char *)(wq + SS_PREFETCH_BLOCKS * bb + o), _MM_HINT_T0);
            }
            __m512i wv[8];
            if (f.nib) {
                for (int j = 0; j < 4; ++j) {
                    const __m512i raw = _mm512_loadu_si512((const void *)(wq + 64 * j));
                    wv[j] = _mm512_and_si512(raw, m4);
                    wv[j + 4] = _mm512_and_si512(_mm512_srli_epi16(raw, 4), m4);
                    if (f.lut) {
                        wv[j] = _mm512_shuffle_epi8(lut, wv[j]);
                        wv[j + 4] = _mm512_shuffle_epi8(lut, wv[j + 4]);
                    }
                }
                // High bits (ss_plane_bit / ss_crumb_bit): one shift brings vector j's to bit 4
                // (wv | (shifted & mask) in one vpternlogd).
                if (f.planes) {
                    const __m512i pv0 = _mm512_loadu_si512((const void *)(wq + 16 * R));
                    const __m512i pv1 = f.planes == 2 ? _mm512_loadu_si512((const void *)(wq + 20 * R)) : pv0;
                    const __m512i mask = _mm512_set1_epi8(f.planes == 2 ? 0x30 : 0x10);
                    for (int j = 0; j < 8; ++j) {
                        const __m512i pv = f.planes == 2 && j >= 4 ? pv1 : pv0;
                        const int sh = f.planes == 2 ? 4 - 2 * (j % 4) : 4 - j;
                        const __m512i v = sh >= 0 ? _mm512_slli_epi32(pv, (unsigned)sh) : _mm512_srli_epi32(pv, (unsigned)-sh);
                        wv[j] = _mm512_ternarylogic_epi32(wv[j], v, mask, 0xf8);
                    }
                }
            } else {
                for (int j = 0; j < 8; ++j) wv[j] = _mm512_loadu_si512((const void *)(wq + 64 * j));
            }
            __m512i sclo = _mm512_setzero_si512(), schi = sclo, mlo = sclo, mhi = sclo;
            __m512 dw = dv, mw = mv;
            if (f.split) {
                sclo = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(hsc + (size_t)b * 2 * R)));
                schi = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(hsc + (size_t)b * 2 * R + R)));
                if (f.min == 2) {
                    mlo = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(hmn + (size_t)b * 2 * R)));
                    mhi = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(hmn + (size_t)b * 2 * R + R)));
                }
            } else {
                if (f.sc)
                    dw = _mm512_mul_ps(dv, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(hsc + (size_t)b * R)))));
                if (f.min == 2)
                    mw = _mm512_mul_ps(mv, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(hmn + (size_t)b * R)))));
            }
            for (int t = 0; t < NT; ++t) {
                const ss_act_block *x = (const ss_act_block *)(act + (size_t)t * astride) + s * SB + b;
                const int32_t *q = (const int32_t *)x->qs;
                __m512i lo, hi;
                if (NT == 1) {  // four short chains hide vpdpbusd latency (exact sums)
                    __m512i c[4];
                    for (int c4 = 0; c4 < 4; ++c4) c[c4] = _mm512_setzero_si512();
                    for (int j = 0; j < 8; ++j) {
                        const int k = (j >> 2) * 2 + (j & 1);
                        c[k] = _mm512_dpbusd_epi32(c[k], wv[j], _mm512_set1_epi32(q[j]));
                    }
                    lo = _mm512_add_epi32(c[0], c[1]);
                    hi = _mm512_add_epi32(c[2], c[3]);
                } else {
                    lo = _mm512_setzero_si512();
                    hi = _mm512_setzero_si512();
                    for (int j = 0; j < 4; ++j) {
                        lo = _mm512_dpbusd_epi32(lo, wv[j], _mm512_set1_epi32(q[j]));
                        hi = _mm512_dpbusd_epi32(hi, wv[j + 4], _mm512_set1_epi32(q[j + 4]));
                    }
                }
                const float da = x->d;
                if (f.split) {
                    const int32_t alo = x->sum16, ahi = x->sum - x->sum16;
                    if (off) {
                        lo = _mm512_sub_epi32(lo, _mm512_set1_epi32(off * alo));
                        hi = _mm512_sub_epi32(hi, _mm512_set1_epi32(off * ahi));
                    }
                    const __m512i is = _mm512_add_epi32(_mm512_mullo_epi32(sclo, lo), _mm512_mullo_epi32(schi, hi));
                    acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(is), _mm512_mul_ps(dv, _mm512_set1_ps(da)), acc[t]);
                    if (f.min == 2) {
                        const __m512i ms = _mm512_add_epi32(_mm512_mullo_epi32(mlo, _mm512_set1_epi32(alo)),
                                                            _mm512_mullo_epi32(mhi, _mm512_set1_epi32(ahi)));
                        acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(ms), _mm512_mul_ps(mv, _mm512_set1_ps(da)), acc[t]);
                    }
                } else {
                    __m512i is = _mm512_add_epi32(lo, hi);
                    if (off) is = _mm512_sub_epi32(is, _mm512_set1_epi32(off * x->sum));
                    acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(is), _mm512_mul_ps(dw, _mm512_set1_ps(da)), acc[t]);
                    if (f.min) acc[t] = _mm512_fmadd_ps(mw, _mm512_set1_ps(x->s), acc[t]);
                }
            }
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
#define ss_k512 ss_kx512
SS_TILE512(ss_tile512_q5_0, SS_TYPE_Q5_0)
SS_TILE512(ss_tile512_q5_1, SS_TYPE_Q5_1)
SS_TILE512(ss_tile512_q2_k, SS_TYPE_Q2_K)
SS_TILE512(ss_tile512_q3_k, SS_TYPE_Q3_K)
SS_TILE512(ss_tile512_q4_k, SS_TYPE_Q4_K)
SS_TILE512(ss_tile512_q5_k, SS_TYPE_Q5_K)
SS_TILE512(ss_tile512_q6_k, SS_TYPE_Q6_K)
SS_TILE512(ss_tile512_iq4_nl, SS_TYPE_IQ4_NL)
SS_TILE512(ss_tile512_iq4_xs, SS_TYPE_IQ4_XS)
#undef ss_k512

ss_tile_fn ss_tile_avx512(int type) {
    switch (type) {
    case SS_TYPE_Q4_0: return ss_tile512_q4_0;
    case SS_TYPE_Q4_1: return ss_tile512_q4_1;
    case SS_TYPE_Q8_0: return ss_tile512_q8_0;
    case SS_TYPE_Q5_0: return ss_tile512_q5_0;
    case SS_TYPE_Q5_1: return ss_tile512_q5_1;
    case SS_TYPE_Q2_K: return ss_tile512_q2_k;
    case SS_TYPE_Q3_K: return ss_tile512_q3_k;
    case SS_TYPE_Q4_K: return ss_tile512_q4_k;
    case SS_TYPE_Q5_K: return ss_tile512_q5_k;
    case SS_TYPE_Q6_K: return ss_tile512_q6_k;
    case SS_TYPE_IQ4_NL: return ss_tile512_iq4_nl;
    case SS_TYPE_IQ4_XS: return ss_tile512_iq4_xs;
    default: return NULL;
    }
}
#else
ss_tile_fn ss_tile_avx512(int type) { (void)type; return NULL; }
#endif
