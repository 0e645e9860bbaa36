// Half-precision KV conversions and the attention entry point (dispatch + scalar path).
#include "internal.h"
#include <math.h>

#pragma STDC FP_CONTRACT OFF

/// IEEE half from float, round to nearest even (the same result as vcvtps2ph imm 0).
static uint16_t ss_f32_to_f16_scalar(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    const uint32_t sign = (x >> 16) & 0x8000u;
    const uint32_t ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) return (uint16_t)(sign | 0x7c00u | (ax > 0x7f800000u ? 0x200u : 0));  // inf / nan
    if (ax >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u);  // rounds to overflow
    if (ax < 0x38800000u) {  // subnormal half or zero
        if (ax < 0x33000000u) return (uint16_t)sign;
        const uint32_t e = ax >> 23, m = (ax & 0x7fffffu) | 0x800000u;
        const uint32_t shift = 126 - e;  // 14 + (113 - e)
        uint32_t h = m >> shift;
        const uint32_t rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (h & 1))) h++;
        return (uint16_t)(sign | h);
    }
    uint32_t h = ((ax >> 13) - (112u << 10));
    const uint32_t rem = ax & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1))) h++;
    return (uint16_t)(sign | h);
}

#if SS_X86
static SS_TAVX2 void ss_f32_to_f16_f16c(const float *src, int64_t n, uint16_t *dst, int64_t stride) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT);
        uint16_t tmp[8];
        _mm_storeu_si128((__m128i *)tmp, h);
        if (stride == 1) memcpy(dst + i, tmp, 16);
        else for (int j = 0; j < 8; ++j) dst[(i + j) * stride] = tmp[j];
    }
    for (; i < n; ++i) dst[i * stride] = ss_f32_to_f16_scalar(src[i]);
}
#endif

void ss_f32_to_f16_row(const float *src, int64_t n, uint16_t *dst, int64_t dst_stride) {
#if SS_X86
    if (ss_isa() != SS_ISA_SCALAR) { ss_f32_to_f16_f16c(src, n, dst, dst_stride); return; }
#endif
    for (int64_t i = 0; i < n; ++i) dst[i * dst_stride] = ss_f32_to_f16_scalar(src[i]);
}

void ss_f16_to_f32_row(const uint16_t *src, int64_t src_stride, int64_t n, float *dst) {
    for (int64_t i = 0; i < n; ++i) dst[i] = ss_f16_to_f32(src[i * src_stride]);
}

/// Softmax numerators in place in portable C: the maximum, then expf of each score less it,
/// summed in sequence; returns the sum and the maximum in `*max_out`.
static float ss_softmax_scalar(float *row, int64_t n, float *max_out) {
    float m = -INFINITY;
    for (int64_t k = 0; k < n; ++k) m = row[k] > m ? row[k] : m;
    float sum = 0;
    for (int64_t k = 0; k < n; ++k) { row[k] = expf(row[k] - m); sum += row[k]; }
    *max_out = m;
    return sum;
}

/// Portable path: the same definition, one head and one slot at a time.
static void ss_attend_f16_scalar(const float *q_recent, const float *q_sink, int64_t group, int64_t d,
                                 const uint16_t *keys, const uint16_t *values, int64_t stride,
                                 const ss_attn_segment *segs, int64_t nseg, float scale,
                                 float *scratch, float *out, float *stats) {
    int64_t n = 0;
    for (int64_t s = 0; s < nseg; ++s) n += segs[s].count;
    for (int64_t h = 0; h < group; ++h) {
        float *row = scratch + h * (n + 16);
        int64_t at = 0;
        for (int64_t s = 0; s < nseg; ++s) {
            const float *q = (segs[s].sink ? q_sink : q_recent) + h * d;
            for (int64_t k = 0; k < segs[s].count; ++k) {
                const uint16_t *kp = keys + segs[s].slot + k;
                float acc = 0;
                for (int64_t i = 0; i < d; ++i) acc = fmaf(q[i], ss_f16_to_f32(kp[i * stride]), acc);
                row[at++] = acc * scale;
            }
        }
        float m;
        const float sum = ss_softmax_scalar(row, n, &m);
        const float inv = stats ? 1.0f : 1.0f / sum;
        if (stats) {
            stats[2 * h] = m;
            stats[2 * h + 1] = sum;
        }
        float *o = out + h * d;
        for (int64_t i = 0; i < d; ++i) o[i] = 0;
        at = 0;
        for (int64_t s = 0; s < nseg; ++s) {
            for (int64_t k = 0; k < segs[s].count; ++k) {
                const uint16_t *v = values + (segs[s].slot + k) * d;
                const float p = stats ? row[at++] : row[at++] * inv;
                for (int64_t i = 0; i < d; ++i) o[i] = fmaf(p, ss_f16_to_f32(v[i]), o[i]);
            }
        }
    }
}

#if SS_X86
/// One instruction set's vector steps of attention.
typedef struct ss_attn_steps {
    void (*scores)(int64_t, int64_t, const float *, const uint16_t *, int64_t, int64_t, float, float *, int64_t);
    float (*softmax)(float *, int64_t, float *);
    void (*values)(int64_t, int64_t, const uint16_t *, const ss_attn_segment *, int64_t, const float *, int64_t,
                   const int64_t *, const float *, float *const *);
} ss_attn_steps;

static const ss_attn_steps ss_attn_avx512 = {ss_attn_scores_avx512, ss_attn_softmax_avx512, ss_attn_values_avx512};
static const ss_attn_steps ss_attn_avx2 = {ss_attn_scores_avx2, ss_attn_softmax_avx2, ss_attn_values_avx2};

/// `segs` cut to its first `count` visiting positions; returns the number of segments kept.
static int64_t ss_attn_prefix(const ss_attn_segment *segs, int64_t nseg, int64_t count, ss_attn_segment *out) {
    int64_t kept = 0;
    for (int64_t s = 0; s < nseg && count > 0; ++s) {
        if (segs[s].count <= 0) continue;
        out[kept] = segs[s];
        if (out[kept].count > count) out[kept].count = count;
        count -= out[kept].count;
        ++kept;
    }
    return kept;
}

/// The definition ss_attend_f16_tile documents for `g` <= 4 heads of each token, in one ISA's
/// vector steps: the keys are scored once for all the tokens' heads together (each score its own
/// FMA chain, so the same bits as alone), then each token's softmax and values over its prefix.
static void ss_attend_vector(const ss_attn_steps *k, int64_t tokens, const float *const *q_recent,
                             const float *const *q_sink, int64_t h0, int64_t g, int64_t d, const uint16_t *keys,
                             const uint16_t *values, int64_t stride, const ss_attn_segment *segs, int64_t nseg,
                             const int64_t *counts, int64_t n, float scale, float *scratch, float *const *out,
                             float *const *stats) {
    const int64_t rs = n + 16, nq = tokens * g;
    // One token's heads are adjacent already; several tokens' are gathered (both rotations).
    float gathered[2 * SS_ATTN_TILE_TOKENS * 4 * 256];
    const float *qr = q_recent[0] + h0 * d, *qs = q_sink[0] + h0 * d;
    if (tokens > 1) {
        float *r = gathered, *si = gathered + nq * d;
        for (int64_t t = 0; t < tokens; ++t) {
            memcpy(r + t * g * d, q_recent[t] + h0 * d, (size_t)(g * d) * sizeof(float));
            memcpy(si + t * g * d, q_sink[t] + h0 * d, (size_t)(g * d) * sizeof(float));
        }
        qr = r;
        qs = si;
    }
    int64_t at = 0;
    for (int64_t s = 0; s < nseg && at < n; ++s) {
        if (segs[s].count <= 0) continue;
        const int64_t count = segs[s].count < n - at ? segs[s].count : n - at;
        k->scores(nq, d, segs[s].sink ? qs : qr, keys + segs[s].slot, stride, count, scale, scratch + at, rs);
        at += count;
    }
    // Softmax per query vector; a partial for ss_attn_merge keeps the unnormalised sums (inv = 1,
    // an exact multiply).
    float inv[SS_ATTN_TILE_TOKENS * 4];
    int64_t cnt[SS_ATTN_TILE_TOKENS * 4];
    float *outs[SS_ATTN_TILE_TOKENS * 4];
    for (int64_t t = 0; t < tokens; ++t) {
        float *st = stats[t] ? stats[t] + 2 * h0 : NULL;
        for (int64_t h = 0; h < g; ++h) {
            const int64_t j = t * g + h;
            cnt[j] = counts[t];
            outs[j] = out[t] + (h0 + h) * d;
            inv[j] = 1.0f;
            if (counts[t] <= 0) continue;
            float mx;
            const float sum = k->softmax(scratch + j * rs, counts[t], &mx);
            if (st) {
                st[2 * h] = mx;
                st[2 * h + 1] = sum;
            } else {
                inv[j] = 1.0f / sum;
            }
        }
    }
    // The values of every run of tokens that see keys, all their vectors at once.
    for (int64_t t = 0; t < tokens;) {
        if (counts[t] <= 0) { ++t; continue; }
        int64_t e = t;
        while (e < tokens && counts[e] > 0) ++e;
        k->values((e - t) * g, d, values, segs, nseg, scratch + t * g * rs, rs, cnt + t * g, inv + t * g, outs + t * g);
        t = e;
    }
}
#endif

void ss_attend_f16_tile(int isa, int64_t tokens, const float *const *q_recent, const float *const *q_sink,
                        int64_t group, int64_t d, const uint16_t *keys, const uint16_t *values, int64_t stride,
                        const ss_attn_segment *segs, int64_t nseg, const int64_t *counts, float scale,
                        float *scratch, float *const *out, float *const *stats) {
    int64_t n = 0;
    for (int64_t t = 0; t < tokens; ++t) n = counts[t] > n ? counts[t] : n;
    if (n <= 0) return;
#if SS_X86
    // The vector steps take up to 4 heads of each token at a time; a head's bits do not depend
    // on the heads beside it, so a larger group (Qwen2's 7) runs in slices of 4.
    if (isa != SS_ISA_SCALAR && ss_isa_supported(isa) && d % 16 == 0 && d > 0 && d <= 256 && nseg <= 8 &&
        tokens >= 1 && tokens <= SS_ATTN_TILE_TOKENS) {
        const ss_attn_steps *k = isa == SS_ISA_AVX512VNNI ? &ss_attn_avx512 : &ss_attn_avx2;
        for (int64_t h = 0; h < group; h += 4) {
            const int64_t g = group - h < 4 ? group - h : 4;
            ss_attend_vector(k, tokens, q_recent, q_sink, h, g, d, keys, values, stride, segs, nseg, counts, n, scale,
                             scratch, out, stats);
        }
        return;
    }
#endif
    for (int64_t t = 0; t < tokens; ++t) {
        if (counts[t] <= 0) continue;
        ss_attn_segment mine[8];
        const int64_t kept = ss_attn_prefix(segs, nseg < 8 ? nseg : 8, counts[t], mine);
        ss_attend_f16_scalar(q_recent[t], q_sink[t], group, d, keys, values, stride, mine, kept, scale, scratch,
                             out[t], stats[t]);
    }
}

void ss_attend_f16(int isa, const float *q_recent, const float *q_sink, int64_t group, int64_t d,
                   const uint16_t *keys, const uint16_t *values, int64_t stride,
                   const ss_attn_segment *segs, int64_t nseg, float scale,
                   float *scratch, float *out, float *stats) {
    int64_t n = 0;
    for (int64_t s = 0; s < nseg; ++s) n += segs[s].count > 0 ? segs[s].count : 0;
    ss_attend_f16_tile(isa, 1, &q_recent, &q_sink, group, d, keys, values, stride, segs, nseg, &n, scale, scratch,
                       &out, &stats);
}

float ss_softmax_f32(int isa, float *row, int64_t n, float *max_out) {
#if SS_X86
    if (isa != SS_ISA_SCALAR && ss_isa_supported(isa)) {
        return (isa == SS_ISA_AVX512VNNI ? &ss_attn_avx512 : &ss_attn_avx2)->softmax(row, n, max_out);
    }
#endif
    return ss_softmax_scalar(row, n, max_out);
}

void ss_attn_merge(int64_t group, int64_t d, int64_t parts, const float *partial, float *out) {
    // Separate multiplies and adds (no contraction: the pragma at the top of this file): the
    // same bits on every instruction set, and a loop the compiler vectorises without calling
    // fmaf (which, without -mfma, is a library call per element).
    const int64_t ps = group * (d + 2);
    for (int64_t h = 0; h < group; ++h) {
        float m = -INFINITY;
        for (int64_t p = 0; p < parts; ++p) {
            const float mp = partial[p * ps + group * d + 2 * h];
            m = mp > m ? mp : m;
        }
        float *restrict o = out + h * d;
        for (int64_t i = 0; i < d; ++i) o[i] = 0;
        float sum = 0;
        for (int64_t p = 0; p < parts; ++p) {
            const float *restrict part = partial + p * ps;
            const float w = expf(part[group * d + 2 * h] - m);
            sum += w * part[group * d + 2 * h + 1];
            for (int64_t i = 0; i < d; ++i) o[i] += w * part[h * d + i];
        }
        const float inv = 1.0f / sum;
        for (int64_t i = 0; i < d; ++i) o[i] *= inv;
    }
}
