/* Template of the sequential netlist simulator, included by seqgates.c once per instruction
 * set. The includer defines Q(name) (name suffix) and, for the AVX-512 variant, QTARGET; as
 * with gates_kernel.h it undefines them after each inclusion. A net's value in every stretch is
 * one 512-bit vector: bit l of word k is stretch 64 k + l. */

#if !defined(Q)
#error "seqgates_kernel.h is a template: define Q first (see seqgates.c)"
#else

typedef uint64_t Q(vec) __attribute__((vector_size(64)));

/* *cnt += the lane-wise popcount of *d (pointers: no vector passed by value, whose ABI
 * depends on the instruction set). */
static inline void Q(count)(Q(vec) *restrict cnt, const Q(vec) *restrict d)
{
#ifdef QTARGET
    *cnt += (Q(vec))_mm512_popcnt_epi64((__m512i)*d);
#else
    int k;
    for (k = 0; k < 8; k++)
        (*cnt)[k] += (uint64_t)__builtin_popcountll((*d)[k]);
#endif
}

/* Evaluate the combinational gates into V. */
static void Q(settle)(const bitsim_seq_circuit *c, Q(vec) *restrict V)
{
    const int32_t *restrict op = c->op, *restrict ia = c->a, *restrict ib = c->b;
    const int32_t *restrict ic = c->c, *restrict io = c->out;
    int g;
    for (g = 0; g < c->ngates; g++) {
        const Q(vec) a = V[ia[g]];
        const Q(vec) b = V[ib[g]];
        Q(vec) r;
        switch (op[g]) {
        case BITSIM_G_AND: r = a & b; break;
        case BITSIM_G_OR: r = a | b; break;
        case BITSIM_G_XOR: r = a ^ b; break;
        case BITSIM_G_NAND: r = ~(a & b); break;
        case BITSIM_G_NOR: r = ~(a | b); break;
        case BITSIM_G_XNOR: r = ~(a ^ b); break;
        case BITSIM_G_NOT: r = ~a; break;
        case BITSIM_G_ANDNOT: r = a & ~b; break;
        case BITSIM_G_ORNOT: r = a | ~b; break;
        case BITSIM_G_MUX: {
            const Q(vec) s = V[ic[g]];
            r = (a & ~s) | (b & s);
            break;
        }
        default: r = a; break;   /* BUF */
        }
        V[io[g]] = r;
    }
}

/* Load cycles [t0, t0 + m) of every port of every used stretch into wk->vals (zeros past a
 * stretch's end). */
static int Q(load)(const bitsim_seq_circuit *c, const bitsim_source *ports, uint64_t stretch,
                   uint64_t used, uint64_t n, uint64_t t0, size_t m, size_t cycles,
                   const struct seq_work *wk, int *bad_port, uint64_t *bad_index)
{
    int p;
    uint64_t lane;
    for (p = 0; p < c->nports; p++)
        for (lane = 0; lane < used; lane++) {
            const uint64_t first = lane * stretch + t0;
            const size_t len = first >= n ? 0 : (n - first < m ? (size_t)(n - first) : m);
            int64_t *dst = wk->vals + ((size_t)p * BITSIM_SEQ_LANES + lane) * cycles;
            if (len && bitsim_source_load(&ports[p], first, len, dst, bad_index)) {
                *bad_port = p;
                return BITSIM_ERR_X_RANGE;
            }
            memset(dst + len, 0, (m - len) * sizeof *dst);
        }
    return BITSIM_OK;
}

/* Source values of cycle t0 + t of every stretch: ports, clear port, flip-flop outputs. */
static void Q(sources)(const bitsim_seq_circuit *c, uint64_t stretch, uint64_t used,
                       uint64_t t0, size_t t, size_t cycles, const struct seq_work *wk,
                       Q(vec) *restrict V, const Q(vec) *restrict P)
{
    uint64_t *planes = wk->planes, lane;
    size_t off = 0;
    int p, j;
    for (p = 0; p < c->nports; p++) {
        const int bits = c->port_bits[p];
        const int64_t *vals = wk->vals + (size_t)p * BITSIM_SEQ_LANES * cycles + t;
        memset(planes, 0, (size_t)bits * 64);
        for (lane = 0; lane < used; lane++) {
            const uint64_t v = (uint64_t)vals[lane * cycles];
            const uint64_t bit = (uint64_t)1 << (lane & 63);
            uint64_t *word = planes + (lane >> 6);
            for (j = 0; j < bits; j++)
                word[8 * j] |= ((v >> j) & 1) ? bit : 0;
        }
        for (j = 0; j < bits; j++)
            memcpy(&V[c->port_nets[off + (size_t)j]], planes + 8 * j, 64);
        off += (size_t)bits;
    }
    if (c->clear_net >= 0) {
        Q(vec) word = {0};
        for (lane = 0; lane < used; lane++) {
            const uint64_t g = lane * stretch + t0 + t;
            if (g >= c->clear_phase && (g - c->clear_phase) % c->clear_period == 0)
                word[lane >> 6] |= (uint64_t)1 << (lane & 63);
        }
        V[c->clear_net] = word;
    }
    for (j = 0; j < c->ndff; j++)
        V[c->dff_q[j]] = P[c->dff_d[j]];
}

static int Q(run)(const bitsim_seq_circuit *c, const bitsim_source *ports, uint64_t n,
                  int count_first, size_t cycles, const struct seq_work *wk, uint64_t *toggles,
                  uint64_t *passes, int *bad_port, uint64_t *bad_index)
{
    Q(vec) *V = (Q(vec) *)wk->V, *P = (Q(vec) *)wk->P, *tmp;
    Q(vec) *start = (Q(vec) *)wk->start, *reset = (Q(vec) *)wk->reset, *cnt = (Q(vec) *)wk->cnt;
    const size_t bytes = (size_t)c->nets * sizeof *V;
    const Q(vec) zero = {0}, ones = ~zero;
    uint64_t stretch, used, last_len, t0, pass;
    Q(vec) used_mask;
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
    Q(settle)(c, reset);
    memcpy(start, reset, bytes);   /* first guess: every stretch starts from the reset state */
    for (pass = 0; pass <= used; pass++) {
        int changed = 0;
        memset(cnt, 0, bytes);
        memcpy(P, start, bytes);
        memcpy(V, start, bytes);   /* nets nothing drives keep their value */
        for (t0 = 0; t0 < stretch; t0 += cycles) {
            const size_t m = stretch - t0 < cycles ? (size_t)(stretch - t0) : cycles;
            size_t t;
            status = Q(load)(c, ports, stretch, used, n, t0, m, cycles, wk, bad_port, bad_index);
            if (status != BITSIM_OK)
                return status;
            for (t = 0; t < m; t++) {
                Q(vec) mask = used_mask;
                const uint64_t last = used - 1;
                Q(sources)(c, stretch, used, t0, t, cycles, wk, V, P);
                Q(settle)(c, V);
                if (t0 + t >= last_len)   /* the last stretch has ended */
                    mask[last >> 6] &= ~((uint64_t)1 << (last & 63));
                if (!count_first && t0 + t == 0)
                    mask[0] &= ~(uint64_t)1;
                for (net = 2; net < c->nets; net++) {
                    const Q(vec) d = (V[net] ^ P[net]) & mask;
                    Q(count)(&cnt[net], &d);
                }
                tmp = P;
                P = V;
                V = tmp;
            }
        }
        ++*passes;
        /* stretch l + 1 starts where stretch l ended, stretch 0 in the reset state */
        for (net = 0; net < c->nets; net++) {
            Q(vec) f;
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

#endif /* Q */
