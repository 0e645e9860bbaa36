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
    default: return 0;
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
        return;
    }
}
