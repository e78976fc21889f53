/* Gate-level toggle simulator: workspace, checks and instruction-set dispatch. The kernel is
 * the template gates_kernel.h, compiled once per instruction set. */
#include "gates.h"

#include <string.h>

#include "mac.h"

#define MAX_BLOCK 512   /* vectors per block of the widest variant */

struct gate_work {
    void *words, *words2;   /* nets x block words: current and previous block */
    void *counts;           /* nets x lanes toggle counters */
    int64_t *x, *w;    /* operand values of the block */
    uint64_t *first, *acc;
    uint8_t *bytes, *bytes2;   /* one byte of each value of a block */
};

static size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }

size_t bitsim_gates_workspace_bytes(int nets)
{
    const size_t n = nets > 0 ? (size_t)nets : 0;
    return 64 + 3 * align64(n * 64) + 6 * align64(MAX_BLOCK * 8);
}

static void make_work(void *workspace, int nets, struct gate_work *wk)
{
    char *p = (char *)workspace + ((64 - ((uintptr_t)workspace & 63)) & 63);
    wk->words = p;
    p += align64((size_t)nets * 64);
    wk->words2 = p;
    p += align64((size_t)nets * 64);
    wk->counts = p;
    p += align64((size_t)nets * 64);
    wk->x = (int64_t *)p;
    p += align64(MAX_BLOCK * 8);
    wk->w = (int64_t *)p;
    p += align64(MAX_BLOCK * 8);
    wk->first = (uint64_t *)p;
    p += align64(MAX_BLOCK * 8);
    wk->acc = (uint64_t *)p;
    p += align64(MAX_BLOCK * 8);
    wk->bytes = (uint8_t *)p;
    p += align64(MAX_BLOCK * 8);
    wk->bytes2 = (uint8_t *)p;
}

#define G(name) name##_g64
#define GLANES 1
#include "gates_kernel.h"
#undef G
#undef GLANES

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_X86_DISPATCH 1
#include <immintrin.h>
#define G(name) name##_g256
#define GLANES 4
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,popcnt"))), apply_to = function)
#include "gates_kernel.h"
#pragma clang attribute pop
#else
#pragma GCC push_options
#pragma GCC target("avx2,popcnt")
#include "gates_kernel.h"
#pragma GCC pop_options
#endif
#undef G
#undef GLANES

#define G(name) name##_g512
#define GLANES 8
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx512vpopcntdq,avx2,popcnt"))), apply_to = function)
#include "gates_kernel.h"
#pragma clang attribute pop
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512dq,avx512bw,avx512vl,avx512vpopcntdq,avx2,popcnt")
#include "gates_kernel.h"
#pragma GCC pop_options
#endif
#undef G
#undef GLANES
#endif

static int check(const bitsim_circuit *c)
{
    int g, j;
    if (c->nets < 2 || c->ngates < 0 || c->x_bits < 0 || c->x_bits > 64 || c->w_bits < 0
        || c->w_bits > 64 || c->acc_bits < 0 || c->acc_bits > 64 || c->first_net >= c->nets)
        return BITSIM_ERR_CONFIG;
    for (g = 0; g < c->ngates; g++)
        if (c->op[g] < BITSIM_G_AND || c->op[g] > BITSIM_G_DFF || c->a[g] < 0
            || c->a[g] >= c->nets || c->b[g] < 0 || c->b[g] >= c->nets || c->c[g] < 0
            || c->c[g] >= c->nets || c->out[g] < 2 || c->out[g] >= c->nets)
            return BITSIM_ERR_CONFIG;
    for (j = 0; j < c->x_bits; j++)
        if (c->x_nets[j] < 2 || c->x_nets[j] >= c->nets)
            return BITSIM_ERR_CONFIG;
    for (j = 0; j < c->w_bits; j++)
        if (c->w_nets[j] < 2 || c->w_nets[j] >= c->nets)
            return BITSIM_ERR_CONFIG;
    for (j = 0; c->acc_nets && j < c->acc_bits; j++)
        if (c->acc_nets[j] < 2 || c->acc_nets[j] >= c->nets)
            return BITSIM_ERR_CONFIG;
    return BITSIM_OK;
}

int bitsim_gates_run(const bitsim_circuit *c, const bitsim_source *x, const bitsim_source *w,
                     uint64_t start, uint64_t warmup, uint64_t count, uint64_t acc_before,
                     int simd, void *workspace, uint64_t *toggles, uint64_t *bad_index)
{
    struct gate_work wk;
    int status = check(c);
    if (status != BITSIM_OK)
        return status;
    if (!workspace || warmup > start)
        return BITSIM_ERR_WORKSPACE;
    make_work(workspace, c->nets, &wk);
    if (start - warmup == 0)
        acc_before = 0;
#ifdef HAVE_X86_DISPATCH
    __builtin_cpu_init();
    if (simd == BITSIM_SIMD_AUTO)
        simd = __builtin_cpu_supports("avx512vpopcntdq")
                       && bitsim_simd_supported(BITSIM_SIMD_AVX512) ? BITSIM_SIMD_AVX512
               : bitsim_simd_supported(BITSIM_SIMD_AVX2) ? BITSIM_SIMD_AVX2 : BITSIM_SIMD_SCALAR;
    if (simd == BITSIM_SIMD_AVX512) {
        if (!__builtin_cpu_supports("avx512vpopcntdq") || !bitsim_simd_supported(simd))
            return BITSIM_ERR_SIMD;
        return run_g512(c, x, w, start - warmup, warmup, count, acc_before, &wk, toggles,
                        bad_index);
    }
    if (simd == BITSIM_SIMD_AVX2) {
        if (!bitsim_simd_supported(simd))
            return BITSIM_ERR_SIMD;
        return run_g256(c, x, w, start - warmup, warmup, count, acc_before, &wk, toggles,
                        bad_index);
    }
#endif
    if (simd != BITSIM_SIMD_SCALAR && simd != BITSIM_SIMD_AUTO)
        return BITSIM_ERR_SIMD;
    return run_g64(c, x, w, start - warmup, warmup, count, acc_before, &wk, toggles, bad_index);
}
