// Private declarations shared by the CKernels sources.
#ifndef SINKSTREAM_CKERNELS_INTERNAL_H
#define SINKSTREAM_CKERNELS_INTERNAL_H

#include "CKernels.h"
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) || defined(_M_X64)
#define SS_X86 1
#include <immintrin.h>
#else
#define SS_X86 0
#endif

#define SS_AI inline __attribute__((always_inline))
#define SS_T512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,f16c,fma")))
#define SS_TVNNI256 __attribute__((target("avx2,fma,f16c,avxvnni")))
#define SS_TAVX2 __attribute__((target("avx2,fma,f16c")))

/// Maximum number of tokens in one register tile (any ISA).
#define SS_NT_MAX 8
/// Maximum tile height R (rows interleaved in a packed tile).
#define SS_R_MAX 16

#define SS_PACK_MAGIC 0x4b505353u /* "SSPK" */

/// 64-byte header at the start of every packed buffer.
typedef struct ss_pack_header {
    uint32_t magic;
    int32_t type;
    int32_t isa;     // ISA path whose kernels read this layout
    int32_t R;       // rows per tile
    int32_t xor80;   // Q8_0 quants stored XOR 0x80
    int32_t pad0;
    int64_t rows;
    int64_t cols;
    int64_t tiles;
    uint8_t pad[16];
} ss_pack_header;

_Static_assert(sizeof(ss_pack_header) == 64, "header is 64 bytes");
_Static_assert(sizeof(ss_act_block) == 48, "activation block is 48 bytes");

/// Computes one register tile: `nt` tokens (<= the ISA's NT) x R rows, writing tmp[t*R + lane].
/// `w` points to the tile's first block, `act` to the first token's quantized row.
typedef void (*ss_tile_fn)(int nt, const uint8_t *w, int64_t nb, const uint8_t *act,
                           size_t astride, float *tmp);

/// Bytes of one packed tile-block (R rows x 32 columns) of `type`.
static inline size_t ss_tile_block_bytes(int type, int R) {
    const size_t qb = type == SS_TYPE_Q8_0 ? 32 : 16;
    return (size_t)R * qb + (size_t)R * 2 * (type == SS_TYPE_Q4_1 ? 2 : 1);
}

/// How a weight type of the generic ("x") packed kernels is stored and multiplied (every type
/// except the original Q4_0 / Q4_1 / Q8_0 kernels). A ggml block of `qk` elements is decoded to
/// unsigned stored values u (ss_decode_block); the weight is q = lut ? ss_iq4_values[u] : u - off,
/// times a scale per 16 (`split`) or per 32 elements, minus a min (`min`).
typedef struct ss_fmt {
    int qk;      // elements per ggml block (0: not a generic-kernel type)
    int gbytes;  // bytes per ggml block
    int nib;     // packed as 4-bit values (else one byte per value)
    int lut;     // values index the IQ4 table
    int off;     // q = u - off (non-table types)
    int split;   // integer scales (and mins) per 16 elements
    int sc;      // integer scales per 32 elements (non-split K types)
    int min;     // 0: none; 1: float min per 32-block added (Q5_1); 2: dmin * integer min subtracted
    int umax;    // largest stored value (AVX2 int16 headroom)
    int planes;  // bits above the low 4 stored as bit planes (1 for 5-bit, 2 for 6-bit values)
} ss_fmt;

static inline ss_fmt ss_fmt_of(int type) {
    ss_fmt f = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    switch (type) {
    case SS_TYPE_Q5_0: f = (ss_fmt){32, 22, 1, 0, 16, 0, 0, 0, 31, 1}; break;
    case SS_TYPE_Q5_1: f = (ss_fmt){32, 24, 1, 0, 0, 0, 0, 1, 31, 1}; break;
    case SS_TYPE_Q2_K: f = (ss_fmt){256, 84, 1, 0, 0, 1, 0, 2, 3, 0}; break;
    case SS_TYPE_Q3_K: f = (ss_fmt){256, 110, 1, 0, 4, 1, 0, 0, 7, 0}; break;
    case SS_TYPE_Q4_K: f = (ss_fmt){256, 144, 1, 0, 0, 0, 1, 2, 15, 0}; break;
    case SS_TYPE_Q5_K: f = (ss_fmt){256, 176, 1, 0, 0, 0, 1, 2, 31, 1}; break;
    case SS_TYPE_Q6_K: f = (ss_fmt){256, 210, 1, 0, 32, 1, 0, 0, 63, 2}; break;
    case SS_TYPE_IQ4_NL: f = (ss_fmt){32, 18, 1, 1, 0, 0, 0, 0, 15, 0}; break;
    case SS_TYPE_IQ4_XS: f = (ss_fmt){256, 136, 1, 1, 0, 0, 1, 0, 15, 0}; break;
    default: break;
    }
#ifdef SS_WIDE_5_6
    if (f.planes) { f.nib = 0; f.planes = 0; }  // experiment: 5- and 6-bit values as bytes
#endif
    return f;
}

/// The IQ4_NL / IQ4_XS non-linear values.
extern const int8_t ss_iq4_values[16];

/// One decoded ggml block of a generic-kernel type: stored values, per-16 integer scales and
/// mins (a per-32 value repeated twice), and the raw f16 scale and min (dmin, or m for Q5_1).
typedef struct ss_dblock {
    uint8_t u[256];
    int8_t sc[16];
    int8_t mn[16];
    uint16_t d, dm;
} ss_dblock;

void ss_decode_block(int type, const uint8_t *g, ss_dblock *o);

/// Bytes of one packed tile super-block (R rows x qk columns) of a generic-kernel type:
/// qk/32 blocks of quants (R x 16 bytes of low nibbles, dword-interleaved by row, then
/// `planes` x R dwords of bit planes, ss_plane_bit), R f16 d,
/// R f16 mins (min != 0; K mins stored negated), then int8 scales and int8 mins per block
/// (R each, or 2R for split types: first-16 values then last-16 values).
static inline size_t ss_xqb(ss_fmt f) { return f.nib ? 16 + 4 * (size_t)f.planes : 32; }

/// Where bits 4.. of column c (0..31) live in a row's plane dwords, so that shifting a dword by a
/// constant brings the high bits of the four columns of dword-vector j (columns 4j..4j+3) to bit
/// 4 of their bytes. One plane (5-bit values): bit c / 4 of byte c % 4 of dword 0. Two planes
/// (6-bit values): the bit pair at bits 2 * (c / 4 % 4) of byte c % 4 of dword c / 16.
static inline int ss_plane_bit(int c) { return 8 * (c % 4) + c / 4; }
static inline int ss_crumb_bit(int c) { return 8 * (c % 4) + 2 * (c / 4 % 4); }

static inline size_t ss_xsb_bytes(ss_fmt f, int R) {
    const size_t SB = (size_t)f.qk / 32, qb = ss_xqb(f), per = f.split ? 2 : 1;
    return SB * qb * (size_t)R + 2 * (size_t)R + (f.min ? 2 * (size_t)R : 0) +
           ((f.sc || f.split) ? SB * per * (size_t)R : 0) + (f.min == 2 ? SB * per * (size_t)R : 0);
}

/// Bytes of one packed tile (R rows x cols) of any packed type.
static inline size_t ss_tile_bytes(int type, int R, int64_t cols) {
    const ss_fmt f = ss_fmt_of(type);
    if (f.qk) return (size_t)(cols / f.qk) * ss_xsb_bytes(f, R);
    return (size_t)(cols / SS_QK) * ss_tile_block_bytes(type, R);
}

static inline float ss_f16_to_f32(uint16_t h) {
    const uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else {  // subnormal: normalize
            exp = 127 - 15 + 1;
            while ((man & 0x400) == 0) { man <<= 1; exp--; }
            man &= 0x3ff;
            bits = sign | (exp << 23) | (man << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static inline float ss_bf16_to_f32(uint16_t h) {
    const uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static inline uint16_t ss_load_u16(const uint8_t *p) {
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}

/// Tile functions and token-tile sizes per ISA (NULL when not compiled in).
ss_tile_fn ss_tile_scalar(int type);
ss_tile_fn ss_tile_avx2(int type);
ss_tile_fn ss_tile_avxvnni(int type);
ss_tile_fn ss_tile_avx512(int type);
int ss_nt_for_isa(int isa);
int ss_r_for_isa(int isa);

/// Per-ISA activation quantizers (same bits).
void ss_quantize_act_scalar(const float *x, int64_t n, ss_act_block *dst);
void ss_quantize_act_avx2(const float *x, int64_t n, ss_act_block *dst);
void ss_quantize_act_avx512(const float *x, int64_t n, ss_act_block *dst);

/// Per-ISA float GEMM.
void ss_gemm_f32_scalar(int type, const void *w, int64_t rows, int64_t cols, const float *act,
                        int64_t ntok, float *out, int64_t ldo, int64_t rb, int64_t re);
void ss_gemm_f32_avx2(int type, const void *w, int64_t rows, int64_t cols, const float *act,
                      int64_t ntok, float *out, int64_t ldo, int64_t rb, int64_t re);
void ss_gemm_f32_avx512(int type, const void *w, int64_t rows, int64_t cols, const float *act,
                        int64_t ntok, float *out, int64_t ldo, int64_t rb, int64_t re);

/// The three vector steps of attention over a half cache (ss_attend_f16_tile drives them), for a
/// head size that is a multiple of 16: scores of `group` (at most 16) query vectors for `count` slots
/// into rows `rs` apart; softmax numerators of one row in place (sum of exp in 16 lane
/// accumulators reduced in one tree order; returns the sum, writes the maximum); and
/// outs[h][i] = inv[h] * sum_k p[h*rs + k] * value_k[i] over the first cnt[h] keys. The AVX-512 and AVX2 versions share
/// one arithmetic, so they give the same bits.
/// The scores step's specialisation: CALL(G, D) with a compile-time number of query vectors G
/// (1-16: several tokens' heads are scored together) and head size 64 or the run-time value.
#define SS_SPECIALISE_QUERIES(CALL) \
    if (d == 64) { switch (group) { \
    case 1: CALL(1, 64); return; case 2: CALL(2, 64); return; case 3: CALL(3, 64); return; case 4: CALL(4, 64); return; \
    case 5: CALL(5, 64); return; case 6: CALL(6, 64); return; case 7: CALL(7, 64); return; case 8: CALL(8, 64); return; \
    case 9: CALL(9, 64); return; case 10: CALL(10, 64); return; case 11: CALL(11, 64); return; case 12: CALL(12, 64); return; \
    case 13: CALL(13, 64); return; case 14: CALL(14, 64); return; case 15: CALL(15, 64); return; default: CALL(16, 64); return; } } \
    switch (group) { \
    case 1: CALL(1, d); return; case 2: CALL(2, d); return; case 3: CALL(3, d); return; case 4: CALL(4, d); return; \
    case 5: CALL(5, d); return; case 6: CALL(6, d); return; case 7: CALL(7, d); return; case 8: CALL(8, d); return; \
    case 9: CALL(9, d); return; case 10: CALL(10, d); return; case 11: CALL(11, d); return; case 12: CALL(12, d); return; \
    case 13: CALL(13, d); return; case 14: CALL(14, d); return; case 15: CALL(15, d); return; default: CALL(16, d); return; }
void ss_attn_scores_avx512(int64_t group, int64_t d, const float *q, const uint16_t *keys, int64_t stride,
                           int64_t count, float scale, float *row, int64_t rs);
float ss_attn_softmax_avx512(float *row, int64_t n, float *max_out);
void ss_attn_values_avx512(int64_t group, int64_t d, const uint16_t *values, const ss_attn_segment *segs,
                         int64_t nseg, const float *p, int64_t rs, const int64_t *cnt, const float *inv,
                         float *const *outs);
void ss_attn_scores_avx2(int64_t group, int64_t d, const float *q, const uint16_t *keys, int64_t stride,
                         int64_t count, float scale, float *row, int64_t rs);
float ss_attn_softmax_avx2(float *row, int64_t n, float *max_out);
void ss_attn_values_avx2(int64_t group, int64_t d, const uint16_t *values, const ss_attn_segment *segs,
                         int64_t nseg, const float *p, int64_t rs, const int64_t *cnt, const float *inv,
                         float *const *outs);

#endif
