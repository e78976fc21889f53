/* Glitch-aware timing simulator: workspace, plan checks and instruction-set dispatch. The
 * kernel is the template timing_kernel.h, compiled once per instruction set. */
#include "timing.h"

#include <string.h>

#define MAX_LANES 8   /* 64-bit words per vector of the widest variant */
#define VEC_BYTES (8 * MAX_LANES)

struct timing_work {
    void *S, *Sp;     /* nets vectors: settled values of this block and of the previous one */
    void *H;          /* slots vectors: the history of the block's vectors */
    void *cnt;        /* nets vectors: rising changes */
    void *srise, *sfall;   /* nets vectors: settled changes */
    void *anyc;       /* horizon + 1 vectors: vectors that changed at each step */
    int64_t *xv, *wv;   /* 64 x MAX_LANES values of each operand */
    uint8_t *bytes;     /* one byte of each value of a block */
};

size_t bitsim_timing_workspace_bytes(const bitsim_timing_plan *p)
{
    const size_t nets = p->nets > 0 ? (size_t)p->nets : 0;
    const size_t slots = p->slots > 0 ? (size_t)p->slots : 0;
    const size_t steps = p->horizon >= 0 ? (size_t)p->horizon + 1 : 0;
    return BITSIM_ALIGN + 5 * bitsim_align_up(nets * VEC_BYTES)
           + bitsim_align_up(slots * VEC_BYTES) + bitsim_align_up(steps * VEC_BYTES)
           + 3 * bitsim_align_up(64 * MAX_LANES * 8);
}

static void make_work(void *workspace, const bitsim_timing_plan *p, struct timing_work *wk)
{
    char *q = bitsim_align_ptr(workspace);
    const size_t nets = bitsim_align_up((size_t)p->nets * VEC_BYTES);
    wk->S = q;
    wk->Sp = q + nets;
    wk->cnt = q + 2 * nets;
    wk->srise = q + 3 * nets;
    wk->sfall = q + 4 * nets;
    q += 5 * nets;
    wk->H = q;
    q += bitsim_align_up((size_t)p->slots * VEC_BYTES);
    wk->anyc = q;
    q += bitsim_align_up(((size_t)p->horizon + 1) * VEC_BYTES);
    wk->xv = (int64_t *)q;
    q += bitsim_align_up(64 * MAX_LANES * 8);
    wk->wv = (int64_t *)q;
    q += bitsim_align_up(64 * MAX_LANES * 8);
    wk->bytes = (uint8_t *)q;
}

#if defined(T) || defined(TLANES)
#error "T and TLANES are the parameters of timing_kernel.h: not defined here"
#endif

#define T(name) name##_t64
#define TLANES 1
#include "timing_kernel.h"
#undef T
#undef TLANES

#ifdef BITSIM_X86_DISPATCH
#include <immintrin.h>

/* What the AVX-512 variant needs: the MAC kernel's AVX-512 features and AVX512VPOPCNTDQ. */
#define TIMING_CPU_FOR_AVX512 (BITSIM_CPU_FOR_AVX512 | BITSIM_CPU_AVX512VPOPCNTDQ)

#define T(name) name##_t256
#define TLANES 4
#define ISA_KERNEL "timing_kernel.h"
#define ISA_BITS 256
#include "isa_instantiate.h"
#undef ISA_KERNEL
#undef ISA_BITS
#undef T
#undef TLANES

#define T(name) name##_t512
#define TLANES 8
#define ISA_KERNEL "timing_kernel.h"
#define ISA_BITS 512
#include "isa_instantiate.h"
#undef ISA_KERNEL
#undef ISA_BITS
#undef T
#undef TLANES
#endif

static int in_range(int64_t v, int64_t lo, int64_t hi) { return v >= lo && v < hi; }

/* Every index of the plan inside its array: the kernel then reads and writes nothing else. */
static int check(const bitsim_timing_plan *p)
{
    int64_t q, n;
    int g, j;
    if (p->nets < 2 || p->ngates < 0 || p->x_bits < 1 || p->x_bits > 64 || p->w_bits < 1
        || p->w_bits > 64 || p->horizon < 0 || p->slots < p->nets || p->slots > INT32_MAX
        || p->nargs < 0)
        return BITSIM_ERR_TIMING_PLAN;
    for (g = 0; g < p->ngates; g++)
        if (p->op[g] < BITSIM_G_AND || p->op[g] > BITSIM_G_BUF || !in_range(p->a[g], 0, p->nets)
            || !in_range(p->b[g], 0, p->nets) || !in_range(p->c[g], 0, p->nets)
            || !in_range(p->out[g], 2, p->nets))
            return BITSIM_ERR_TIMING_PLAN;
    for (j = 0; j < p->x_bits + p->w_bits; j++)
        if (!in_range(p->inputs[j], 2, p->nets) || !in_range(p->in_slot[j], p->nets, p->slots))
            return BITSIM_ERR_TIMING_PLAN;
    for (n = 0; n < p->nets; n++)
        if (!in_range(p->last[n], 0, p->slots))
            return BITSIM_ERR_TIMING_PLAN;
    if (p->step_at[0] != 0)
        return BITSIM_ERR_TIMING_PLAN;
    for (j = 0; j <= p->horizon; j++)
        if (p->step_at[j + 1] < p->step_at[j])
            return BITSIM_ERR_TIMING_PLAN;
    for (q = 0; q < p->step_at[p->horizon + 1]; q++) {
        const int32_t *e = p->entries + (size_t)BITSIM_T_FIELDS * (size_t)q;
        if (e[0] < BITSIM_T_DIRECT || e[0] > BITSIM_T_EVAL || !in_range(e[6], p->nets, p->slots)
            || !in_range(e[7], 0, p->nets))
            return BITSIM_ERR_TIMING_PLAN;
        if (e[0] == BITSIM_T_INERTIAL || e[0] == BITSIM_T_TRANSPORT) {
            const int32_t d = e[3] > e[4] ? e[3] : e[4];
            int32_t k;
            if (!in_range(e[3], 1, BITSIM_T_MAX_DELAY + 1)
                || !in_range(e[4], 1, BITSIM_T_MAX_DELAY + 1) || e[2] < 0
                || (int64_t)e[2] + 3 + d > p->nargs || !in_range(e[5], 0, p->slots)
                || e[1] < BITSIM_G_AND || e[1] > BITSIM_G_BUF)
                return BITSIM_ERR_TIMING_PLAN;
            for (k = 0; k < 3 + d; k++)
                if (!in_range(p->args[e[2] + k], 0, p->slots))
                    return BITSIM_ERR_TIMING_PLAN;
        } else if (e[1] < BITSIM_G_AND || e[1] > BITSIM_G_BUF || !in_range(e[2], 0, p->slots)
                   || !in_range(e[3], 0, p->slots) || !in_range(e[4], 0, p->slots)
                   || (e[0] == BITSIM_T_DIRECT && !in_range(e[5], 0, p->slots))) {
            return BITSIM_ERR_TIMING_PLAN;
        }
    }
    return BITSIM_OK;
}

int bitsim_timing_run(const bitsim_timing_plan *p, const bitsim_source *x,
                      const bitsim_source *w, uint64_t start, uint64_t count, int simd,
                      void *workspace, uint64_t *rise, uint64_t *fall, uint64_t *settled_rise,
                      uint64_t *settled_fall, int64_t *settle, uint64_t *bad_index)
{
    struct timing_work wk;
    int status = check(p);
    if (status != BITSIM_OK)
        return status;
    if (!workspace)
        return BITSIM_ERR_WORKSPACE;
    make_work(workspace, p, &wk);
#ifdef BITSIM_X86_DISPATCH
    if (simd == BITSIM_SIMD_AUTO)
        simd = bitsim_cpu_has(TIMING_CPU_FOR_AVX512) ? BITSIM_SIMD_AVX512
               : bitsim_cpu_has(BITSIM_CPU_FOR_AVX2) ? BITSIM_SIMD_AVX2 : BITSIM_SIMD_SCALAR;
    if (simd == BITSIM_SIMD_AVX512) {
        if (!bitsim_cpu_has(TIMING_CPU_FOR_AVX512))
            return BITSIM_ERR_SIMD;
        return run_t512(p, x, w, start, count, &wk, rise, fall, settled_rise, settled_fall, settle,
                        bad_index);
    }
    if (simd == BITSIM_SIMD_AVX2) {
        if (!bitsim_cpu_has(BITSIM_CPU_FOR_AVX2))
            return BITSIM_ERR_SIMD;
        return run_t256(p, x, w, start, count, &wk, rise, fall, settled_rise, settled_fall, settle,
                        bad_index);
    }
#endif
    if (simd != BITSIM_SIMD_SCALAR && simd != BITSIM_SIMD_AUTO)
        return BITSIM_ERR_SIMD;
    return run_t64(p, x, w, start, count, &wk, rise, fall, settled_rise, settled_fall, settle,
                        bad_index);
}
