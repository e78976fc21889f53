/* Template of the gate simulator, included by gates.c once per instruction set. The includer
 * defines G(name) (name suffix) and GLANES (64-bit words per block: 1, 4 or 8); as with
 * PyWavelets' *.template.h, including it without them is an error, and the includer undefines
 * them after each inclusion.
 *
 * Net values are double-buffered: P holds every net's words of the previous block and V those
 * of the current one, so the value before vector 0 of a block is bit 63 of P's last lane. Only
 * the last block of a run can be partial, so no later block ever reads a partial one. */

#if !defined(G) || !defined(GLANES)
#error "gates_kernel.h is a template: define G and GLANES first (see gates.c)"
#else

typedef uint64_t G(vec) __attribute__((vector_size(8 * GLANES)));
typedef int64_t G(ivec) __attribute__((vector_size(8 * GLANES)));

/* v shifted up by one vector: lane k takes the top bit of lane k - 1, lane 0 the top bit of
 * the previous block's last lane. */
static inline G(vec) G(shift1)(G(vec) v, G(vec) prev)
{
#if GLANES == 8
    const G(vec) rot = BITSIM_SHUFFLE2(v, prev, G(ivec), 15, 0, 1, 2, 3, 4, 5, 6);
#elif GLANES == 4
    const G(vec) rot = BITSIM_SHUFFLE2(v, prev, G(ivec), 7, 0, 1, 2);
#else
    const G(vec) rot = prev;
#endif
    return (v << 1) | (rot >> 63);
}

/* Lane-wise popcount. */
static inline G(vec) G(popcount)(G(vec) d)
{
#if GLANES == 8
    return (G(vec))_mm512_popcnt_epi64((__m512i)d);
#else
    G(vec) pc;
    int k;
    for (k = 0; k < GLANES; k++)
        pc[k] = (uint64_t)__builtin_popcountll(d[k]);
    return pc;
#endif
}

/* Bit planes j0 .. j0 + nbits - 1 of a block from one byte of every value: V[nets[j]] gets bit
 * j - j0 of bytes[t] as bit t. Each plane is a "most significant bit of each byte" mask (one
 * instruction on AVX2 / AVX-512). */
static void G(planes)(const uint8_t *bytes, int j0, int nbits, const int32_t *nets, G(vec) *V)
{
    int j, k;
    for (j = 0; j < nbits; j++) {
        G(vec) plane;
        for (k = 0; k < GLANES; k++) {
#if GLANES == 8
            const __m512i b = _mm512_loadu_si512((const void *)(bytes + 64 * k));
            plane[k] = _mm512_movepi8_mask(_mm512_slli_epi64(b, 7 - j));
#elif GLANES == 4
            const __m256i lo = _mm256_loadu_si256((const __m256i *)(bytes + 64 * k));
            const __m256i hi = _mm256_loadu_si256((const __m256i *)(bytes + 64 * k + 32));
            plane[k] = (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_slli_epi64(lo, 7 - j))
                       | (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_slli_epi64(hi, 7 - j))
                             << 32;
#else
            uint64_t word = 0;
            size_t t;
            for (t = 0; t < 64; t++)
                word |= (uint64_t)((bytes[64 * k + t] >> j) & 1) << t;
            plane[k] = word;
#endif
        }
        V[nets[j0 + j]] = plane;
    }
}

/* Bits of values[0..block) as bit planes, byte by byte through the `bytes` buffer. */
static void G(pack)(const uint64_t *values, int bits, const int32_t *nets, G(vec) *V,
                    uint8_t *bytes)
{
    int q;
    size_t t;
    for (q = 0; 8 * q < bits; q++) {
        for (t = 0; t < 64 * GLANES; t++)
            bytes[t] = (uint8_t)(values[t] >> (8 * q));
        G(planes)(bytes, 8 * q, bits - 8 * q < 8 ? bits - 8 * q : 8, nets, V);
    }
}

/* An operand of at most 8 bits stored as int8/uint8: its block's bytes are the values
 * themselves (a copy, zero-padded, only for a partial block). Returns NULL when the stream is
 * something else or a value is outside the format (the caller's general path then finds it). */
static const uint8_t *G(direct_bytes)(const bitsim_source *src, uint64_t g, size_t m,
                                      uint8_t *buffer)
{
    const size_t block = 64 * GLANES;
    const uint8_t *p;
    size_t t;
    int outside = 0;
    if (src->kind != BITSIM_SOURCE_ARRAY || src->bits > 8
        || (src->dtype != BITSIM_INT8 && src->dtype != BITSIM_UINT8))
        return NULL;
    p = (const uint8_t *)src->data + g;
    if (src->dtype == BITSIM_INT8) {
        const int lo = src->is_signed ? -(1 << (src->bits - 1)) : 0;
        const int hi = src->is_signed ? (1 << (src->bits - 1)) - 1 : (1 << src->bits) - 1;
        for (t = 0; t < m; t++)
            outside |= ((int8_t)p[t] < lo) | ((int8_t)p[t] > hi);
    } else {
        const int hi = src->is_signed ? (1 << (src->bits - 1)) - 1 : (1 << src->bits) - 1;
        for (t = 0; t < m; t++)
            outside |= p[t] > hi;
    }
    if (outside)
        return NULL;
    if (m == block)
        return p;
    memcpy(buffer, p, m);
    memset(buffer + m, 0, block - m);
    return buffer;
}

/* Evaluate every gate of a block into V (P: the previous block). With `count` (2: every
 * vector of the block counts, no mask), also add each output's toggles to cnt while the
 * output is still in a register. */
static inline __attribute__((always_inline)) void
G(eval_body)(const bitsim_circuit *c, G(vec) *restrict V, const G(vec) *restrict P,
             G(vec) *restrict cnt, G(vec) mask, const int count)
{
    const int32_t *restrict op = c->op, *restrict ia = c->a, *restrict ib = c->b;
    const int32_t *restrict ic = c->c, *restrict io = c->out;
    const int n = c->ngates;
    int g;
    for (g = 0; g < n; g++) {
        const G(vec) a = V[ia[g]];
        const G(vec) b = V[ib[g]];
        const int o = io[g];
        G(vec) r;
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
            const G(vec) s = V[ic[g]];
            r = (a & ~s) | (b & s);
            break;
        }
        case BITSIM_G_DFF: r = G(shift1)(a, P[ia[g]]); break;
        default: r = a; break;   /* BUF */
        }
        if (count == 2)
            cnt[o] += G(popcount)(r ^ G(shift1)(r, P[o]));
        else if (count)
            cnt[o] += G(popcount)((r ^ G(shift1)(r, P[o])) & mask);
        V[o] = r;
    }
}

static void G(eval)(const bitsim_circuit *c, G(vec) *V, const G(vec) *P, G(vec) *cnt,
                    G(vec) mask, int count)
{
    if (count == 2)
        G(eval_body)(c, V, P, cnt, mask, 2);
    else if (count)
        G(eval_body)(c, V, P, cnt, mask, 1);
    else
        G(eval_body)(c, V, P, cnt, mask, 0);
}

static inline void G(count_bus)(const int32_t *nets, int bits, const G(vec) *V,
                                const G(vec) *P, G(vec) *cnt, G(vec) mask)
{
    int j;
    for (j = 0; j < bits; j++)
        cnt[nets[j]] += G(popcount)((V[nets[j]] ^ G(shift1)(V[nets[j]], P[nets[j]])) & mask);
}

static int G(run)(const bitsim_circuit *c, const bitsim_source *xs, const bitsim_source *ws,
                  uint64_t first_vector, uint64_t warmup, uint64_t count, uint64_t acc,
                  const struct gate_work *wk, uint64_t *toggles, uint64_t *bad)
{
    const size_t block = 64 * GLANES;
    G(vec) *V = (G(vec) *)wk->words, *P = (G(vec) *)wk->words2, *cnt = (G(vec) *)wk->counts;
    const uint64_t total = warmup + count;
    const G(vec) zero = {0}, ones = ~zero;
    uint64_t off;
    int net, k;

    /* the reset state: sources and registers 0, the other nets what follows from that */
    memset(P, 0, (size_t)c->nets * sizeof *P);
    memset(V, 0, (size_t)c->nets * sizeof *V);
    V[1] = P[1] = ones;
    G(eval)(c, V, P, cnt, zero, 0);
    for (net = 0; net < c->nets; net++) {
        P[net] = (V[net][0] & 1) ? ones : zero;
        cnt[net] = zero;
    }
    memcpy(V, P, (size_t)c->nets * sizeof *V);   /* nets nothing drives keep their value */
    for (off = 0; off < total;) {
        const uint64_t g = first_vector + off;
        const size_t m = (size_t)(total - off < block ? total - off : block);
        G(vec) mask, *tmp;
        size_t t;
        int full = m == block && off >= warmup;
        const int mac = c->first_net >= 0 || c->acc_nets;
        const uint8_t *xb = mac ? NULL : G(direct_bytes)(xs, g, m, wk->bytes);
        const uint8_t *wb = mac ? NULL : G(direct_bytes)(ws, g, m, wk->bytes2);
        if (bitsim_interrupted())
            return BITSIM_ERR_INTERRUPTED;
        if (xb)
            G(planes)(xb, 0, c->x_bits, c->x_nets, V);
        else if (bitsim_source_load(xs, g, m, wk->x, bad))
            return BITSIM_ERR_X_RANGE;
        if (wb)
            G(planes)(wb, 0, c->w_bits, c->w_nets, V);
        else if (bitsim_source_load(ws, g, m, wk->w, bad))
            return BITSIM_ERR_W_RANGE;
        for (t = 0; mac && t < m; t++) {   /* MAC controls */
            const uint64_t i = g + t;
            const int start = c->length ? i % c->length == 0 : i == 0;
            const uint64_t p = (uint64_t)wk->x[t] * (uint64_t)wk->w[t];
            wk->first[t] = (uint64_t)start;
            wk->acc[t] = acc;
            acc = start ? p : acc + p;
        }
        for (t = m; t < block; t++) {   /* beyond the last vector: zeros, never counted */
            wk->x[t] = wk->w[t] = 0;
            wk->first[t] = wk->acc[t] = 0;
        }
        if (!xb)
            G(pack)((const uint64_t *)wk->x, c->x_bits, c->x_nets, V, wk->bytes);
        if (!wb)
            G(pack)((const uint64_t *)wk->w, c->w_bits, c->w_nets, V, wk->bytes);
        if (c->first_net >= 0)
            G(pack)(wk->first, 1, &c->first_net, V, wk->bytes);
        if (c->acc_nets)
            G(pack)(wk->acc, c->acc_bits, c->acc_nets, V, wk->bytes);
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
        G(count_bus)(c->x_nets, c->x_bits, V, P, cnt, mask);
        G(count_bus)(c->w_nets, c->w_bits, V, P, cnt, mask);
        if (c->acc_nets)
            G(count_bus)(c->acc_nets, c->acc_bits, V, P, cnt, mask);
        if (c->first_net >= 0)
            G(count_bus)(&c->first_net, 1, V, P, cnt, mask);
        G(eval)(c, V, P, cnt, mask, full ? 2 : 1);
        tmp = P;   /* this block becomes the previous one; sources and gates are rewritten */
        P = V;
        V = tmp;
        V[0] = zero;
        V[1] = ones;
        off += m;
    }
    for (net = 0; net < c->nets; net++)
        for (k = 0; k < GLANES; k++)
            toggles[net] += cnt[net][k];
    return BITSIM_OK;
}

#endif /* G, GLANES */
