/* Gate-level toggle simulator: workspace, checks and instruction-set dispatch. The kernel is
 * the template gates_kernel.h, compiled once per instruction set. */
#include "gates.h"

#include <string.h>

/* 512-vector blocks per visit to a gate (gates_kernel.h): enough to amortise the counter
 * update and the shift from the previous visit, few enough for L1 (64 bytes x blocks per net). */
#define GATES_BLOCKS 4
#define VISIT (512 * GATES_BLOCKS)   /* vectors per visit */

struct gate_work {
    void *words;              /* nets x blocks 512-bit words: every net's values of a visit */
    void *counts;             /* nets x 8 toggle counters */
    uint64_t *carry;          /* per gate: a DFF input's last word of the previous visit */
    uint64_t *tops;           /* per source bit: its last word of the previous visit */
    bitsim_gate_run *runs;    /* the gates' runs of one opcode */
    int nruns;
    int64_t *x, *w;           /* operand values of a visit */
    uint64_t *first, *acc;
    uint8_t *bytes, *bytes2;  /* one byte of each value of a visit */
    uint8_t *bytes3;          /* the same in block order (gates_kernel.h) */
};

#define MAX_SOURCE_BITS (64 + 64 + 64 + 1)   /* x, w, acc, first */

size_t bitsim_gates_workspace_bytes(int nets, int ngates)
{
    const size_t n = nets > 0 ? (size_t)nets : 0, g = ngates > 0 ? (size_t)ngates : 0;
    return BITSIM_ALIGN + bitsim_align_up(n * 64 * GATES_BLOCKS) + bitsim_align_up(n * 64)
           + bitsim_align_up(g * 8) + bitsim_align_up(MAX_SOURCE_BITS * 8)
           + bitsim_align_up(g * sizeof(bitsim_gate_run)) + 4 * bitsim_align_up(VISIT * 8)
           + 3 * bitsim_align_up(VISIT);
}

static void make_work(void *workspace, const bitsim_circuit *c, struct gate_work *wk)
{
    char *p = bitsim_align_ptr(workspace);
    wk->words = p;
    p += bitsim_align_up((size_t)c->nets * 64 * GATES_BLOCKS);
    wk->counts = p;
    p += bitsim_align_up((size_t)c->nets * 64);
    wk->carry = (uint64_t *)p;
    p += bitsim_align_up((size_t)c->ngates * 8);
    wk->tops = (uint64_t *)p;
    p += bitsim_align_up(MAX_SOURCE_BITS * 8);
    wk->runs = (bitsim_gate_run *)p;
    p += bitsim_align_up((size_t)c->ngates * sizeof(bitsim_gate_run));
    wk->x = (int64_t *)p;
    p += bitsim_align_up(VISIT * 8);
    wk->w = (int64_t *)p;
    p += bitsim_align_up(VISIT * 8);
    wk->first = (uint64_t *)p;
    p += bitsim_align_up(VISIT * 8);
    wk->acc = (uint64_t *)p;
    p += bitsim_align_up(VISIT * 8);
    wk->bytes = (uint8_t *)p;
    p += bitsim_align_up(VISIT);
    wk->bytes2 = (uint8_t *)p;
    p += bitsim_align_up(VISIT);
    wk->bytes3 = (uint8_t *)p;
    wk->nruns = bitsim_gate_runs(c->op, c->ngates, wk->runs);
}

int bitsim_gate_runs(const int32_t *op, int n, bitsim_gate_run *runs)
{
    int g, r = 0;
    for (g = 0; g < n; g++) {
        if (r == 0 || runs[r - 1].op != op[g]) {
            runs[r].op = op[g];
            runs[r].start = g;
            r++;
        }
        runs[r - 1].end = g + 1;
    }
    return r;
}

/* The kernel template, once per instruction set. Like PyWavelets' *.template.h: its parameters
 * must not be defined before, and are undefined after, each inclusion. */
#if defined(G) || defined(GISA)
#error "G and GISA are the parameters of gates_kernel.h: not defined here"
#endif

#define G(name) name##_g64
#define GISA 64
#include "gates_kernel.h"
#undef G
#undef GISA

#ifdef BITSIM_X86_DISPATCH
#include <immintrin.h>

/* What the AVX-512 variant needs: the MAC kernel's AVX-512 features and AVX512VPOPCNTDQ. */
#define GATES_CPU_FOR_AVX512 (BITSIM_CPU_FOR_AVX512 | BITSIM_CPU_AVX512VPOPCNTDQ)

#define G(name) name##_g256
#define GISA 256
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
#undef GISA

#define G(name) name##_g512
#define GISA 512
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
#undef GISA
#endif

static int check(const bitsim_circuit *c)
{
    int g, j;
    if (c->nets < 2 || c->ngates < 0 || c->x_bits < 0 || c->x_bits > 64 || c->w_bits < 0
        || c->w_bits > 64 || c->acc_bits < 0 || c->acc_bits > 64 || c->first_net >= c->nets)
        return BITSIM_ERR_CIRCUIT;
    for (g = 0; g < c->ngates; g++)
        if (c->op[g] < BITSIM_G_AND || c->op[g] > BITSIM_G_DFF || c->a[g] < 0
            || c->a[g] >= c->nets || c->b[g] < 0 || c->b[g] >= c->nets || c->c[g] < 0
            || c->c[g] >= c->nets || c->out[g] < 2 || c->out[g] >= c->nets)
            return BITSIM_ERR_CIRCUIT;
    for (j = 0; j < c->x_bits; j++)
        if (c->x_nets[j] < 2 || c->x_nets[j] >= c->nets)
            return BITSIM_ERR_CIRCUIT;
    for (j = 0; j < c->w_bits; j++)
        if (c->w_nets[j] < 2 || c->w_nets[j] >= c->nets)
            return BITSIM_ERR_CIRCUIT;
    for (j = 0; c->acc_nets && j < c->acc_bits; j++)
        if (c->acc_nets[j] < 2 || c->acc_nets[j] >= c->nets)
            return BITSIM_ERR_CIRCUIT;
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
    if (!workspace)
        return BITSIM_ERR_WORKSPACE;
    if (warmup > start)
        return BITSIM_ERR_WARMUP;
    make_work(workspace, c, &wk);
    if (start - warmup == 0)
        acc_before = 0;
#ifdef BITSIM_X86_DISPATCH
    if (simd == BITSIM_SIMD_AUTO)
        simd = bitsim_cpu_has(GATES_CPU_FOR_AVX512) ? BITSIM_SIMD_AVX512
               : bitsim_cpu_has(BITSIM_CPU_FOR_AVX2) ? BITSIM_SIMD_AVX2 : BITSIM_SIMD_SCALAR;
    if (simd == BITSIM_SIMD_AVX512) {
        if (!bitsim_cpu_has(GATES_CPU_FOR_AVX512))
            return BITSIM_ERR_SIMD;
        return run_g512(c, x, w, start - warmup, warmup, count, acc_before, &wk, toggles,
                        bad_index);
    }
    if (simd == BITSIM_SIMD_AVX2) {
        if (!bitsim_cpu_has(BITSIM_CPU_FOR_AVX2))
            return BITSIM_ERR_SIMD;
        return run_g256(c, x, w, start - warmup, warmup, count, acc_before, &wk, toggles,
                        bad_index);
    }
#endif
    if (simd != BITSIM_SIMD_SCALAR && simd != BITSIM_SIMD_AUTO)
        return BITSIM_ERR_SIMD;
    return run_g64(c, x, w, start - warmup, warmup, count, acc_before, &wk, toggles, bad_index);
}
