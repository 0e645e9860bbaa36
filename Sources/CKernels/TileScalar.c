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

ss_tile_fn ss_tile_scalar(int type) {
    switch (type) {
    case SS_TYPE_Q4_0: return ss_tile_scalar_q4_0;
    case SS_TYPE_Q4_1: return ss_tile_scalar_q4_1;
    case SS_TYPE_Q8_0: return ss_tile_scalar_q8_0;
    default: return NULL;
    }
}
