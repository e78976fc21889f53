/* MAC bit-flip simulator: configuration checks, register layout and instruction-set dispatch.
 * The kernel itself is the template mac_kernel.h, compiled here once per instruction set. */
#include "mac.h"

#include <string.h>

typedef __int128 i128;

/* Products wider than this many bits use 128-bit block sums (scalar only). */
#define NARROW_PRODUCT_BITS 48

/* 64-bit words that hold the counted sites side by side: x and w (at most 32 bits each),
 * product, acc and carry (at most 64 each) fit four. The addend site is not stored: its bits are
 * the product's, sign- or zero-extended (flips_of_addend). */
#define MAX_WORDS 4

struct mac_plan {
    bitsim_mac_config cfg;
    i128 acc_lo, acc_hi;       /* range of the accumulator (signed when the product is) */
    i128 product_min, product_max;   /* min(0, smallest product), max(0, largest product) */
    i128 sum_max_init;         /* start value of the running minimum */
    size_t block_limit;        /* most MACs per block for which block sums fit their type */
    int nwords;                /* 64-bit words that hold the stored sites side by side */
    int split;                 /* 1: acc and carry in word 0, product, x and w in word 1;
                                  3: acc, carry, then product, x and w in words 0, 1, 2 */
    int split_bits;            /* 8 or 16: split, acc_bits 32, x_bits = w_bits = this; else 0 */
    struct {
        uint64_t mask[BITSIM_NSITES];   /* 0 for the sites stored in another word (or nowhere) */
        int shift[BITSIM_NSITES];
    } word[MAX_WORDS];
    int site_word[BITSIM_NSITES], site_shift[BITSIM_NSITES], site_bits[BITSIM_NSITES];
};

struct work {
    size_t block;
    int64_t *x, *w;            /* operands of the block */
    uint64_t *W[MAX_WORDS];    /* site words; W[j][0] holds the previous state */
};

struct sum_stats {
    i128 min, max;
    uint64_t overflows;
};

static bitsim_i128 to_pair(i128 v)
{
    bitsim_i128 p;
    p.lo = (uint64_t)v;
    p.hi = (int64_t)(v >> 64);
    return p;
}

/* Bits of v >= 0 (0 for 0). */
static int bit_length(unsigned __int128 v)
{
    int n = 0;
    while (v) {
        n++;
        v >>= 1;
    }
    return n;
}

/* Smallest two's complement width holding v; smallest unsigned width (>= 1) holding v >= 0. */
static int signed_width(i128 v) { return 1 + bit_length((unsigned __int128)(v < 0 ? -v - 1 : v)); }
static int unsigned_width(i128 v) { return v > 0 ? bit_length((unsigned __int128)v) : 1; }

static i128 from_pair(bitsim_i128 p)
{
    return (i128)(((unsigned __int128)(uint64_t)p.hi << 64) | p.lo);
}

/* The addend is the product extended to acc_bits: bit i is product bit i below the product's
 * width, and above it the product's sign bit (signed product) or 0, so its flips are the
 * product's, without a word of their own. */
static void flips_of_addend(const struct mac_plan *P, bitsim_mac_result *out)
{
    const int pb = P->site_bits[BITSIM_SITE_PRODUCT];
    int b;
    for (b = 0; b < P->site_bits[BITSIM_SITE_ADDEND]; b++)
        out->flips[BITSIM_SITE_ADDEND][b] = b < pb ? out->flips[BITSIM_SITE_PRODUCT][b]
                                            : P->acc_lo < 0 ? out->flips[BITSIM_SITE_PRODUCT][pb - 1]
                                                            : 0;
}

/* The kernel template, once per (instruction set, sum type). Like PyWavelets' *.template.h:
 * its parameters must not be defined before, and are undefined after, each inclusion. */
#if defined(K) || defined(KVBYTES) || defined(KSUM_T) || defined(KSUM_WIDE)
#error "K, KVBYTES, KSUM_T and KSUM_WIDE are the parameters of mac_kernel.h: not defined here"
#endif

#define K(name) name##_scalar
#define KVBYTES 8
#define KSUM_T int64_t
#define KSUM_WIDE 0
#include "mac_kernel.h"
#undef K
#undef KVBYTES
#undef KSUM_T
#undef KSUM_WIDE

#define K(name) name##_wide
#define KVBYTES 8
#define KSUM_T i128
#define KSUM_WIDE 1
#include "mac_kernel.h"
#undef K
#undef KVBYTES
#undef KSUM_T
#undef KSUM_WIDE

#ifdef BITSIM_X86_DISPATCH
#include <immintrin.h>

#define K(name) name##_avx2
#define KVBYTES 32
#define KSUM_T int64_t
#define KSUM_WIDE 0
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,bmi,popcnt"))), apply_to = function)
#include "mac_kernel.h"
#pragma clang attribute pop
#else
#pragma GCC push_options
#pragma GCC target("avx2,bmi,popcnt")
#include "mac_kernel.h"
#pragma GCC pop_options
#endif
#undef K
#undef KVBYTES
#undef KSUM_T
#undef KSUM_WIDE

#define K(name) name##_avx512
#define KVBYTES 64
#define KSUM_T int64_t
#define KSUM_WIDE 0
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx2,bmi,popcnt"))), apply_to = function)
#include "mac_kernel.h"
#pragma clang attribute pop
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512dq,avx512bw,avx512vl,avx2,bmi,popcnt")
#include "mac_kernel.h"
#pragma GCC pop_options
#endif
#undef K
#undef KVBYTES
#undef KSUM_T
#undef KSUM_WIDE
#endif

int bitsim_simd_supported(int level)
{
    switch (level) {
    case BITSIM_SIMD_SCALAR:
        return 1;
#ifdef BITSIM_X86_DISPATCH
    case BITSIM_SIMD_AVX2:
        return bitsim_cpu_has(BITSIM_CPU_FOR_AVX2);
    case BITSIM_SIMD_AVX512:
        return bitsim_cpu_has(BITSIM_CPU_FOR_AVX512);
#endif
    default:
        return 0;
    }
}

int bitsim_source_load(const bitsim_source *src, uint64_t start, size_t n, int64_t *out,
                       uint64_t *bad)
{
#ifdef BITSIM_X86_DISPATCH
    if (bitsim_simd_supported(BITSIM_SIMD_AVX512))
        return load_avx512(src, start, n, out, bad);
#endif
    return load_scalar(src, start, n, out, bad);
}

static int resolve_simd(int level)
{
    if (level != BITSIM_SIMD_AUTO)
        return bitsim_simd_supported(level) ? level : -1;
    for (level = BITSIM_SIMD_AVX512; level > BITSIM_SIMD_SCALAR; level--)
        if (bitsim_simd_supported(level))
            return level;
    return BITSIM_SIMD_SCALAR;
}

size_t bitsim_mac_workspace_bytes(size_t block)
{
    return BITSIM_ALIGN + 2 * bitsim_align_up(8 * block)
           + MAX_WORDS * bitsim_align_up(8 * (block + 1));
}

static int make_work(void *workspace, size_t block, struct work *wk)
{
    char *p;
    int j;
    if (!workspace || block == 0)
        return BITSIM_ERR_WORKSPACE;
    p = bitsim_align_ptr(workspace);
    wk->block = block;
    wk->x = (int64_t *)p;
    p += bitsim_align_up(8 * block);
    wk->w = (int64_t *)p;
    p += bitsim_align_up(8 * block);
    for (j = 0; j < MAX_WORDS; j++, p += bitsim_align_up(8 * (block + 1)))
        wk->W[j] = (uint64_t *)p;
    return BITSIM_OK;
}

static uint64_t low_mask(int bits) { return bits >= 64 ? ~(uint64_t)0 : ((uint64_t)1 << bits) - 1; }

/* Put the stored sites into as few 64-bit words as first-fit decreasing manages (two words for
 * the PANN setting of 8-bit operands and a 32-bit accumulator, never more than MAX_WORDS). */
static int make_plan(const bitsim_mac_config *cfg, struct mac_plan *P)
{
    /* the stored sites, ordered by width below (largest first; ties keep this order) */
    int order[] = {BITSIM_SITE_ACC, BITSIM_SITE_CARRY, BITSIM_SITE_PRODUCT, BITSIM_SITE_X,
                   BITSIM_SITE_W};
    const int nstored = (int)(sizeof order / sizeof order[0]);
    int used[MAX_WORDS] = {0};
    int i, k, j, product_bits, product_signed, two;
    if (cfg->x_bits < 1 || cfg->x_bits > 32 || cfg->w_bits < 1 || cfg->w_bits > 32
        || cfg->acc_bits < 2 || cfg->acc_bits > 64)
        return BITSIM_ERR_CONFIG;
    memset(P, 0, sizeof *P);
    P->cfg = *cfg;
    product_bits = cfg->x_bits + cfg->w_bits;
    product_signed = cfg->x_signed || cfg->w_signed;
    P->site_bits[BITSIM_SITE_X] = cfg->x_bits;
    P->site_bits[BITSIM_SITE_W] = cfg->w_bits;
    P->site_bits[BITSIM_SITE_PRODUCT] = product_bits;
    P->site_bits[BITSIM_SITE_ACC] = cfg->acc_bits;
    P->site_bits[BITSIM_SITE_ADDEND] = cfg->acc_bits;
    P->site_bits[BITSIM_SITE_CARRY] = cfg->acc_bits;
    P->site_word[BITSIM_SITE_ADDEND] = -1;
    if (product_signed) {
        P->acc_lo = -((i128)1 << (cfg->acc_bits - 1));
        P->acc_hi = ((i128)1 << (cfg->acc_bits - 1)) - 1;
    } else {
        P->acc_lo = 0;
        P->acc_hi = ((i128)1 << cfg->acc_bits) - 1;
    }
    {
        const i128 xlo = cfg->x_signed ? -((i128)1 << (cfg->x_bits - 1)) : 0;
        const i128 xhi = (cfg->x_signed ? (i128)1 << (cfg->x_bits - 1) : (i128)1 << cfg->x_bits) - 1;
        const i128 wlo = cfg->w_signed ? -((i128)1 << (cfg->w_bits - 1)) : 0;
        const i128 whi = (cfg->w_signed ? (i128)1 << (cfg->w_bits - 1) : (i128)1 << cfg->w_bits) - 1;
        const i128 corner[4] = {xlo * wlo, xlo * whi, xhi * wlo, xhi * whi};
        for (i = 0; i < 4; i++) {
            P->product_min = corner[i] < P->product_min ? corner[i] : P->product_min;
            P->product_max = corner[i] > P->product_max ? corner[i] : P->product_max;
        }
    }
    P->sum_max_init = (i128)1 << 126;
    P->block_limit = product_bits <= NARROW_PRODUCT_BITS
                         ? (size_t)1 << (62 - product_bits) : (size_t)-1;
    two = cfg->acc_bits * 2 + product_bits * 2 > 64 && cfg->acc_bits <= 32 && product_bits <= 32;
    if (two || (cfg->acc_bits == 64 && product_bits <= 32)) {
        /* each site built into its own word only: two words (acc and carry | product, x and w;
         * the common case: acc_bits up to 32, operands up to 16 bits) or, for a 64-bit
         * accumulator, three (acc | carry | product, x and w) */
        static const int two_words[3][3] = {{BITSIM_SITE_ACC, BITSIM_SITE_CARRY, -1},
                                            {BITSIM_SITE_PRODUCT, BITSIM_SITE_X, BITSIM_SITE_W},
                                            {-1, -1, -1}};
        static const int three_words[3][3] = {{BITSIM_SITE_ACC, -1, -1},
                                              {BITSIM_SITE_CARRY, -1, -1},
                                              {BITSIM_SITE_PRODUCT, BITSIM_SITE_X, BITSIM_SITE_W}};
        const int (*sites)[3] = two ? two_words : three_words;
        P->split = two ? 1 : 3;
        P->split_bits = two && cfg->acc_bits == 32 && cfg->x_bits == cfg->w_bits
                                && (cfg->x_bits == 8 || cfg->x_bits == 16) ? cfg->x_bits : 0;
        P->nwords = two ? 2 : 3;
        for (j = 0; j < P->nwords; j++)
            for (i = 0; i < 3 && sites[j][i] >= 0; i++) {
                k = sites[j][i];
                P->site_word[k] = j;
                P->site_shift[k] = used[j];
                P->word[j].mask[k] = low_mask(P->site_bits[k]);
                P->word[j].shift[k] = used[j];
                used[j] += P->site_bits[k];
            }
        return BITSIM_OK;
    }
    for (i = 1; i < nstored; i++)   /* insertion sort, stable */
        for (j = i; j > 0 && P->site_bits[order[j]] > P->site_bits[order[j - 1]]; j--) {
            k = order[j];
            order[j] = order[j - 1];
            order[j - 1] = k;
        }
    for (i = 0; i < nstored; i++) {
        k = order[i];
        for (j = 0; used[j] + P->site_bits[k] > 64; j++)
            ;
        P->site_word[k] = j;
        P->site_shift[k] = used[j];
        P->word[j].mask[k] = low_mask(P->site_bits[k]);
        P->word[j].shift[k] = used[j];
        used[j] += P->site_bits[k];
        if (j + 1 > P->nwords)
            P->nwords = j + 1;
    }
    return BITSIM_OK;
}

typedef int (*run_fn)(const struct mac_plan *, const bitsim_source *, const bitsim_source *,
                      uint64_t, uint64_t, i128, const struct work *, bitsim_mac_result *,
                      uint64_t *);
typedef int (*tail_fn)(const struct mac_plan *, const bitsim_source *, const bitsim_source *,
                       uint64_t, uint64_t, const struct work *, i128 *, int *, uint64_t *);

typedef int (*widths_fn)(const struct mac_plan *, const bitsim_source *, const bitsim_source *,
                         uint64_t, uint64_t, const struct work *, uint64_t *,
                         struct sum_stats *, uint64_t *);

struct kernel {
    run_fn run;
    tail_fn tail;
    widths_fn widths;
};

/* The kernel for this plan and instruction set (AUTO: the best the CPU has); NULL when the
 * requested set is unavailable. */
static const struct kernel *pick_kernel(const struct mac_plan *P, int simd)
{
    static const struct kernel wide = {run_wide, tail_wide, dot_widths_wide};
    static const struct kernel by_level[] = {
        {run_scalar, tail_scalar, dot_widths_scalar},
#ifdef BITSIM_X86_DISPATCH
        {run_avx2, tail_avx2, dot_widths_avx2},
        {run_avx512, tail_avx512, dot_widths_avx512},
#endif
    };
    simd = resolve_simd(simd);
    if (simd < 0)
        return NULL;
    return P->cfg.x_bits + P->cfg.w_bits > NARROW_PRODUCT_BITS ? &wide : &by_level[simd];
}

static int prepare(const bitsim_mac_config *cfg, int simd, void *workspace, size_t block,
                   struct mac_plan *P, struct work *wk, const struct kernel **kern)
{
    int status = make_plan(cfg, P);
    if (status == BITSIM_OK)
        status = make_work(workspace, block, wk);
    if (status == BITSIM_OK && (*kern = pick_kernel(P, simd)) == NULL)
        status = BITSIM_ERR_SIMD;
    return status;
}

int bitsim_mac_run(const bitsim_mac_config *cfg, const bitsim_source *x, const bitsim_source *w,
                   uint64_t start, uint64_t count, bitsim_i128 sum_before, int simd,
                   void *workspace, size_t block, bitsim_mac_result *out, uint64_t *bad_index)
{
    struct mac_plan P;
    struct work wk;
    const struct kernel *kern;
    int status = prepare(cfg, simd, workspace, block, &P, &wk, &kern);
    memset(out, 0, sizeof *out);
    if (status != BITSIM_OK)
        return status;
    return kern->run(&P, x, w, start, count, start > 0 ? from_pair(sum_before) : 0, &wk, out,
                     bad_index);
}

int bitsim_mac_tail(const bitsim_mac_config *cfg, const bitsim_source *x, const bitsim_source *w,
                    uint64_t start, uint64_t count, int simd, void *workspace, size_t block,
                    bitsim_i128 *tail, int *restarted, uint64_t *bad_index)
{
    struct mac_plan P;
    struct work wk;
    const struct kernel *kern;
    i128 sum = 0;
    int status = prepare(cfg, simd, workspace, block, &P, &wk, &kern);
    *restarted = 0;
    if (status == BITSIM_OK)
        status = kern->tail(&P, x, w, start, count, &wk, &sum, restarted, bad_index);
    *tail = to_pair(sum);
    return status;
}

int bitsim_mac_tail_vectorised(const bitsim_mac_config *cfg, const bitsim_source *x,
                               const bitsim_source *w, int simd)
{
    struct mac_plan P;
    simd = resolve_simd(simd);
    if (make_plan(cfg, &P) != BITSIM_OK || simd <= BITSIM_SIMD_SCALAR
        || cfg->x_bits + cfg->w_bits > NARROW_PRODUCT_BITS)
        return 0;
#ifdef BITSIM_X86_DISPATCH
    return (simd == BITSIM_SIMD_AVX512 ? tail_kind_avx512 : tail_kind_avx2)(&P, x, w) >= 0;
#else
    (void)x;
    (void)w;
    return 0;
#endif
}

int bitsim_dot_widths(const bitsim_mac_config *cfg, const bitsim_source *x, const bitsim_source *w,
                      uint64_t first_dot, uint64_t dots, int simd, void *workspace, size_t block,
                      uint64_t hist[BITSIM_WIDTH_BINS], bitsim_i128 *min_sum,
                      bitsim_i128 *max_sum, uint64_t *bad_index)
{
    struct mac_plan P;
    struct work wk;
    const struct kernel *kern;
    struct sum_stats all;
    int status = prepare(cfg, simd, workspace, block, &P, &wk, &kern);
    memset(hist, 0, BITSIM_WIDTH_BINS * sizeof *hist);
    all.min = (i128)1 << 126;
    all.max = -all.min;
    all.overflows = 0;
    if (status == BITSIM_OK && cfg->length == 0)
        status = BITSIM_ERR_CONFIG;
    if (status == BITSIM_OK)
        status = kern->widths(&P, x, w, first_dot * cfg->length, dots * cfg->length, &wk, hist,
                              &all, bad_index);
    *min_sum = to_pair(all.min);
    *max_sum = to_pair(all.max);
    return status;
}
