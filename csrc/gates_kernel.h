/* Template of the gate simulator, included by gates.c once per instruction set. The includer
 * defines G(name) (name suffix) and GISA (64, 256 or 512: see gates_core.h); as with
 * PyWavelets' *.template.h, including it without them is an error, and the includer undefines
 * them after each inclusion.
 *
 * A visit evaluates GB = GATES_BLOCKS blocks of 512 vectors, 512 * GB consecutive vectors
 * interleaved: vector p * GB + j of the visit is bit p of block j. Every gate is visited once
 * per visit, over all its blocks, which sit one after the other in V (net n's block j at
 * V[n * GB + j]). So the vector before each one of block j > 0 is the same bit of block j - 1:
 * those toggles are block j XOR block j - 1, no shift; block 0's are block 0 XOR block GB - 1
 * shifted by one bit, the bit shifted in being the last vector of the previous visit (the top
 * bit of the gate's old block GB - 1, read before the gate overwrites it). The toggles are
 * summed in registers over the visit and added to the net's counters once. A DFF's output is
 * likewise its input's block j - 1 (block 0: block GB - 1 shifted, the input's last value of
 * the previous visit kept in carry[gate]). Only the last visit of a run can be partial, so no
 * later visit ever reads a partial one. */

#if !defined(G) || !defined(GISA)
#error "gates_kernel.h is a template: define G and GISA first (see gates.c)"
#else

#include "gates_core.h"

#define GB GATES_BLOCKS

/* Bit planes of a visit's bytes in vector order (bytes[p * GB + j]: bit p of block j), through
 * `blocks`: each block's 512 bytes one after the other. */
static void G(planes_visit)(const uint8_t *bytes, int nbits, const int32_t *nets, G(vec) *V,
                            uint8_t *blocks)
{
    size_t t;
    int j;
#if GISA == 512 && GATES_BLOCKS == 8
    /* 512 bytes (64 vectors x 8 blocks) at a time: each 64 bytes to one qword per block (bytes
     * to block order in 128-bit lanes, then words across lanes), then an 8 x 8 transpose of
     * qwords so that vector j holds block j's 64 bytes */
    const __m512i by_block = _mm512_broadcast_i32x4(
        _mm_setr_epi8(0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15));
    const __m512i words = _mm512_set_epi16(31, 23, 15, 7, 30, 22, 14, 6, 29, 21, 13, 5, 28, 20,
                                           12, 4, 27, 19, 11, 3, 26, 18, 10, 2, 25, 17, 9, 1, 24,
                                           16, 8, 0);
    for (t = 0; t < 512; t += 64) {
        __m512i T[8], U[8], X[4];
        int i;
        for (i = 0; i < 8; i++)
            T[i] = _mm512_permutexvar_epi16(
                words, _mm512_shuffle_epi8(
                           _mm512_loadu_si512((const void *)(bytes + 8 * t + 64 * i)), by_block));
        for (i = 0; i < 8; i += 2) {   /* U[i]: qwords 0, 2, 4, 6 of T[i], T[i + 1]; U[i + 1]: odd */
            U[i] = _mm512_unpacklo_epi64(T[i], T[i + 1]);
            U[i + 1] = _mm512_unpackhi_epi64(T[i], T[i + 1]);
        }
        for (i = 0; i < 2; i++) {   /* even blocks from U[0, 2, 4, 6], odd from U[1, 3, 5, 7] */
            X[0] = _mm512_shuffle_i64x2(U[i], U[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
            X[1] = _mm512_shuffle_i64x2(U[i], U[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
            X[2] = _mm512_shuffle_i64x2(U[i + 4], U[i + 6], _MM_SHUFFLE(1, 0, 1, 0));
            X[3] = _mm512_shuffle_i64x2(U[i + 4], U[i + 6], _MM_SHUFFLE(3, 2, 3, 2));
            _mm512_storeu_si512((void *)(blocks + 512 * (i + 0) + t),
                                _mm512_shuffle_i64x2(X[0], X[2], _MM_SHUFFLE(2, 0, 2, 0)));
            _mm512_storeu_si512((void *)(blocks + 512 * (i + 2) + t),
                                _mm512_shuffle_i64x2(X[0], X[2], _MM_SHUFFLE(3, 1, 3, 1)));
            _mm512_storeu_si512((void *)(blocks + 512 * (i + 4) + t),
                                _mm512_shuffle_i64x2(X[1], X[3], _MM_SHUFFLE(2, 0, 2, 0)));
            _mm512_storeu_si512((void *)(blocks + 512 * (i + 6) + t),
                                _mm512_shuffle_i64x2(X[1], X[3], _MM_SHUFFLE(3, 1, 3, 1)));
        }
    }
#else
    for (t = 0; t < 512; t++)
        for (j = 0; j < GB; j++)
            blocks[512 * j + t] = bytes[t * GB + j];
#endif
    for (j = 0; j < GB; j++)
        G(planes)(blocks + 512 * j, nbits, nets, V + j, GB);
}

/* Bits of values[0..512 GB) (vector order) as bit planes, byte by byte through `bytes`
 * (vector order) and `blocks` (block order). */
static void G(pack)(const uint64_t *values, int bits, const int32_t *nets, G(vec) *V,
                    uint8_t *bytes, uint8_t *blocks)
{
    int q;
    size_t t;
    for (q = 0; 8 * q < bits; q++) {
        for (t = 0; t < 512 * GB; t++)
            bytes[t] = (uint8_t)(values[t] >> (8 * q));
        G(planes_visit)(bytes, bits - 8 * q < 8 ? bits - 8 * q : 8, nets + 8 * q, V, blocks);
    }
}

/* A visit's operand values read in place, without int64 copies: element t is the `size`-byte
 * little-endian integer at p + t * size (signed: two's complement), shifted right by `shift`;
 * its byte q is byte q of the operand's two's complement value (of which the bit planes take the
 * operand's bits). */
struct G(elems) {
    const uint8_t *p;
    int size, shift, is_signed;
};

/* Every value of an array's m elements from `first` within the operand's format (the arrays of
 * one dtype: an OR over the values, a loop that vectorises; each bound is 2^k - 1; a signed
 * dtype's negatives folded to -v - 1 for a signed format, left with their top bit set for an
 * unsigned one). */
#define G_IN_FORMAT(T, UT, SIGNED_T)                                                           \
    do {                                                                                       \
        const T *a_ = (const T *)src->data + first;                                            \
        const UT top_ = (UT)1 << (8 * sizeof(T) - 1);                                          \
        UT any_ = 0;                                                                           \
        if (SIGNED_T && src->is_signed)                                                        \
            for (t = 0; t < m; t++)                                                            \
                any_ |= (UT)a_[t] ^ (UT)(a_[t] >> (8 * sizeof(T) - 1));                        \
        else                                                                                   \
            for (t = 0; t < m; t++)                                                            \
                any_ |= (UT)a_[t];                                                             \
        ok = (uint64_t)any_ <= hi && !(SIGNED_T && !src->is_signed && (any_ & top_));          \
        e->size = (int)sizeof(T);                                                              \
        e->is_signed = SIGNED_T;                                                               \
    } while (0)

/* The elements of an array (checked: 0 when a value is outside the format, which the general
 * path then finds) or a uniform sampler (its draws into `draws`, room for 512 GB / 2 + 1: each
 * draw holds 2^p operands in containers of 64 >> p bits, operands.h) over vectors
 * [first, first + m); 0 for alias tables (the general path). */
static int G(elements)(const bitsim_source *src, uint64_t first, size_t m, uint64_t *draws,
                       struct G(elems) *e)
{
    const uint64_t hi = src->is_signed ? ((uint64_t)1 << (src->bits - 1)) - 1
                                       : ((uint64_t)1 << src->bits) - 1;
    size_t t;
    int ok = 0;
    if (src->kind == BITSIM_SOURCE_UNIFORM && bitsim_uniform_pack(src->bits) > 0) {
        const int p = bitsim_uniform_pack(src->bits), cw = 64 >> p;
        const uint64_t j0 = first >> p, nd = ((first + m - 1) >> p) - j0 + 1;
        const uint64_t base = src->key + (j0 + 1) * BITSIM_GOLDEN;
        uint64_t k;
        for (k = 0; k < nd; k++)   /* little-endian: container c of draw k at byte c cw / 8 */
            draws[k] = bitsim_mix64(base + k * BITSIM_GOLDEN);
        e->size = cw / 8;
        e->shift = cw - src->bits;   /* an operand is its container's top bits */
        e->is_signed = 0;            /* (the bytes taken never reach beyond the container) */
        e->p = (const uint8_t *)draws + (first & (((uint64_t)1 << p) - 1)) * (uint64_t)e->size;
        return 1;
    }
    if (src->kind != BITSIM_SOURCE_ARRAY)
        return 0;
    switch (src->dtype) {
    case BITSIM_INT8: G_IN_FORMAT(int8_t, uint8_t, 1); break;
    case BITSIM_INT16: G_IN_FORMAT(int16_t, uint16_t, 1); break;
    case BITSIM_INT32: G_IN_FORMAT(int32_t, uint32_t, 1); break;
    case BITSIM_INT64: G_IN_FORMAT(int64_t, uint64_t, 1); break;
    case BITSIM_UINT8: G_IN_FORMAT(uint8_t, uint8_t, 0); break;
    case BITSIM_UINT16: G_IN_FORMAT(uint16_t, uint16_t, 0); break;
    case BITSIM_UINT32: G_IN_FORMAT(uint32_t, uint32_t, 0); break;
    default: G_IN_FORMAT(uint64_t, uint64_t, 0); break;
    }
    e->p = (const uint8_t *)src->data + first * (uint64_t)e->size;
    e->shift = 0;
    return ok;
}
#undef G_IN_FORMAT

/* Byte q of the m values of e (vector order), zeros up to a visit: e's own memory when that is
 * already so, else `buffer`. */
static const uint8_t *G(byte_of)(const struct G(elems) *e, int q, size_t m, uint8_t *buffer)
{
    const size_t visit = 512 * GB;
    const int s = e->shift + 8 * q;
    size_t t;
    if (e->size == 1 && s == 0 && m == visit)
        return e->p;
    /* unaligned loads through memcpy, one loop per type (vectorised); a signed type's shift
     * is arithmetic (GCC/Clang), so byte q beyond an element's own bytes is its sign */
#define G_BYTES(T)                                                                             \
    for (t = 0; t < m; t++) {                                                                  \
        T v_;                                                                                  \
        memcpy(&v_, e->p + t * sizeof(T), sizeof(T));                                          \
        buffer[t] = (uint8_t)((int64_t)v_ >> s);                                               \
    }                                                                                          \
    break;
    if (e->is_signed)
        switch (e->size) {
        case 1: G_BYTES(int8_t)
        case 2: G_BYTES(int16_t)
        case 4: G_BYTES(int32_t)
        default: G_BYTES(int64_t)
        }
    else
        switch (e->size) {
        case 1: G_BYTES(uint8_t)
        case 2: G_BYTES(uint16_t)
        case 4: G_BYTES(uint32_t)
        default: G_BYTES(uint64_t)
        }
#undef G_BYTES
    memset(buffer + m, 0, visit - m);
    return buffer;
}

/* The bit planes of operand bits [0, bits) of src over a visit's vectors from first (m of them,
 * zeros beyond) into the slots of nets; 0 when the general path must do it (alias tables, an
 * array value outside the format). */
static int G(operand_planes)(const bitsim_source *src, uint64_t first, size_t m, int bits,
                             const int32_t *nets, const struct gate_work *wk, G(vec) *V)
{
    struct G(elems) e;
    int q;
    if (!G(elements)(src, first, m, wk->draws, &e))
        return 0;
    for (q = 0; 8 * q < bits; q++)
        G(planes_visit)(G(byte_of)(&e, q, m, wk->bytes), bits - 8 * q < 8 ? bits - 8 * q : 8,
                        nets + 8 * q, V, wk->blocks);
    return 1;
}

/* One visit of the gates [start, end) of one opcode (a constant after inlining): each gate's
 * blocks evaluated, stored and their toggles summed in a register (masked == 0: every vector
 * counts; else only the bits of mask[j] in block j). */
static inline __attribute__((always_inline)) void
G(visit_run)(const int op, const int masked, int start, int end, const struct gate_work *wk,
             G(vec) *V, const G(vec) *mask)
{
    const int32_t *restrict sa = wk->sa, *restrict sb = wk->sb, *restrict sc = wk->sc;
    const int32_t *restrict so = wk->so;
    uint64_t *restrict lastw = wk->last, *restrict carry = wk->carry;
    G(vec) *restrict cnt = (G(vec) *)wk->counts;
    int g, j;
    for (g = start; g < end; g++) {
        const G(vec) *A = V + (size_t)sa[g] * GB, *B = V + (size_t)sb[g] * GB;
        const G(vec) *C = V + (size_t)sc[g] * GB;
        G(vec) *O = V + (size_t)so[g] * GB;
        G(vec) r[GB], d, sum = {0}, last = {0}, cin = {0};
        last[7] = lastw[g];   /* the last vector before this visit: its top bit */
        cin[7] = carry[g];
        for (j = 0; j < GB; j++) {
            if (op != BITSIM_G_DFF)
                r[j] = G(gate)(op, &A[j], &B[j], &C[j]);
            else if (j)
                r[j] = A[j - 1];
            else
                r[j] = G(shift1)(&A[GB - 1], &cin);
            O[j] = r[j];
        }
        d = r[0] ^ G(shift1)(&r[GB - 1], &last);
        if (masked)
            d &= mask[0];
        G(count_add)(&sum, &d);
        for (j = 1; j < GB; j++) {
            d = r[j] ^ r[j - 1];
            if (masked)
                d &= mask[j];
            G(count_add)(&sum, &d);
        }
        if (op == BITSIM_G_DFF)
            carry[g] = A[GB - 1][7];
        lastw[g] = r[GB - 1][7];
        cnt[g] += G(count_total)(&sum);
    }
}

/* One visit of every gate, run by run. */
static void G(visit)(const struct gate_work *wk, G(vec) *V, const G(vec) *mask, int masked)
{
    int r;
    for (r = 0; r < wk->nruns; r++) {
        const int s = wk->runs[r].start, e = wk->runs[r].end;
        switch (wk->runs[r].op) {
#define G_VISIT_CASE(OP)                                                                      \
    case OP:                                                                                   \
        if (masked)                                                                            \
            G(visit_run)(OP, 1, s, e, wk, V, mask);                                            \
        else                                                                                   \
            G(visit_run)(OP, 0, s, e, wk, V, mask);                                            \
        break;
            BITSIM_COMB_OPS(G_VISIT_CASE)
            G_VISIT_CASE(BITSIM_G_DFF)
#undef G_VISIT_CASE
        default: break;
        }
    }
}

/* Toggles of the sources (slots in V; the last words of the previous visit in tops). */
static void G(count_sources)(const int32_t *slots, int n, const uint64_t *tops, const G(vec) *V,
                             uint64_t *counts, const G(vec) *mask)
{
    int i, j, k;
    for (i = 0; i < n; i++) {
        const G(vec) *O = V + (size_t)slots[i] * GB;
        G(vec) last = {0}, d, sum = {0};
        last[7] = tops[i];
        d = (O[0] ^ G(shift1)(&O[GB - 1], &last)) & mask[0];
        G(count_add)(&sum, &d);
        for (j = 1; j < GB; j++) {
            d = (O[j] ^ O[j - 1]) & mask[j];
            G(count_add)(&sum, &d);
        }
        sum = G(count_total)(&sum);
        for (k = 0; k < 8; k++)
            counts[i] += sum[k];
    }
}

/* The net of source bit i: x bits, w bits, acc bits, the first net (wk->src's order). */
static inline int G(source_net)(const bitsim_circuit *c, int i)
{
    if (i < c->x_bits)
        return c->x_nets[i];
    i -= c->x_bits;
    if (i < c->w_bits)
        return c->w_nets[i];
    i -= c->w_bits;
    return c->acc_nets && i < c->acc_bits ? c->acc_nets[i] : c->first_net;
}

static int G(run)(const bitsim_circuit *c, const bitsim_source *xs, const bitsim_source *ws,
                  uint64_t first_vector, uint64_t warmup, uint64_t count, uint64_t acc,
                  const struct gate_work *wk, uint64_t *toggles, uint64_t *bad)
{
    const size_t visit = 512 * GB;
    G(vec) *V = (G(vec) *)wk->words, *cnt = (G(vec) *)wk->counts;
    const uint64_t total = warmup + count;
    const G(vec) zero = {0}, ones = ~zero;
    const int mac = c->first_net >= 0 || c->acc_nets;
    const int acc_bits = c->acc_nets ? c->acc_bits : 0;
    const int nsrc = c->x_bits + c->w_bits + acc_bits + (c->first_net >= 0);
    const int32_t *const sx = wk->src, *const sw = sx + c->x_bits, *const sacc = sw + c->w_bits;
    const int32_t *const sf = sacc + acc_bits;
    uint64_t off;
    int net, g, i, j, k;

    /* the reset state (sources and registers 0, the other nets what follows from that),
     * settled per net in cnt before it becomes the counters */
    memset(cnt, 0, (size_t)c->nets * sizeof *cnt);
    cnt[1] = ones;
    for (g = 0; g < c->ngates; g++)   /* a register holds 0, or 1 when its input is constant 1 */
        if (c->op[g] == BITSIM_G_DFF && c->a[g] == 1)
            cnt[c->out[g]] = ones;
    G(settle)(wk->runs, wk->nruns, c->a, c->b, c->c, c->out, cnt);
    for (net = 0; net < c->nets; net++)
        if (wk->last_use[net] == -1)   /* a net with its own slot: constant, source, undriven */
            for (j = 0; j < GB; j++)
                V[(size_t)wk->slot[net] * GB + j] = (cnt[net][0] & 1) ? ones : zero;
    for (g = 0; g < c->ngates; g++) {
        wk->last[g] = (cnt[c->out[g]][0] & 1) ? ~(uint64_t)0 : 0;
        wk->carry[g] = (cnt[c->a[g]][0] & 1) ? ~(uint64_t)0 : 0;   /* a register's input */
    }
    for (i = 0; i < nsrc; i++)
        wk->src_counts[i] = 0;
    memset(cnt, 0, (size_t)c->ngates * sizeof *cnt);
    for (off = 0; off < total;) {
        const uint64_t first = first_vector + off;
        const size_t m = (size_t)(total - off < visit ? total - off : visit);
        const int full = m == visit && off >= warmup;
        G(vec) mask[GB];
        size_t t;
        int xd, wd;
        if (bitsim_interrupted())
            return BITSIM_ERR_INTERRUPTED;
        for (i = 0; i < nsrc; i++)   /* the sources' last words, before they are overwritten */
            wk->tops[i] = V[(size_t)wk->src[i] * GB + GB - 1][7];
        /* operands straight from arrays and samplers; else (MAC circuits, alias tables, values
         * outside the format) through int64 values */
        xd = !mac && G(operand_planes)(xs, first, m, c->x_bits, sx, wk, V);
        wd = !mac && G(operand_planes)(ws, first, m, c->w_bits, sw, wk, V);
        if (!xd && bitsim_source_load(xs, first, m, wk->x, bad))
            return BITSIM_ERR_X_RANGE;
        if (!wd && bitsim_source_load(ws, first, m, wk->w, bad))
            return BITSIM_ERR_W_RANGE;
        for (t = 0; mac && t < m; t++) {   /* MAC controls */
            const uint64_t v = first + t;
            const int start = c->length ? v % c->length == 0 : v == 0;
            const uint64_t p = (uint64_t)wk->x[t] * (uint64_t)wk->w[t];
            wk->first[t] = (uint64_t)start;
            wk->acc[t] = acc;
            acc = start ? p : acc + p;
        }
        for (t = m; t < visit; t++) {   /* beyond the last vector: zeros, never counted */
            wk->x[t] = wk->w[t] = 0;
            wk->first[t] = wk->acc[t] = 0;
        }
        if (!xd)
            G(pack)((const uint64_t *)wk->x, c->x_bits, sx, V, wk->packed, wk->blocks);
        if (!wd)
            G(pack)((const uint64_t *)wk->w, c->w_bits, sw, V, wk->packed, wk->blocks);
        if (c->first_net >= 0)
            G(pack)(wk->first, 1, sf, V, wk->packed, wk->blocks);
        if (acc_bits)
            G(pack)(wk->acc, acc_bits, sacc, V, wk->packed, wk->blocks);
        /* count only vectors >= warmup and < m */
        for (j = 0; j < GB; j++)
            mask[j] = ones;
        for (t = 0; !full && t < visit; t++)
            if (t >= m || off + t < warmup)
                mask[t % GB][(t / GB) >> 6] &= ~((uint64_t)1 << ((t / GB) & 63));
        G(count_sources)(wk->src, nsrc, wk->tops, V, wk->src_counts, mask);
        G(visit)(wk, V, mask, !full);
        off += m;
    }
    for (g = 0; g < c->ngates; g++)
        for (k = 0; k < 8; k++)
            toggles[c->out[g]] += cnt[g][k];
    for (i = 0; i < nsrc; i++)
        toggles[G(source_net)(c, i)] += wk->src_counts[i];
    return BITSIM_OK;
}

#undef GB

#endif /* G, GISA */
