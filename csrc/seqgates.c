/* Sequential netlist simulator: workspace, checks and instruction-set dispatch. The kernel is
 * the template seqgates_kernel.h, compiled once per instruction set (its 512-lane vectors are
 * one AVX-512 register, two AVX2 ones or eight general-purpose words). */
#include "seqgates.h"

#include <string.h>

struct seq_work {
    void *V, *P, *start, *reset, *cnt;   /* nets x 512-bit words each */
    int64_t *vals;                       /* one stretch's values of one source: cycles */
    uint8_t *bytes;                      /* source bytes x cycles x 512 stretches */
    bitsim_gate_run *runs;               /* the gates' runs of one opcode (gates.h) */
    int nruns;
};

static size_t total_port_bits(const bitsim_seq_circuit *c)
{
    size_t bits = 0;
    int i;
    for (i = 0; i < c->nports; i++)
        bits += (size_t)c->port_bits[i];
    return bits;
}

/* Bytes of the sources' values: ceil(bits / 8) per port, 1 for the clear port. */
static size_t source_bytes(const bitsim_seq_circuit *c)
{
    size_t bytes = c->clear_net >= 0;
    int i;
    for (i = 0; i < c->nports; i++)
        bytes += (size_t)(c->port_bits[i] + 7) / 8;
    return bytes;
}

size_t bitsim_seq_workspace_bytes(const bitsim_seq_circuit *c, size_t cycles)
{
    const size_t nets = c->nets > 0 ? (size_t)c->nets : 0;
    const size_t gates = c->ngates > 0 ? (size_t)c->ngates : 0;
    return BITSIM_ALIGN + 5 * bitsim_align_up(nets * 64) + bitsim_align_up(cycles * 8)
           + bitsim_align_up(source_bytes(c) * cycles * BITSIM_SEQ_LANES)
           + bitsim_align_up(gates * sizeof(bitsim_gate_run));
}

static void make_work(void *workspace, const bitsim_seq_circuit *c, size_t cycles,
                      struct seq_work *wk)
{
    char *p = bitsim_align_ptr(workspace);
    const size_t words = bitsim_align_up((size_t)c->nets * 64);
    wk->V = p;
    wk->P = p + words;
    wk->start = p + 2 * words;
    wk->reset = p + 3 * words;
    wk->cnt = p + 4 * words;
    p += 5 * words;
    wk->vals = (int64_t *)p;
    p += bitsim_align_up(cycles * 8);
    wk->bytes = (uint8_t *)p;
    p += bitsim_align_up(source_bytes(c) * cycles * BITSIM_SEQ_LANES);
    wk->runs = (bitsim_gate_run *)p;
    wk->nruns = bitsim_gate_runs(c->op, c->ngates, wk->runs);
}

#if defined(G) || defined(GISA)
#error "G and GISA are the parameters of seqgates_kernel.h: not defined here"
#endif

#define G(name) name##_q64
#define GISA 64
#include "seqgates_kernel.h"
#undef G
#undef GISA

#ifdef BITSIM_X86_DISPATCH
#include <immintrin.h>

#define SEQ_CPU_FOR_AVX512 (BITSIM_CPU_FOR_AVX512 | BITSIM_CPU_AVX512VPOPCNTDQ)
#define G(name) name##_q256
#define GISA 256
#define ISA_KERNEL "seqgates_kernel.h"
#define ISA_BITS 256
#include "isa_instantiate.h"
#undef ISA_KERNEL
#undef ISA_BITS
#undef G
#undef GISA

#define G(name) name##_q512
#define GISA 512
#define ISA_KERNEL "seqgates_kernel.h"
#define ISA_BITS 512
#include "isa_instantiate.h"
#undef ISA_KERNEL
#undef ISA_BITS
#undef G
#undef GISA
#endif

static int check(const bitsim_seq_circuit *c)
{
    int g, i;
    size_t j, bits;
    if (c->nets < 2 || c->ngates < 0 || c->ndff < 0 || c->nports < 0 || c->clear_net >= c->nets
        || (c->clear_net >= 0 && (c->clear_net < 2 || c->clear_period == 0)))
        return BITSIM_ERR_CIRCUIT;
    for (g = 0; g < c->ngates; g++)
        if (c->op[g] < BITSIM_G_AND || c->op[g] >= BITSIM_G_DFF || c->a[g] < 0
            || c->a[g] >= c->nets || c->b[g] < 0 || c->b[g] >= c->nets || c->c[g] < 0
            || c->c[g] >= c->nets || c->out[g] < 2 || c->out[g] >= c->nets)
            return BITSIM_ERR_CIRCUIT;
    for (g = 0; g < c->ndff; g++)
        if (c->dff_q[g] < 2 || c->dff_q[g] >= c->nets || c->dff_d[g] < 0
            || c->dff_d[g] >= c->nets)
            return BITSIM_ERR_CIRCUIT;
    for (i = 0; i < c->nports; i++)
        if (c->port_bits[i] < 1 || c->port_bits[i] > 32)
            return BITSIM_ERR_CIRCUIT;
    bits = total_port_bits(c);
    for (j = 0; j < bits; j++)
        if (c->port_nets[j] < 2 || c->port_nets[j] >= c->nets)
            return BITSIM_ERR_CIRCUIT;
    return BITSIM_OK;
}

int bitsim_seq_run(const bitsim_seq_circuit *c, const bitsim_source *ports, uint64_t n,
                   int count_first, size_t cycles, int simd, void *workspace, uint64_t *toggles,
                   uint64_t *passes, int *bad_port, uint64_t *bad_index)
{
    struct seq_work wk;
    int i, status = check(c);
    if (status != BITSIM_OK)
        return status;
    if (!workspace || cycles == 0)
        return BITSIM_ERR_WORKSPACE;
    for (i = 0; i < c->nports; i++)
        if (ports[i].bits != c->port_bits[i])
            return BITSIM_ERR_CIRCUIT;
    make_work(workspace, c, cycles, &wk);
#ifdef BITSIM_X86_DISPATCH
    if (simd == BITSIM_SIMD_AUTO)
        simd = bitsim_cpu_has(SEQ_CPU_FOR_AVX512) ? BITSIM_SIMD_AVX512
               : bitsim_cpu_has(BITSIM_CPU_FOR_AVX2) ? BITSIM_SIMD_AVX2 : BITSIM_SIMD_SCALAR;
    if (simd == BITSIM_SIMD_AVX512) {
        if (!bitsim_cpu_has(SEQ_CPU_FOR_AVX512))
            return BITSIM_ERR_SIMD;
        return run_q512(c, ports, n, count_first, cycles, &wk, toggles, passes, bad_port,
                        bad_index);
    }
    if (simd == BITSIM_SIMD_AVX2) {
        if (!bitsim_cpu_has(BITSIM_CPU_FOR_AVX2))
            return BITSIM_ERR_SIMD;
        return run_q256(c, ports, n, count_first, cycles, &wk, toggles, passes, bad_port,
                        bad_index);
    }
#endif
    if (simd != BITSIM_SIMD_SCALAR && simd != BITSIM_SIMD_AUTO)
        return BITSIM_ERR_SIMD;
    return run_q64(c, ports, n, count_first, cycles, &wk, toggles, passes, bad_port, bad_index);
}
