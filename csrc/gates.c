/* Gate-level toggle simulator: workspace, checks and instruction-set dispatch. The kernel is
 * the template gates_kernel.h, compiled once per instruction set. */
#include "gates.h"

#include <string.h>

/* 512-vector blocks per visit to a gate (gates_kernel.h): enough to amortise the counter
 * update and the shift from the previous visit (measured: 8 beats 2 and 4 on 8x8 and 16x16
 * multipliers), 512 bytes per value slot. The AVX-512 operand deinterleave assumes 8. */
#define GATES_BLOCKS 8
#define VISIT (512 * GATES_BLOCKS)   /* vectors per visit */
#define MAX_SOURCE_BITS (64 + 64 + 64 + 1)   /* x, w, acc, first */

/* The workspace. Values live in slots, not one per net: a gate's output takes a slot freed by
 * a net that no later gate reads, so the values a visit touches stay few; constants,
 * sources and nets that no gate drives keep their own. Counters and the last words of the
 * previous visit are kept per gate, in the order the gates run. */
struct gate_work {
    void *words;              /* slots x blocks 512-bit words: the values of a visit */
    void *counts;             /* per gate 8 toggle counters (first: the reset state, per net) */
    uint64_t *last;           /* per gate: its output's last word of the previous visit */
    uint64_t *carry;          /* per gate: a DFF input's last word of the previous visit */
    int32_t *sa, *sb, *sc, *so;   /* per gate: the slots of its inputs and output */
    int32_t *src;             /* the slots of the x, w, acc bits and the first net */
    uint64_t *tops;           /* per source bit: its last word of the previous visit */
    uint64_t *src_counts;     /* per source bit: its toggles */
    int32_t *slot, *last_use, *free_slots;   /* per net, for the slot assignment */
    bitsim_gate_run *runs;    /* the gates' runs of one opcode */
    int nruns;
    int64_t *x, *w;           /* operand values of a visit */
    uint64_t *first, *acc;
    uint64_t *draws;          /* a uniform sampler's draws of a visit (gates_kernel.h) */
    uint8_t *bytes;           /* one byte of each operand of a visit */
    uint8_t *packed;          /* one byte of each value of a visit (wider operands, controls) */
    uint8_t *blocks;          /* a visit's bytes in block order (gates_kernel.h) */
};

/* Carves the workspace (p: NULL to measure it); returns its size. */
static size_t carve(char *p, size_t nets, size_t ngates, struct gate_work *wk)
{
    size_t size = 0;
#define TAKE(field, bytes)                                                                     \
    do {                                                                                       \
        if (p)                                                                                 \
            wk->field = (void *)(p + size);                                                    \
        size += bitsim_align_up(bytes);                                                        \
    } while (0)
    TAKE(words, nets * 64 * GATES_BLOCKS);
    TAKE(counts, (nets > ngates ? nets : ngates) * 64);
    TAKE(last, ngates * 8);
    TAKE(carry, ngates * 8);
    TAKE(sa, ngates * 4);
    TAKE(sb, ngates * 4);
    TAKE(sc, ngates * 4);
    TAKE(so, ngates * 4);
    TAKE(src, MAX_SOURCE_BITS * 4);
    TAKE(tops, MAX_SOURCE_BITS * 8);
    TAKE(src_counts, MAX_SOURCE_BITS * 8);
    TAKE(slot, nets * 4);
    TAKE(last_use, nets * 4);
    TAKE(free_slots, nets * 4);
    TAKE(runs, ngates * sizeof(bitsim_gate_run));
    TAKE(x, VISIT * 8);
    TAKE(w, VISIT * 8);
    TAKE(first, VISIT * 8);
    TAKE(acc, VISIT * 8);
    TAKE(draws, (VISIT / 2 + 1) * 8);
    TAKE(bytes, VISIT);
    TAKE(packed, VISIT);
    TAKE(blocks, VISIT);
#undef TAKE
    return size;
}

size_t bitsim_gates_workspace_bytes(int nets, int ngates)
{
    return BITSIM_ALIGN + carve(NULL, nets > 0 ? (size_t)nets : 0,
                                ngates > 0 ? (size_t)ngates : 0, NULL);
}

/* Slots: constants, sources and undriven nets first, one each (the reset state lives there);
 * then each gate's output takes the last slot freed, or a new one, and the slots of its
 * inputs are freed after the last gate that reads them. */
static int assign_slots(const bitsim_circuit *c, struct gate_work *wk)
{
    int32_t *slot = wk->slot, *last_use = wk->last_use, *free_slots = wk->free_slots;
    int g, j, net, nslots = 0, nfree = 0;
    const int nsrc = c->x_bits + c->w_bits + (c->acc_nets ? c->acc_bits : 0)
                     + (c->first_net >= 0);
    for (net = 0; net < c->nets; net++)
        last_use[net] = -1, slot[net] = -1;
    for (g = 0; g < c->ngates; g++)
        slot[c->out[g]] = -2;   /* driven */
    for (j = 0; j < c->x_bits; j++)
        wk->src[j] = c->x_nets[j];
    for (j = 0; j < c->w_bits; j++)
        wk->src[c->x_bits + j] = c->w_nets[j];
    for (j = 0; c->acc_nets && j < c->acc_bits; j++)
        wk->src[c->x_bits + c->w_bits + j] = c->acc_nets[j];
    if (c->first_net >= 0)
        wk->src[nsrc - 1] = c->first_net;
    for (j = 0; j < nsrc; j++)
        slot[wk->src[j]] = -1;   /* sources are permanent even when a gate drives them */
    slot[0] = slot[1] = -1;
    for (net = 0; net < c->nets; net++)
        if (slot[net] == -1)
            slot[net] = nslots++;
        else
            last_use[net] = -2;   /* driven: a gate assigns its slot */
    for (j = 0; j < nsrc; j++)
        wk->src[j] = slot[wk->src[j]];
    for (g = 0; g < c->ngates; g++) {
        if (last_use[c->a[g]] != -1)
            last_use[c->a[g]] = g;
        if (last_use[c->b[g]] != -1)
            last_use[c->b[g]] = g;
        if (last_use[c->c[g]] != -1)
            last_use[c->c[g]] = g;
    }
    for (g = 0; g < c->ngates; g++) {
        const int32_t in[3] = {c->a[g], c->b[g], c->c[g]};
        const int o = c->out[g];
        if (slot[in[0]] < 0 || slot[in[1]] < 0 || slot[in[2]] < 0)
            return BITSIM_ERR_CIRCUIT;   /* read before it is driven: not in topological order */
        wk->sa[g] = slot[in[0]];
        wk->sb[g] = slot[in[1]];
        wk->sc[g] = slot[in[2]];
        if (last_use[o] == -1)   /* a permanent net (a source) */
            wk->so[g] = slot[o];
        else
            wk->so[g] = slot[o] = nfree ? free_slots[--nfree] : nslots++;
        for (j = 0; j < 3; j++)   /* free each input once, after its last reader */
            if (last_use[in[j]] == g && (j == 0 || in[j] != in[0]) && (j < 2 || in[j] != in[1]))
                free_slots[nfree++] = slot[in[j]];
        if (last_use[o] >= 0 && last_use[o] < g)   /* read only before, by an earlier writer */
            free_slots[nfree++] = slot[o];
        else if (last_use[o] == -2)   /* never read */
            free_slots[nfree++] = slot[o];
    }
    return BITSIM_OK;
}

static int make_work(void *workspace, const bitsim_circuit *c, struct gate_work *wk)
{
    carve(bitsim_align_ptr(workspace), (size_t)c->nets, (size_t)c->ngates, wk);
    wk->nruns = bitsim_gate_runs(c->op, c->ngates, wk->runs);
    return assign_slots(c, wk);
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
#define ISA_KERNEL "gates_kernel.h"
#define ISA_BITS 256
#include "isa_instantiate.h"
#undef ISA_KERNEL
#undef ISA_BITS
#undef G
#undef GISA

#define G(name) name##_g512
#define GISA 512
#define ISA_KERNEL "gates_kernel.h"
#define ISA_BITS 512
#include "isa_instantiate.h"
#undef ISA_KERNEL
#undef ISA_BITS
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
    status = make_work(workspace, c, &wk);
    if (status != BITSIM_OK)
        return status;
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
