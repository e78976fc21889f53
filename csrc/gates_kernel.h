/* Template of the gate simulator, included by gates.c once per instruction set. The includer
 * defines G(name) (name suffix) and GLANES (64-bit words per block: 1, 4 or 8). */

typedef uint64_t G(vec) __attribute__((vector_size(8 * GLANES)));

/* v shifted up by one vector: lane k takes the top bit of lane k - 1, lane 0 takes `prev`. */
static inline G(vec) G(shift1)(G(vec) v, uint64_t prev)
{
    G(vec) carry;
    int k;
    for (k = GLANES - 1; k > 0; k--)
        carry[k] = v[k - 1] >> 63;
    carry[0] = prev;
    return (v << 1) | carry;
}

static inline uint64_t G(top_bit)(G(vec) v, size_t m)   /* bit of vector m - 1 */
{
    return v[(m - 1) / 64] >> ((m - 1) % 64) & 1;
}

/* Pack bit j of values[0..m) into the words of a block. */
static inline G(vec) G(pack)(const uint64_t *values, size_t m, int j)
{
    G(vec) v;
    size_t k, t;
    for (k = 0; k < GLANES; k++) {
        uint64_t word = 0;
        for (t = 0; t < 64 && 64 * k + t < m; t++)
            word |= ((values[64 * k + t] >> j) & 1) << t;
        v[k] = word;
    }
    return v;
}

static void G(eval)(const bitsim_circuit *c, G(vec) *V, const uint64_t *prev)
{
    int g;
    for (g = 0; g < c->ngates; g++) {
        const G(vec) a = V[c->a[g]];
        const G(vec) b = V[c->b[g]];
        G(vec) r;
        switch (c->op[g]) {
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
            const G(vec) s = V[c->c[g]];
            r = (a & ~s) | (b & s);
            break;
        }
        case BITSIM_G_DFF: r = G(shift1)(a, prev[c->a[g]]); break;
        default: r = a; break;   /* BUF */
        }
        V[c->out[g]] = r;
    }
}

static int G(run)(const bitsim_circuit *c, const bitsim_source *xs, const bitsim_source *ws,
                  uint64_t first_vector, uint64_t warmup, uint64_t count, uint64_t acc,
                  const struct gate_work *wk, uint64_t *toggles, uint64_t *bad)
{
    const size_t block = 64 * GLANES;
    G(vec) *V = (G(vec) *)wk->words;
    G(vec) *cnt = (G(vec) *)wk->counts;
    uint64_t *prev = wk->prev;
    const uint64_t total = warmup + count;
    const G(vec) zero = {0}, ones = ~zero;
    uint64_t off;
    int net, j, k;

    /* the reset state: sources and registers 0, the rest what follows */
    memset(V, 0, (size_t)c->nets * sizeof *V);
    memset(prev, 0, (size_t)c->nets * sizeof *prev);
    V[1] = ones;
    G(eval)(c, V, prev);
    for (net = 0; net < c->nets; net++) {
        prev[net] = V[net][0] & 1;
        cnt[net] = zero;
    }
    for (off = 0; off < total;) {
        const uint64_t g = first_vector + off;
        const size_t m = (size_t)(total - off < block ? total - off : block);
        const int counting = off + m > warmup;
        G(vec) mask;
        size_t t;
        if (bitsim_source_load(xs, g, m, wk->x, bad))
            return BITSIM_ERR_X_RANGE;
        if (bitsim_source_load(ws, g, m, wk->w, bad))
            return BITSIM_ERR_W_RANGE;
        for (t = 0; t < m; t++) {   /* dot-product starts and the accumulator state */
            const uint64_t i = g + t;
            const int start = c->length ? i % c->length == 0 : i == 0;
            const uint64_t p = (uint64_t)wk->x[t] * (uint64_t)wk->w[t];
            wk->first[t] = (uint64_t)start;
            wk->acc[t] = acc;
            acc = start ? p : acc + p;
        }
        for (j = 0; j < c->x_bits; j++)
            V[c->x_nets[j]] = G(pack)((const uint64_t *)wk->x, m, j);
        for (j = 0; j < c->w_bits; j++)
            V[c->w_nets[j]] = G(pack)((const uint64_t *)wk->w, m, j);
        if (c->first_net >= 0)
            V[c->first_net] = G(pack)(wk->first, m, 0);
        for (j = 0; c->acc_nets && j < c->acc_bits; j++)
            V[c->acc_nets[j]] = G(pack)(wk->acc, m, j < 64 ? j : 63);
        V[0] = zero;
        V[1] = ones;
        G(eval)(c, V, prev);
        /* count only vectors >= warmup and < m */
        for (k = 0; k < GLANES; k++) {
            const uint64_t lo = 64 * (uint64_t)k + off, hi = lo + 64;
            uint64_t word = ~(uint64_t)0;
            if (hi > off + m)
                word = 64 * (uint64_t)k >= m ? 0 : (~(uint64_t)0 >> (64 - (m - 64 * k)));
            if (lo < warmup)
                word &= warmup >= hi ? 0 : ~(uint64_t)0 << (warmup - lo);
            mask[k] = word;
        }
        for (net = 0; net < c->nets; net++) {
            const G(vec) v = V[net];
            if (counting) {
                const G(vec) d = (v ^ G(shift1)(v, prev[net])) & mask;
                G(vec) pc;
                for (k = 0; k < GLANES; k++)
                    pc[k] = (uint64_t)__builtin_popcountll(d[k]);
                cnt[net] += pc;
            }
            prev[net] = G(top_bit)(v, m);
        }
        off += m;
    }
    for (net = 0; net < c->nets; net++)
        for (k = 0; k < GLANES; k++)
            toggles[net] += cnt[net][k];
    return BITSIM_OK;
}
