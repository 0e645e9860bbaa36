// Weight repacking into row-interleaved tiles (see ss_packed_size in CKernels.h).
#include "internal.h"

static int ss_is_quant(int type) {
    return type == SS_TYPE_Q4_0 || type == SS_TYPE_Q4_1 || type == SS_TYPE_Q8_0 || ss_fmt_of(type).qk != 0;
}

/// Elements per ggml block of a packed type (cols must be a multiple).
static int64_t ss_pack_qk(int type) {
    const ss_fmt f = ss_fmt_of(type);
    return f.qk ? f.qk : SS_QK;
}

/// Packs the generic-kernel types (layout: ss_xsb_bytes).
static void ss_pack_x(int type, const uint8_t *src, int64_t rows, int64_t cols, int R, int64_t tiles, uint8_t *out) {
    const ss_fmt f = ss_fmt_of(type);
    const int SB = f.qk / 32;
    const int64_t nsb = cols / f.qk;
    const size_t qb = ss_xqb(f), per = f.split ? 2 : 1;
    const size_t sbb = ss_xsb_bytes(f, R);
    const size_t grow = (size_t)nsb * (size_t)f.gbytes;
    ss_dblock blk;
    for (int64_t t = 0; t < tiles; ++t) {
        for (int64_t s = 0; s < nsb; ++s) {
            uint8_t *o = out + (size_t)(t * nsb + s) * sbb;
            memset(o, 0, sbb);  // padding rows: zero quants and zero scales
            uint8_t *od = o + (size_t)SB * qb * (size_t)R;
            uint8_t *om = od + 2 * R;
            int8_t *osc = (int8_t *)(om + (f.min ? 2 * R : 0));
            int8_t *omn = osc + ((f.sc || f.split) ? (size_t)SB * per * (size_t)R : 0);
            for (int r = 0; r < R; ++r) {
                const int64_t row = t * R + r;
                if (row >= rows) break;
                ss_decode_block(type, src + (size_t)row * grow + (size_t)s * (size_t)f.gbytes, &blk);
                memcpy(od + 2 * r, &blk.d, 2);
                if (f.min) {
                    // K mins are subtracted: store -dmin (exact sign flip) so every kernel adds.
                    const uint16_t m = f.min == 2 ? (uint16_t)(blk.dm ^ 0x8000u) : blk.dm;
                    memcpy(om + 2 * r, &m, 2);
                }
                for (int b = 0; b < SB; ++b) {
                    uint8_t *oq = o + (size_t)b * qb * (size_t)R;
                    const uint8_t *u = blk.u + 32 * b;
                    for (size_t j = 0; j < (f.nib ? 4u : 8u); ++j)
                        for (int k = 0; k < 4; ++k) {
                            const size_t i = 4 * j + (size_t)k;
                            oq[(j * (size_t)R + (size_t)r) * 4 + (size_t)k] =
                                f.nib ? (uint8_t)((u[i] & 0x0f) | ((u[i + 16] & 0x0f) << 4)) : u[i];
                        }
                    uint32_t plane[2] = {0, 0};
                    for (int c = 0; c < 32; ++c) {
                        if (f.planes == 1) plane[0] |= (uint32_t)((u[c] >> 4) & 1) << ss_plane_bit(c);
                        if (f.planes == 2) plane[c / 16] |= (uint32_t)((u[c] >> 4) & 3) << ss_crumb_bit(c);
                    }
                    for (int pl = 0; pl < f.planes; ++pl)
                        memcpy(oq + (size_t)(16 + 4 * pl) * (size_t)R + 4 * (size_t)r, &plane[pl], 4);
                    for (size_t h = 0; h < per; ++h) {
                        if (f.sc || f.split) osc[((size_t)b * per + h) * (size_t)R + (size_t)r] = blk.sc[2 * b + h];
                        if (f.min == 2) omn[((size_t)b * per + h) * (size_t)R + (size_t)r] = blk.mn[2 * b + h];
                    }
                }
            }
        }
    }
}

int64_t ss_row_granularity(int type) {
    (void)type;
    return ss_r_for_isa(ss_isa());
}

size_t ss_packed_size(int type, int64_t rows, int64_t cols) {
    if (!ss_is_quant(type) || rows <= 0 || cols <= 0 || cols % ss_pack_qk(type)) return 0;
    const int R = ss_r_for_isa(ss_isa());
    const int64_t tiles = (rows + R - 1) / R;
    return sizeof(ss_pack_header) + (size_t)tiles * ss_tile_bytes(type, R, cols);
}

int ss_packed_isa(const void *packed) {
    const ss_pack_header *h = (const ss_pack_header *)packed;
    if (h == NULL || h->magic != SS_PACK_MAGIC) return -1;
    return h->isa;
}

int ss_pack(int type, const void *src, int64_t rows, int64_t cols, void *dst) {
    if (!ss_is_quant(type) || rows <= 0 || cols <= 0 || cols % ss_pack_qk(type)) return 0;
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
    if (ss_fmt_of(type).qk) {
        ss_pack_x(type, (const uint8_t *)src, rows, cols, R, tiles, (uint8_t *)dst + sizeof h);
        return 1;
    }

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
