// Weight repacking into row-interleaved tiles (see ss_packed_size in CKernels.h).
#include "internal.h"

static int ss_is_quant(int type) {
    return type == SS_TYPE_Q4_0 || type == SS_TYPE_Q4_1 || type == SS_TYPE_Q8_0;
}

int64_t ss_row_granularity(int type) {
    (void)type;
    return ss_r_for_isa(ss_isa());
}

size_t ss_packed_size(int type, int64_t rows, int64_t cols) {
    if (!ss_is_quant(type) || rows <= 0 || cols <= 0 || cols % SS_QK) return 0;
    const int R = ss_r_for_isa(ss_isa());
    const int64_t tiles = (rows + R - 1) / R;
    return sizeof(ss_pack_header) + (size_t)tiles * (size_t)(cols / SS_QK) * ss_tile_block_bytes(type, R);
}

int ss_packed_isa(const void *packed) {
    const ss_pack_header *h = (const ss_pack_header *)packed;
    if (h == NULL || h->magic != SS_PACK_MAGIC) return -1;
    return h->isa;
}

int ss_pack(int type, const void *src, int64_t rows, int64_t cols, void *dst) {
    if (!ss_is_quant(type) || rows <= 0 || cols <= 0 || cols % SS_QK) return 0;
    const int isa = ss_isa();
    const int R = ss_r_for_isa(isa);
    const int64_t nb = cols / SS_QK, tiles = (rows + R - 1) / R;
    const size_t qb = type == SS_TYPE_Q8_0 ? 32 : 16;
    const size_t hdr_bytes = type == SS_TYPE_Q4_1 ? 4 : 2;  // ggml block: d (, m), qs
    const size_t gblock = hdr_bytes + qb;
    const size_t tbb = ss_tile_block_bytes(type, R);
    const uint8_t xr = (type == SS_TYPE_Q8_0 && isa != SS_ISA_SCALAR && isa != SS_ISA_AVX2) ? 0x80 : 0;

    ss_pack_header h;
    memset(&h, 0, sizeof h);
    h.magic = SS_PACK_MAGIC;
    h.type = type;
    h.isa = isa;
    h.R = R;
    h.xor80 = xr != 0;
    h.rows = rows;
    h.cols = cols;
    h.tiles = tiles;
    memcpy(dst, &h, sizeof h);

    const uint8_t *s = (const uint8_t *)src;
    uint8_t *out = (uint8_t *)dst + sizeof h;
    for (int64_t t = 0; t < tiles; ++t) {
        for (int64_t b = 0; b < nb; ++b) {
            uint8_t *o = out + (size_t)(t * nb + b) * tbb;
            memset(o, 0, tbb);  // padding rows: zero quants and zero scales
            uint8_t *od = o + R * qb, *om = od + 2 * R;
            for (int r = 0; r < R; ++r) {
                const int64_t row = t * R + r;
                if (row >= rows) break;
                const uint8_t *g = s + (size_t)row * (size_t)nb * gblock + (size_t)b * gblock;
                memcpy(od + 2 * r, g, 2);
                if (type == SS_TYPE_Q4_1) memcpy(om + 2 * r, g + 2, 2);
                const uint8_t *qs = g + hdr_bytes;
                for (size_t j = 0; j < qb / 4; ++j)
                    for (int k = 0; k < 4; ++k) o[(j * R + r) * 4 + k] = qs[4 * j + k] ^ xr;
            }
        }
    }
    return 1;
}
