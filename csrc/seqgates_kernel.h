/* Template of the sequential netlist simulator, included by seqgates.c once per instruction
 * set. The includer defines G(name) (name suffix) and GISA (64: portable C, 256: AVX2, 512:
 * AVX-512); as with gates_kernel.h it undefines them after each inclusion. A net's value in
 * every stretch is one 512-bit vector: bit l of word k is stretch 64 k + l. Gates are evaluated
 * by the core the zero-delay kernel uses (gates_core.h). */

#if !defined(G) || !defined(GISA)
#error "seqgates_kernel.h is a template: define G and GISA first (see seqgates.c)"
#else

#include "gates_core.h"

/* Load cycles [t0, t0 + m) of every source of every used stretch (ports, then the clear port)
 * and transpose them into wk->bytes: byte q of source i's value in cycle t0 + t of stretch l at
 * bytes[((byte index of (i, q)) * cycles + t) * 512 + l] (0 past a stretch's end). */
static int G(load)(const bitsim_seq_circuit *c, const bitsim_source *ports, uint64_t stretch,
                   uint64_t used, uint64_t n, uint64_t t0, size_t m, size_t cycles,
                   const struct seq_work *wk, int *bad_port, uint64_t *bad_index)
{
    int p, q, nbytes, row = 0;
    uint64_t lane;
    size_t t;
    for (p = 0; p <= c->nports; p++) {
        if (p == c->nports && c->clear_net < 0)
            break;
        nbytes = p == c->nports ? 1 : (c->port_bits[p] + 7) / 8;
        for (lane = 0; lane < used; lane++) {
            const uint64_t first = lane * stretch + t0;
            const size_t len = first >= n ? 0 : (n - first < m ? (size_t)(n - first) : m);
            int64_t *v = wk->vals;
            if (p < c->nports) {
                if (len && bitsim_source_load(&ports[p], first, len, v, bad_index)) {
                    *bad_port = p;
                    return BITSIM_ERR_X_RANGE;
                }
            } else if (len) {   /* clear: 1 in cycles phase + k period */
                uint64_t next = first <= c->clear_phase
                                    ? c->clear_phase - first
                                    : (c->clear_period - (first - c->clear_phase) % c->clear_period)
                                          % c->clear_period;
                memset(v, 0, len * sizeof *v);
                for (; next < len; next += c->clear_period)
                    v[next] = 1;
            }
            for (q = 0; q < nbytes; q++) {
                uint8_t *dst = wk->bytes + ((size_t)(row + q) * cycles) * BITSIM_SEQ_LANES + lane;
                for (t = 0; t < len; t++)
                    dst[t * BITSIM_SEQ_LANES] = (uint8_t)((uint64_t)v[t] >> (8 * q));
                for (; t < m; t++)
                    dst[t * BITSIM_SEQ_LANES] = 0;
            }
        }
        row += nbytes;
    }
    return BITSIM_OK;
}

/* Source values of cycle t0 + t of every stretch: ports, clear port, flip-flop outputs. */
static void G(sources)(const bitsim_seq_circuit *c, size_t t, size_t cycles,
                       const struct seq_work *wk, G(vec) *restrict V, const G(vec) *restrict P)
{
    size_t off = 0;
    int p, q, row = 0, j;
    for (p = 0; p < c->nports; p++) {
        const int bits = c->port_bits[p];
        for (q = 0; 8 * q < bits; q++, row++)
            G(planes)(wk->bytes + ((size_t)row * cycles + t) * BITSIM_SEQ_LANES,
                      bits - 8 * q < 8 ? bits - 8 * q : 8, c->port_nets + off + 8 * q, V, 1);
        off += (size_t)bits;
    }
    if (c->clear_net >= 0)
        G(planes)(wk->bytes + ((size_t)row * cycles + t) * BITSIM_SEQ_LANES, 1, &c->clear_net, V,
                  1);
    for (j = 0; j < c->ndff; j++)
        V[c->dff_q[j]] = P[c->dff_d[j]];
}

static int G(run)(const bitsim_seq_circuit *c, const bitsim_source *ports, uint64_t n,
                  int count_first, size_t cycles, const struct seq_work *wk, uint64_t *toggles,
                  uint64_t *passes, int *bad_port, uint64_t *bad_index)
{
    G(vec) *V = (G(vec) *)wk->V, *P = (G(vec) *)wk->P, *tmp;
    G(vec) *start = (G(vec) *)wk->start, *reset = (G(vec) *)wk->reset, *cnt = (G(vec) *)wk->cnt;
    const size_t bytes = (size_t)c->nets * sizeof *V;
    const G(vec) zero = {0}, ones = ~zero;
    uint64_t stretch, used, last_len, t0, pass;
    G(vec) used_mask;
    int net, k, status;
    memset(toggles, 0, (size_t)c->nets * sizeof *toggles);
    *passes = 0;
    if (n == 0)
        return BITSIM_OK;
    stretch = (n + BITSIM_SEQ_LANES - 1) / BITSIM_SEQ_LANES;
    used = (n + stretch - 1) / stretch;
    last_len = n - (used - 1) * stretch;
    for (k = 0; k < 8; k++) {
        const uint64_t lo = 64 * (uint64_t)k;
        used_mask[k] = used >= lo + 64 ? ~(uint64_t)0
                       : used <= lo    ? 0
                                       : ~(uint64_t)0 >> (64 - (used - lo));
    }
    memset(reset, 0, bytes);
    reset[1] = ones;
    G(settle)(wk->runs, wk->nruns, c->a, c->b, c->c, c->out, reset);
    memcpy(start, reset, bytes);   /* first guess: every stretch starts from the reset state */
    for (pass = 0; pass <= used; pass++) {
        int changed = 0;
        memset(cnt, 0, bytes);
        memcpy(P, start, bytes);
        memcpy(V, start, bytes);   /* nets nothing drives keep their value */
        for (t0 = 0; t0 < stretch; t0 += cycles) {
            const size_t m = stretch - t0 < cycles ? (size_t)(stretch - t0) : cycles;
            size_t t;
            if (bitsim_interrupted())
                return BITSIM_ERR_INTERRUPTED;
            status = G(load)(c, ports, stretch, used, n, t0, m, cycles, wk, bad_port, bad_index);
            if (status != BITSIM_OK)
                return status;
            for (t = 0; t < m; t++) {
                G(vec) mask = used_mask;
                const uint64_t last = used - 1;
                G(sources)(c, t, cycles, wk, V, P);
                G(settle)(wk->runs, wk->nruns, c->a, c->b, c->c, c->out, V);
                if (t0 + t >= last_len)   /* the last stretch has ended */
                    mask[last >> 6] &= ~((uint64_t)1 << (last & 63));
                if (!count_first && t0 + t == 0)
                    mask[0] &= ~(uint64_t)1;
                for (net = 2; net < c->nets; net++) {
                    const G(vec) d = (V[net] ^ P[net]) & mask;
                    G(vec) ones = {0};
                    G(count_add)(&ones, &d);
                    cnt[net] += G(count_total)(&ones);
                }
                tmp = P;
                P = V;
                V = tmp;
            }
        }
        ++*passes;
        /* stretch l + 1 starts where stretch l ended, stretch 0 in the reset state */
        for (net = 0; net < c->nets; net++) {
            G(vec) f;
            for (k = 7; k > 0; k--)
                f[k] = (P[net][k] << 1) | (P[net][k - 1] >> 63);
            f[0] = (P[net][0] << 1) | (reset[net][0] & 1);
            changed |= ((f[0] ^ start[net][0]) & used_mask[0]) != 0;
            for (k = 1; k < 8; k++)
                changed |= ((f[k] ^ start[net][k]) & used_mask[k]) != 0;
            start[net] = f;
        }
        if (!changed)
            break;
    }
    for (net = 0; net < c->nets; net++)
        for (k = 0; k < 8; k++)
            toggles[net] += cnt[net][k];
    return BITSIM_OK;
}

#endif /* G, GISA */
