/* Template of the sequential netlist simulator, included by seqgates.c once per instruction
 * set. The includer defines Q(name) (name suffix) and QLEVEL (64: scalar, 256: AVX2, 512:
 * AVX-512); as with gates_kernel.h it undefines them after each inclusion. A net's value in every stretch is
 * one 512-bit vector: bit l of word k is stretch 64 k + l. */

#if !defined(Q) || !defined(QLEVEL)
#error "seqgates_kernel.h is a template: define Q and QLEVEL first (see seqgates.c)"
#else

typedef uint64_t Q(vec) __attribute__((vector_size(64)));

/* *cnt += the lane-wise popcount of *d (pointers: no vector passed by value, whose ABI
 * depends on the instruction set). */
static inline void Q(count)(Q(vec) *restrict cnt, const Q(vec) *restrict d)
{
#if QLEVEL == 512
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

/* Load cycles [t0, t0 + m) of every source of every used stretch (ports, then the clear port)
 * and transpose them into wk->bytes: byte q of source i's value in cycle t0 + t of stretch l at
 * bytes[((byte index of (i, q)) * cycles + t) * 512 + l] (0 past a stretch's end). */
static int Q(load)(const bitsim_seq_circuit *c, const bitsim_source *ports, uint64_t stretch,
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

/* Bit j (< nbits) of 512 bytes as bit planes: V[nets[j]] bit l = bit j of bytes[l]. */
static void Q(planes)(const uint8_t *bytes, int nbits, const int32_t *nets, Q(vec) *V)
{
    int j, k;
    for (j = 0; j < nbits; j++) {
        Q(vec) plane;
        for (k = 0; k < 8; k++) {
#if QLEVEL == 512
            const __m512i b = _mm512_loadu_si512((const void *)(bytes + 64 * k));
            plane[k] = _mm512_movepi8_mask(_mm512_slli_epi64(b, 7 - j));
#elif QLEVEL == 256
            const __m256i lo = _mm256_loadu_si256((const __m256i *)(bytes + 64 * k));
            const __m256i hi = _mm256_loadu_si256((const __m256i *)(bytes + 64 * k + 32));
            plane[k] = (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_slli_epi64(lo, 7 - j))
                       | (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_slli_epi64(hi, 7 - j))
                             << 32;
#else
            uint64_t word = 0;
            int e;
            for (e = 0; e < 8; e++) {   /* bit j of 8 bytes at once (a multiply gathers them) */
                uint64_t x;
                memcpy(&x, bytes + 64 * k + 8 * e, 8);
                x = (x >> j) & 0x0101010101010101ULL;
                word |= ((x * 0x0102040810204080ULL) >> 56) << (8 * e);
            }
            plane[k] = word;
#endif
        }
        V[nets[j]] = plane;
    }
}

/* Source values of cycle t0 + t of every stretch: ports, clear port, flip-flop outputs. */
static void Q(sources)(const bitsim_seq_circuit *c, size_t t, size_t cycles,
                       const struct seq_work *wk, Q(vec) *restrict V, const Q(vec) *restrict P)
{
    size_t off = 0;
    int p, q, row = 0, j;
    for (p = 0; p < c->nports; p++) {
        const int bits = c->port_bits[p];
        for (q = 0; 8 * q < bits; q++, row++)
            Q(planes)(wk->bytes + ((size_t)row * cycles + t) * BITSIM_SEQ_LANES,
                      bits - 8 * q < 8 ? bits - 8 * q : 8, c->port_nets + off + 8 * q, V);
        off += (size_t)bits;
    }
    if (c->clear_net >= 0)
        Q(planes)(wk->bytes + ((size_t)row * cycles + t) * BITSIM_SEQ_LANES, 1, &c->clear_net, V);
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
            if (bitsim_interrupted())
                return BITSIM_ERR_INTERRUPTED;
            status = Q(load)(c, ports, stretch, used, n, t0, m, cycles, wk, bad_port, bad_index);
            if (status != BITSIM_OK)
                return status;
            for (t = 0; t < m; t++) {
                Q(vec) mask = used_mask;
                const uint64_t last = used - 1;
                Q(sources)(c, t, cycles, wk, V, P);
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

#endif /* Q, QLEVEL */
