// 256-bit tile kernel of the generic-kernel types (ss_fmt; arithmetic of ss_tile_scalar_x):
// 8 rows x up to 4 tokens. Included twice by TileAVX256.c: SS_X_VNNI 1 (vpdpbusd, unsigned
// values, IQ4 table shifted by +128) and 0 (AVX2 vpmaddubsw + vpmaddwd: int16 partial sums as
// long as they cannot saturate; IQ4 values signed, with the |w| x sign(a, w) trick).
// Expects SS_X_VNNI, SS_X_NAME and SS_X_TARGET.

static SS_AI SS_X_TARGET void SS_X_NAME(const int type, const int NT, const uint8_t *restrict w, int64_t nb,
                                        const uint8_t *restrict act, size_t astride, float *restrict tmp) {
    enum { R = 8 };
    const ss_fmt f = ss_fmt_of(type);
    const int SB = f.qk / 32;
    const size_t qb = ss_xqb(f), per = f.split ? 2 : 1;
    const size_t sbb = ss_xsb_bytes(f, R);
    const int off = f.lut ? (SS_X_VNNI ? 128 : 0) : f.off;
    const __m256i m4 = _mm256_set1_epi8(0x0f);
#if SS_X_VNNI
    const __m256i lut = _mm256_broadcastsi128_si256(_mm_setr_epi8(1, 24, 45, 63, 79, 93, 106, 118, (char)129, (char)141,
                                                                  (char)153, (char)166, (char)181, (char)197, (char)217, (char)241));
#else
    const __m256i lut = _mm256_broadcastsi128_si256(_mm_setr_epi8(-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25,
                                                                  38, 53, 69, 89, 113));
    const __m256i ones = _mm256_set1_epi16(1);
    // maddubs pair sums are at most 2 * umax * 127: how many fit an int16 sum (per half of 4).
    const int G = f.lut ? 1 : (f.umax * 254 * 4 <= 32767 ? 4 : (f.umax * 254 * 2 <= 32767 ? 2 : 1));
#endif
    __m256 acc[4];
    for (int t = 0; t < NT; ++t) acc[t] = _mm256_setzero_ps();
    for (int64_t s = 0; s < nb / SB; ++s, w += sbb) {
        const uint8_t *hd = w + (size_t)SB * qb * R;
        const __m256 dv = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)hd));
        const __m256 mv = f.min ? _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(hd + 2 * R))) : _mm256_setzero_ps();
        const int8_t *hsc = (const int8_t *)(hd + 2 * R + (f.min ? 2 * R : 0));
        const int8_t *hmn = hsc + ((f.sc || f.split) ? (size_t)SB * per * R : 0);
        for (int b = 0; b < SB; ++b) {
            const uint8_t *wq = w + (size_t)b * qb * R;
            __m256i wv[8];
            if (f.nib) {
                for (int j = 0; j < 4; ++j) {
                    const __m256i raw = _mm256_loadu_si256((const __m256i *)(wq + 32 * j));
                    wv[j] = _mm256_and_si256(raw, m4);
                    wv[j + 4] = _mm256_and_si256(_mm256_srli_epi16(raw, 4), m4);
                    if (f.lut) {
                        wv[j] = _mm256_shuffle_epi8(lut, wv[j]);
                        wv[j + 4] = _mm256_shuffle_epi8(lut, wv[j + 4]);
                    }
                }
                // High bits (ss_plane_bit / ss_crumb_bit): one shift brings vector j's to bit 4.
                if (f.planes) {
                    const __m256i pv0 = _mm256_loadu_si256((const __m256i *)(wq + 16 * R));
                    const __m256i pv1 = f.planes == 2 ? _mm256_loadu_si256((const __m256i *)(wq + 20 * R)) : pv0;
                    const __m256i mask = _mm256_set1_epi8(f.planes == 2 ? 0x30 : 0x10);
                    for (int j = 0; j < 8; ++j) {
                        const __m256i pv = f.planes == 2 && j >= 4 ? pv1 : pv0;
                        const int sh = f.planes == 2 ? 4 - 2 * (j % 4) : 4 - j;
                        const __m256i v = sh >= 0 ? _mm256_slli_epi32(pv, sh) : _mm256_srli_epi32(pv, -sh);
                        wv[j] = _mm256_or_si256(wv[j], _mm256_and_si256(v, mask));
                    }
                }
            } else {
                for (int j = 0; j < 8; ++j) wv[j] = _mm256_loadu_si256((const __m256i *)(wq + 32 * j));
            }
#define SS_X_LD8(P) _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(P)))
            __m256i sclo = _mm256_setzero_si256(), schi = sclo, mlo = sclo, mhi = sclo;
            __m256 dw = dv, mw = mv;
            if (f.split) {
                sclo = SS_X_LD8(hsc + (size_t)b * 2 * R);
                schi = SS_X_LD8(hsc + (size_t)b * 2 * R + R);
                if (f.min == 2) {
                    mlo = SS_X_LD8(hmn + (size_t)b * 2 * R);
                    mhi = SS_X_LD8(hmn + (size_t)b * 2 * R + R);
                }
            } else {
                if (f.sc) dw = _mm256_mul_ps(dv, _mm256_cvtepi32_ps(SS_X_LD8(hsc + (size_t)b * R)));
                if (f.min == 2) mw = _mm256_mul_ps(mv, _mm256_cvtepi32_ps(SS_X_LD8(hmn + (size_t)b * R)));
            }
#undef SS_X_LD8
            for (int t = 0; t < NT; ++t) {
                const ss_act_block *x = (const ss_act_block *)(act + (size_t)t * astride) + s * SB + b;
                const int32_t *q = (const int32_t *)x->qs;
                __m256i half[2];
                for (int h = 0; h < 2; ++h) {
#if SS_X_VNNI
                    __m256i c0 = _mm256_setzero_si256(), c1 = c0;
                    for (int j = 4 * h; j < 4 * h + 4; j += 2) {
                        c0 = _mm256_dpbusd_avx_epi32(c0, wv[j], _mm256_set1_epi32(q[j]));
                        c1 = _mm256_dpbusd_avx_epi32(c1, wv[j + 1], _mm256_set1_epi32(q[j + 1]));
                    }
                    half[h] = _mm256_add_epi32(c0, c1);
#else
                    __m256i s32 = _mm256_setzero_si256();
                    for (int j0 = 4 * h; j0 < 4 * h + 4; j0 += G) {
                        __m256i s16 = _mm256_setzero_si256();
                        for (int j = j0; j < j0 + G; ++j) {
                            const __m256i a = _mm256_set1_epi32(q[j]);
                            if (f.lut) s16 = _mm256_add_epi16(s16, _mm256_maddubs_epi16(_mm256_sign_epi8(wv[j], wv[j]), _mm256_sign_epi8(a, wv[j])));
                            else s16 = _mm256_add_epi16(s16, _mm256_maddubs_epi16(wv[j], a));
                        }
                        s32 = _mm256_add_epi32(s32, _mm256_madd_epi16(s16, ones));
                    }
                    half[h] = s32;
#endif
                }
                __m256i lo = half[0], hi = half[1];
                const float da = x->d;
                if (f.split) {
                    const int32_t alo = x->sum16, ahi = x->sum - x->sum16;
                    if (off) {
                        lo = _mm256_sub_epi32(lo, _mm256_set1_epi32(off * alo));
                        hi = _mm256_sub_epi32(hi, _mm256_set1_epi32(off * ahi));
                    }
                    const __m256i is = _mm256_add_epi32(_mm256_mullo_epi32(sclo, lo), _mm256_mullo_epi32(schi, hi));
                    acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(is), _mm256_mul_ps(dv, _mm256_set1_ps(da)), acc[t]);
                    if (f.min == 2) {
                        const __m256i ms = _mm256_add_epi32(_mm256_mullo_epi32(mlo, _mm256_set1_epi32(alo)),
                                                            _mm256_mullo_epi32(mhi, _mm256_set1_epi32(ahi)));
                        acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(ms), _mm256_mul_ps(mv, _mm256_set1_ps(da)), acc[t]);
                    }
                } else {
                    __m256i is = _mm256_add_epi32(lo, hi);
                    if (off) is = _mm256_sub_epi32(is, _mm256_set1_epi32(off * x->sum));
                    acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(is), _mm256_mul_ps(dw, _mm256_set1_ps(da)), acc[t]);
                    if (f.min) acc[t] = _mm256_fmadd_ps(mw, _mm256_set1_ps(x->s), acc[t]);
                }
            }
        }
    }
    for (int t = 0; t < NT; ++t) _mm256_storeu_ps(tmp + t * R, acc[t]);
}
