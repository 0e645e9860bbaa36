// Scalar tile kernel (R = 1, ggml quant order): the portable reference path.
#include "internal.h"
#include <math.h>

#pragma STDC FP_CONTRACT OFF

static void ss_tile_scalar_impl(int type, int nt, const uint8_t *w, int64_t nb, const uint8_t *act,
                                size_t astride, float *tmp) {
    const size_t qb = type == SS_TYPE_Q8_0 ? 32 : 16;
    const size_t tbb = ss_tile_block_bytes(type, 1);
    for (int t = 0; t < nt; ++t) {
        const ss_act_block *x = (const ss_act_block *)(act + (size_t)t * astride);
        const uint8_t *p = w;
        float acc = 0.0f;
        for (int64_t b = 0; b < nb; ++b, p += tbb, ++x) {
            const float dw = ss_f16_to_f32(ss_load_u16(p + qb));
            int32_t isum = 0;
            if (type == SS_TYPE_Q8_0) {
                for (int j = 0; j < 32; ++j) isum += (int32_t)(int8_t)p[j] * x->qs[j];
            } else {
                for (int j = 0; j < 16; ++j)
                    isum += (int32_t)(p[j] & 0x0f) * x->qs[j] + (int32_t)(p[j] >> 4) * x->qs[j + 16];
                if (type == SS_TYPE_Q4_0) isum -= 8 * x->sum;
            }
            acc = fmaf((float)isum, dw * x->d, acc);
            if (type == SS_TYPE_Q4_1) acc = fmaf(ss_f16_to_f32(ss_load_u16(p + qb + 2)), x->s, acc);
        }
        tmp[t] = acc;
    }
}

static void ss_tile_scalar_q4_0(int nt, const uint8_t *w, int64_t nb, const uint8_t *a, size_t s, float *o) {
    ss_tile_scalar_impl(SS_TYPE_Q4_0, nt, w, nb, a, s, o);
}
static void ss_tile_scalar_q4_1(int nt, const uint8_t *w, int64_t nb, const uint8_t *a, size_t s, float *o) {
    ss_tile_scalar_impl(SS_TYPE_Q4_1, nt, w, nb, a, s, o);
}
static void ss_tile_scalar_q8_0(int nt, const uint8_t *w, int64_t nb, const uint8_t *a, size_t s, float *o) {
    ss_tile_scalar_impl(SS_TYPE_Q8_0, nt, w, nb, a, s, o);
}

/// The generic-kernel types (ss_fmt): the reference every vector path reproduces bit for bit.
/// Per 32-block, with dot_lo / dot_hi the exact integer dots of the first / last 16 weights q
/// with the activation quants, d the f16 scale and mneg the stored (negated for K types) min:
///   split types: acc = fma((float)(sc_lo*dot_lo + sc_hi*dot_hi), d*d_a, acc)
///                then (mins) acc = fma((float)(mn_lo*sum16 + mn_hi*(sum-sum16)), mneg*d_a, acc)
///   others:      acc = fma((float)(dot_lo + dot_hi), dw*d_a, acc), dw = d*(float)sc (or d)
///                then acc = fma(mw, s_a, acc), mw = mneg*(float)mn (K types) or m (Q5_1).
static SS_AI void ss_tile_scalar_x(const int type, int nt, const uint8_t *w, int64_t nb, const uint8_t *act,
                                   size_t astride, float *tmp) {
    const ss_fmt f = ss_fmt_of(type);
    const int SB = f.qk / 32;
    const size_t qb = ss_xqb(f), per = f.split ? 2 : 1;
    const size_t sbb = ss_xsb_bytes(f, 1);
    for (int t = 0; t < nt; ++t) {
        const ss_act_block *x = (const ss_act_block *)(act + (size_t)t * astride);
        const uint8_t *p = w;
        float acc = 0.0f;
        for (int64_t s = 0; s < nb / SB; ++s, p += sbb) {
            const uint8_t *hd = p + (size_t)SB * qb;
            const float d = ss_f16_to_f32(ss_load_u16(hd));
            const float mneg = f.min ? ss_f16_to_f32(ss_load_u16(hd + 2)) : 0.0f;
            const int8_t *sc = (const int8_t *)(hd + 2 + (f.min ? 2 : 0));
            const int8_t *mn = sc + ((f.sc || f.split) ? (size_t)SB * per : 0);
            for (int b = 0; b < SB; ++b) {
                const ss_act_block *xb = x + s * SB + b;
                const uint8_t *pq = p + (size_t)b * qb;
                int32_t lo = 0, hi = 0;
                for (int k = 0; k < 32; ++k) {
                    int u = f.nib ? (k < 16 ? pq[k] & 0x0f : pq[k - 16] >> 4) : pq[k];
                    if (f.planes) {
                        uint32_t plane;
                        memcpy(&plane, pq + 16 + 4 * (f.planes == 2 ? k / 16 : 0), 4);
                        if (f.planes == 1) u |= (int)((plane >> ss_plane_bit(k)) & 1) << 4;
                        else u |= (int)((plane >> ss_crumb_bit(k)) & 3) << 4;
                    }
                    const int q = f.lut ? ss_iq4_values[u] : u - f.off;
                    if (k < 16) lo += q * xb->qs[k];
                    else hi += q * xb->qs[k];
                }
                if (f.split) {
                    const int32_t is = sc[2 * b] * lo + sc[2 * b + 1] * hi;
                    acc = fmaf((float)is, d * xb->d, acc);
                    if (f.min == 2) {
                        const int32_t ms = mn[2 * b] * xb->sum16 + mn[2 * b + 1] * (xb->sum - xb->sum16);
                        acc = fmaf((float)ms, mneg * xb->d, acc);
                    }
                } else {
                    const float dw = f.sc ? d * (float)sc[b] : d;
                    acc = fmaf((float)(lo + hi), dw * xb->d, acc);
                    if (f.min == 2) acc = fmaf(mneg * (float)mn[b], xb->s, acc);
                    if (f.min == 1) acc = fmaf(mneg, xb->s, acc);
                }
            }
        }
        tmp[t] = acc;
    }
}

#define SS_TILE_SCALAR_X(NAME, TYPE)                                                             \
    static void NAME(int nt, const uint8_t *w, int64_t nb, const uint8_t *a, size_t s, float *o) { \
        ss_tile_scalar_x(TYPE, nt, w, nb, a, s, o);                                              \
    }
SS_TILE_SCALAR_X(ss_tile_scalar_q5_0, SS_TYPE_Q5_0)
SS_TILE_SCALAR_X(ss_tile_scalar_q5_1, SS_TYPE_Q5_1)
SS_TILE_SCALAR_X(ss_tile_scalar_q2_k, SS_TYPE_Q2_K)
SS_TILE_SCALAR_X(ss_tile_scalar_q3_k, SS_TYPE_Q3_K)
SS_TILE_SCALAR_X(ss_tile_scalar_q4_k, SS_TYPE_Q4_K)
SS_TILE_SCALAR_X(ss_tile_scalar_q5_k, SS_TYPE_Q5_K)
SS_TILE_SCALAR_X(ss_tile_scalar_q6_k, SS_TYPE_Q6_K)
SS_TILE_SCALAR_X(ss_tile_scalar_iq4_nl, SS_TYPE_IQ4_NL)
SS_TILE_SCALAR_X(ss_tile_scalar_iq4_xs, SS_TYPE_IQ4_XS)

ss_tile_fn ss_tile_scalar(int type) {
    switch (type) {
    case SS_TYPE_Q4_0: return ss_tile_scalar_q4_0;
    case SS_TYPE_Q4_1: return ss_tile_scalar_q4_1;
    case SS_TYPE_Q8_0: return ss_tile_scalar_q8_0;
    case SS_TYPE_Q5_0: return ss_tile_scalar_q5_0;
    case SS_TYPE_Q5_1: return ss_tile_scalar_q5_1;
    case SS_TYPE_Q2_K: return ss_tile_scalar_q2_k;
    case SS_TYPE_Q3_K: return ss_tile_scalar_q3_k;
    case SS_TYPE_Q4_K: return ss_tile_scalar_q4_k;
    case SS_TYPE_Q5_K: return ss_tile_scalar_q5_k;
    case SS_TYPE_Q6_K: return ss_tile_scalar_q6_k;
    case SS_TYPE_IQ4_NL: return ss_tile_scalar_iq4_nl;
    case SS_TYPE_IQ4_XS: return ss_tile_scalar_iq4_xs;
    default: return NULL;
    }
}
