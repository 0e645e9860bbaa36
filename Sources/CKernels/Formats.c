// ggml block formats: row sizes and dequantization.
#include "internal.h"

#pragma STDC FP_CONTRACT OFF

size_t ss_row_bytes(int type, int64_t n) {
    if (n < 0) return 0;
    switch (type) {
    case SS_TYPE_F32: return (size_t)n * 4;
    case SS_TYPE_F16: case SS_TYPE_BF16: return (size_t)n * 2;
    case SS_TYPE_Q4_0: return n % SS_QK ? 0 : (size_t)(n / SS_QK) * 18;
    case SS_TYPE_Q4_1: return n % SS_QK ? 0 : (size_t)(n / SS_QK) * 20;
    case SS_TYPE_Q8_0: return n % SS_QK ? 0 : (size_t)(n / SS_QK) * 34;
    default: {
        const ss_fmt f = ss_fmt_of(type);
        if (f.qk == 0 || n % f.qk) return 0;
        return (size_t)(n / f.qk) * (size_t)f.gbytes;
    }
    }
}

void ss_dequantize_row(int type, const void *src, int64_t n, float *dst) {
    const uint8_t *p = (const uint8_t *)src;
    switch (type) {
    case SS_TYPE_F32:
        memcpy(dst, src, (size_t)n * 4);
        return;
    case SS_TYPE_F16:
        for (int64_t i = 0; i < n; ++i) dst[i] = ss_f16_to_f32(ss_load_u16(p + 2 * i));
        return;
    case SS_TYPE_BF16:
        for (int64_t i = 0; i < n; ++i) dst[i] = ss_bf16_to_f32(ss_load_u16(p + 2 * i));
        return;
    case SS_TYPE_Q4_0:
        for (int64_t b = 0; b < n / SS_QK; ++b, p += 18, dst += SS_QK) {
            const float d = ss_f16_to_f32(ss_load_u16(p));
            for (int j = 0; j < 16; ++j) {
                dst[j] = d * (float)((p[2 + j] & 0x0f) - 8);
                dst[j + 16] = d * (float)((p[2 + j] >> 4) - 8);
            }
        }
        return;
    case SS_TYPE_Q4_1:
        for (int64_t b = 0; b < n / SS_QK; ++b, p += 20, dst += SS_QK) {
            const float d = ss_f16_to_f32(ss_load_u16(p));
            const float m = ss_f16_to_f32(ss_load_u16(p + 2));
            for (int j = 0; j < 16; ++j) {
                const float lo = d * (float)(p[4 + j] & 0x0f);
                const float hi = d * (float)(p[4 + j] >> 4);
                dst[j] = lo + m;
                dst[j + 16] = hi + m;
            }
        }
        return;
    case SS_TYPE_Q8_0:
        for (int64_t b = 0; b < n / SS_QK; ++b, p += 34, dst += SS_QK) {
            const float d = ss_f16_to_f32(ss_load_u16(p));
            for (int j = 0; j < 32; ++j) dst[j] = d * (float)(int8_t)p[2 + j];
        }
        return;
    default:
        break;
    }
    const ss_fmt f = ss_fmt_of(type);
    if (f.qk == 0) return;
    ss_dblock blk;
    for (int64_t b = 0; b < n / f.qk; ++b, p += f.gbytes, dst += f.qk) {
        ss_decode_block(type, p, &blk);
        const float d = ss_f16_to_f32(blk.d), dm = ss_f16_to_f32(blk.dm);
        for (int e = 0; e < f.qk; ++e) {
            const float q = (float)(f.lut ? ss_iq4_values[blk.u[e]] : (int)blk.u[e] - f.off);
            switch (type) {
            case SS_TYPE_Q5_0: case SS_TYPE_IQ4_NL:
                dst[e] = d * q;
                break;
            case SS_TYPE_Q5_1: {
                const float y = d * q;
                dst[e] = y + dm;
                break;
            }
            case SS_TYPE_Q3_K: case SS_TYPE_Q6_K: case SS_TYPE_IQ4_XS: {
                const float dl = d * (float)blk.sc[e / 16];
                dst[e] = dl * q;
                break;
            }
            default: {  // Q2_K, Q4_K, Q5_K
                const float dl = d * (float)blk.sc[e / 16];
                const float ml = dm * (float)blk.mn[e / 16];
                const float y = dl * q;
                dst[e] = y - ml;
                break;
            }
            }
        }
    }
}

const int8_t ss_iq4_values[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

/// Scale and min of sub-block j (0..7) of a Q4_K / Q5_K 12-byte scale field.
static void ss_k4_scale_min(const uint8_t *s, int j, int *sc, int *m) {
    if (j < 4) {
        *sc = s[j] & 63;
        *m = s[j + 4] & 63;
    } else {
        *sc = (s[j + 4] & 0x0f) | ((s[j - 4] >> 6) << 4);
        *m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
}

void ss_decode_block(int type, const uint8_t *g, ss_dblock *o) {
    memset(o, 0, sizeof *o);
    switch (type) {
    case SS_TYPE_Q5_0: case SS_TYPE_Q5_1: {
        const int hdr = type == SS_TYPE_Q5_0 ? 2 : 4;
        o->d = ss_load_u16(g);
        if (type == SS_TYPE_Q5_1) o->dm = ss_load_u16(g + 2);
        uint32_t qh;
        memcpy(&qh, g + hdr, 4);
        const uint8_t *qs = g + hdr + 4;
        for (int j = 0; j < 16; ++j) {
            o->u[j] = (uint8_t)((qs[j] & 0x0f) | (((qh >> j) & 1) << 4));
            o->u[j + 16] = (uint8_t)((qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4));
        }
        return;
    }
    case SS_TYPE_IQ4_NL:
        o->d = ss_load_u16(g);
        for (int j = 0; j < 16; ++j) {
            o->u[j] = g[2 + j] & 0x0f;
            o->u[j + 16] = g[2 + j] >> 4;
        }
        return;
    case SS_TYPE_Q2_K: {  // scales[16], qs[64], d, dmin
        const uint8_t *qs = g + 16;
        o->d = ss_load_u16(g + 80);
        o->dm = ss_load_u16(g + 82);
        for (int i = 0; i < 16; ++i) {
            o->sc[i] = (int8_t)(g[i] & 0x0f);
            o->mn[i] = (int8_t)(g[i] >> 4);
        }
        for (int e = 0; e < 256; ++e) o->u[e] = (qs[(e / 128) * 32 + e % 32] >> (2 * ((e % 128) / 32))) & 3;
        return;
    }
    case SS_TYPE_Q3_K: {  // hmask[32], qs[64], scales[12], d
        const uint8_t *hm = g, *qs = g + 32, *s = g + 96;
        o->d = ss_load_u16(g + 108);
        for (int k = 0; k < 16; ++k) {
            const int lo = k < 8 ? s[k] & 0x0f : s[k - 8] >> 4;
            const int hi = (s[8 + k % 4] >> (2 * (k / 4))) & 3;
            o->sc[k] = (int8_t)((lo | (hi << 4)) - 32);
        }
        for (int e = 0; e < 256; ++e) {
            const int ql = (qs[(e / 128) * 32 + e % 32] >> (2 * ((e % 128) / 32))) & 3;
            const int hb = (hm[e % 32] >> (e / 32)) & 1;
            o->u[e] = (uint8_t)(ql | (hb << 2));  // q = ql - 4 * (1 - hb) = u - 4
        }
        return;
    }
    case SS_TYPE_Q4_K: case SS_TYPE_Q5_K: {  // d, dmin, scales[12], (qh[32]), qs[128]
        o->d = ss_load_u16(g);
        o->dm = ss_load_u16(g + 2);
        for (int j = 0; j < 8; ++j) {
            int sc, m;
            ss_k4_scale_min(g + 4, j, &sc, &m);
            o->sc[2 * j] = o->sc[2 * j + 1] = (int8_t)sc;
            o->mn[2 * j] = o->mn[2 * j + 1] = (int8_t)m;
        }
        const uint8_t *qh = g + 16, *qs = g + (type == SS_TYPE_Q5_K ? 48 : 16);
        for (int e = 0; e < 256; ++e) {
            int q = (qs[(e / 64) * 32 + e % 32] >> (4 * ((e % 64) / 32))) & 0x0f;
            if (type == SS_TYPE_Q5_K) q |= ((qh[e % 32] >> (e / 32)) & 1) << 4;
            o->u[e] = (uint8_t)q;
        }
        return;
    }
    case SS_TYPE_Q6_K: {  // ql[128], qh[64], scales[16], d
        const uint8_t *ql = g, *qh = g + 128;
        o->d = ss_load_u16(g + 208);
        for (int i = 0; i < 16; ++i) o->sc[i] = (int8_t)g[192 + i];
        for (int e = 0; e < 256; ++e) {
            const int h = e / 128, r = e % 128;
            const int lo = (ql[h * 64 + r % 64] >> (4 * (r / 64))) & 0x0f;
            const int hi = (qh[h * 32 + r % 32] >> (2 * (r / 32))) & 3;
            o->u[e] = (uint8_t)(lo | (hi << 4));  // q = u - 32
        }
        return;
    }
    case SS_TYPE_IQ4_XS: {  // d, scales_h (u16), scales_l[4], qs[128]
        o->d = ss_load_u16(g);
        const uint16_t sh = ss_load_u16(g + 2);
        for (int ib = 0; ib < 8; ++ib) {
            const int ls = ((g[4 + ib / 2] >> (4 * (ib % 2))) & 0x0f) | (((sh >> (2 * ib)) & 3) << 4);
            o->sc[2 * ib] = o->sc[2 * ib + 1] = (int8_t)(ls - 32);
            const uint8_t *qs = g + 8 + 16 * ib;
            for (int j = 0; j < 16; ++j) {
                o->u[32 * ib + j] = qs[j] & 0x0f;
                o->u[32 * ib + j + 16] = qs[j] >> 4;
            }
        }
        return;
    }
    default:
        return;
    }
}
