// Run-time CPU detection and ISA selection.
#include "internal.h"
#include <stdatomic.h>
#include <stdlib.h>

#if SS_X86
#include <cpuid.h>

static uint64_t ss_xgetbv0(void) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}
#endif

/// Bit set of supported ISA paths (bit i = SS_ISA_i), computed once.
static int ss_detect(void) {
    int mask = 1 << SS_ISA_SCALAR;
#if SS_X86
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return mask;
    const int fma = (c >> 12) & 1, osxsave = (c >> 27) & 1, f16c = (c >> 29) & 1, avx = (c >> 28) & 1;
    if (!osxsave || !avx) return mask;
    const uint64_t xcr0 = ss_xgetbv0();
    const int ymm_os = (xcr0 & 0x6) == 0x6;
    const int zmm_os = (xcr0 & 0xe6) == 0xe6;  // SSE, AVX, opmask, ZMM_Hi256, Hi16_ZMM
    unsigned max_leaf = __get_cpuid_max(0, 0);
    if (max_leaf < 7) return mask;
    unsigned a7, b7, c7, d7;
    __cpuid_count(7, 0, a7, b7, c7, d7);
    const int avx2 = (b7 >> 5) & 1;
    const int avx512f = (b7 >> 16) & 1, avx512dq = (b7 >> 17) & 1;
    const int avx512bw = (b7 >> 30) & 1, avx512vl = (b7 >> 31) & 1;
    const int avx512vnni = (c7 >> 11) & 1;
    int avxvnni = 0;
    if (a7 >= 1) {
        unsigned a71, b71, c71, d71;
        __cpuid_count(7, 1, a71, b71, c71, d71);
        avxvnni = (a71 >> 4) & 1;
    }
    if (ymm_os && avx2 && fma && f16c) {
        mask |= 1 << SS_ISA_AVX2;
        if (avxvnni) mask |= 1 << SS_ISA_AVXVNNI;
        if (zmm_os && avx512f && avx512bw && avx512vl && avx512dq && avx512vnni)
            mask |= 1 << SS_ISA_AVX512VNNI;
    }
#endif
    return mask;
}

static _Atomic int ss_supported_mask = -1;
static _Atomic int ss_current_isa = -1;

static int ss_mask(void) {
    int m = atomic_load_explicit(&ss_supported_mask, memory_order_acquire);
    if (m < 0) {
        m = ss_detect();
        atomic_store_explicit(&ss_supported_mask, m, memory_order_release);
    }
    return m;
}

int ss_isa_supported(int isa) {
    if (isa < SS_ISA_SCALAR || isa > SS_ISA_AVX512VNNI) return 0;
    return (ss_mask() >> isa) & 1;
}

const char *ss_isa_name(int isa) {
    switch (isa) {
    case SS_ISA_SCALAR: return "scalar";
    case SS_ISA_AVX2: return "avx2";
    case SS_ISA_AVXVNNI: return "avxvnni";
    case SS_ISA_AVX512VNNI: return "avx512vnni";
    default: return "?";
    }
}

void ss_init(void) {
    if (atomic_load_explicit(&ss_current_isa, memory_order_acquire) >= 0) return;
    const int m = ss_mask();
    int best = SS_ISA_SCALAR;
    for (int i = SS_ISA_AVX512VNNI; i > SS_ISA_SCALAR; --i)
        if ((m >> i) & 1) { best = i; break; }
    const char *env = getenv("SINKSTREAM_ISA");
    if (env != NULL) {
        for (int i = SS_ISA_SCALAR; i <= SS_ISA_AVX512VNNI; ++i)
            if (strcmp(env, ss_isa_name(i)) == 0 && ((m >> i) & 1)) best = i;
    }
    int expected = -1;
    atomic_compare_exchange_strong(&ss_current_isa, &expected, best);
}

/// The calling thread's forced path (ss_set_isa), or -1 for the process-wide selection. Per
/// thread, so that forcing a path (tests, the kernel benchmark) cannot change the arithmetic of
/// a model running on other threads of the same process.
static _Thread_local int ss_thread_isa = -1;

int ss_isa(void) {
    if (ss_thread_isa >= 0) return ss_thread_isa;
    ss_init();
    return atomic_load_explicit(&ss_current_isa, memory_order_acquire);
}

int ss_set_isa(int isa) {
    ss_init();
    if (!ss_isa_supported(isa)) return 0;
    ss_thread_isa = isa;
    return 1;
}

#ifndef SS_NT256
#define SS_NT256 4
#endif

int ss_nt_for_isa(int isa) {
    switch (isa) {
    case SS_ISA_AVX512VNNI: return 8;
    case SS_ISA_AVXVNNI: return SS_NT256;
    case SS_ISA_AVX2: return SS_NT256;
    default: return 4;
    }
}

int ss_r_for_isa(int isa) {
    switch (isa) {
    case SS_ISA_AVX512VNNI: return 16;
    case SS_ISA_AVXVNNI: case SS_ISA_AVX2: return 8;
    default: return 1;
    }
}
