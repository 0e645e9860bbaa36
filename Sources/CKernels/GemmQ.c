// Quantized GEMM driver: walks row tiles and token tiles and calls the ISA's tile kernel.
#include "internal.h"

#ifndef SS_TOKEN_BLOCK
#define SS_TOKEN_BLOCK 64
#endif

void ss_gemm_q(int type, const void *packed, int64_t rows, int64_t cols, const void *act,
               int64_t ntok, float *out, int64_t ldo, int64_t row_begin, int64_t row_end) {
    const ss_pack_header *h = (const ss_pack_header *)packed;
    if (h == NULL || h->magic != SS_PACK_MAGIC || h->type != type || h->rows != rows || h->cols != cols)
        return;
    if (row_begin < 0) row_begin = 0;
    if (row_end > rows) row_end = rows;
    if (row_begin >= row_end || ntok <= 0) return;
    ss_tile_fn fn = NULL;
    switch (h->isa) {
    case SS_ISA_AVX512VNNI: fn = ss_tile_avx512(type); break;
    case SS_ISA_AVXVNNI: fn = ss_tile_avxvnni(type); break;
    case SS_ISA_AVX2: fn = ss_tile_avx2(type); break;
    case SS_ISA_SCALAR: fn = ss_tile_scalar(type); break;
    default: break;
    }
    if (fn == NULL || !ss_isa_supported(h->isa)) return;
    const int R = h->R, NT = ss_nt_for_isa(h->isa);
    const int64_t nb = cols / SS_QK;
    const size_t tbytes = ss_tile_bytes(type, R, cols);
    const size_t astride = ss_act_row_bytes(cols);
    const uint8_t *base = (const uint8_t *)packed + sizeof(ss_pack_header);
    const uint8_t *a = (const uint8_t *)act;
    float tmp[SS_NT_MAX * SS_R_MAX];
    // Token blocks outermost keep a block's activations in L1/L2 while the weights stream by;
    // inside, one weight tile stays in L1 for all the token tiles of the block.
    for (int64_t tb0 = 0; tb0 < ntok; tb0 += SS_TOKEN_BLOCK)
    for (int64_t tile = row_begin / R; tile * R < row_end; ++tile) {
        const uint8_t *w = base + (size_t)tile * tbytes;
        const int64_t r0 = tile * R;
        const int64_t lo = row_begin > r0 ? row_begin : r0;
        const int64_t hi = row_end < r0 + R ? row_end : r0 + R;
        const int64_t tend = tb0 + SS_TOKEN_BLOCK < ntok ? tb0 + SS_TOKEN_BLOCK : ntok;
        for (int64_t t0 = tb0; t0 < tend; t0 += NT) {
            const int nt = (int)(tend - t0 < NT ? tend - t0 : NT);
            fn(nt, w, nb, a + (size_t)t0 * astride, astride, tmp);
            for (int t = 0; t < nt; ++t)
                memcpy(out + (t0 + t) * ldo + lo, tmp + t * R + (lo - r0), (size_t)(hi - lo) * sizeof(float));
        }
    }
}
