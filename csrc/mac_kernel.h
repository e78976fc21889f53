/* Template of the MAC kernel, included by mac.c once per (instruction set, sum type).
 *
 * The includer defines:
 *   K(name)   pastes a suffix onto every name defined here
 *   KVBYTES   bytes per vector: 8 (plain scalar code), 32 (AVX2) or 64 (AVX-512)
 *   KSUM_T    type of block-local partial sums: int64_t, or i128 when products are wide
 *   KSUM_WIDE 1 when KSUM_T is i128
 * and wraps the include in a target pragma, so the compiler vectorises every loop below for
 * that instruction set. Requires struct mac_plan, struct work and struct sum_stats (mac.c).
 * As with PyWavelets' *.template.h, including it without the four parameters is an error, and
 * the includer undefines them after each inclusion. */

#if !defined(K) || !defined(KVBYTES) || !defined(KSUM_T) || !defined(KSUM_WIDE)
#error "mac_kernel.h is a template: define K, KVBYTES, KSUM_T and KSUM_WIDE first (see mac.c)"
#else

typedef uint64_t K(vec) __attribute__((vector_size(KVBYTES)));
#define KLANES (KVBYTES / 8)
#define KDRAWS 64   /* uniform draws made at a time by K(load) */
#define KPLANES 12  /* ripple-counter planes: flushed every 2**KPLANES - 1 groups */

#if KSUM_WIDE
#define KCLAMP(v) (v)
#else
#define KCLAMP(v) ((v) < INT64_MIN ? INT64_MIN : (v) > INT64_MAX ? INT64_MAX : (int64_t)(v))
#endif

/* ---- operand loading -------------------------------------------------------------------- */

/* Copy, and check the extremes of the block against the format afterwards (min/max reductions
 * vectorise; a per-element test would not). */
#define KLOAD_ARRAY(T, OUTSIDE)                                                                \
    do {                                                                                       \
        const T *a_ = (const T *)src->data + start;                                            \
        T mn_ = a_[0], mx_ = a_[0];                                                            \
        for (i = 0; i < n; i++) {                                                              \
            out[i] = (int64_t)a_[i];                                                           \
            mn_ = a_[i] < mn_ ? a_[i] : mn_;                                                   \
            mx_ = a_[i] > mx_ ? a_[i] : mx_;                                                   \
        }                                                                                      \
        if (OUTSIDE(mn_) || OUTSIDE(mx_))                                                      \
            for (i = 0; i < n; i++)                                                            \
                if (OUTSIDE(a_[i])) {                                                          \
                    *bad = start + i;                                                          \
                    return 1;                                                                  \
                }                                                                              \
        return 0;                                                                              \
    } while (0)
#define KOUTSIDE_SIGNED(v) ((int64_t)(v) < lo || (int64_t)(v) > hi)
#define KOUTSIDE_UNSIGNED(v) ((uint64_t)(v) > (uint64_t)hi)

/* Elements [start, start + n) of a stream as int64; 1 (and *bad) when an array value is outside
 * the operand's format. Samplers produce in-range values by construction. */
static int K(load)(const bitsim_source *src, uint64_t start, size_t n, int64_t *out, uint64_t *bad)
{
    const int64_t lo = src->is_signed ? -((int64_t)1 << (src->bits - 1)) : 0;
    const int64_t hi = src->is_signed ? ((int64_t)1 << (src->bits - 1)) - 1
                                      : ((int64_t)1 << src->bits) - 1;
    const uint64_t base = src->key + (start + 1) * BITSIM_GOLDEN;
    size_t i;
    switch (src->kind) {
    case BITSIM_SOURCE_UNIFORM: {   /* packed draws, see operands.h */
        /* In runs of KDRAWS draws: the draws first, then the operands from them (two loops
         * without loop-carried state, which vectorise). */
        const int p = bitsim_uniform_pack(src->bits), cw = 64 >> p, sh = 64 - src->bits;
        const uint64_t cmask = ((uint64_t)1 << p) - 1;
        /* unsigned formats: the sign-extended bits masked off */
        const uint64_t keep = src->is_signed ? ~(uint64_t)0 : ~(uint64_t)0 >> sh;
        const uint64_t key = src->key;   /* a local: out might alias src */
        uint64_t d[KDRAWS];
        for (i = 0; i < n;) {
            const uint64_t e0 = start + i, j0 = e0 >> p, c0 = e0 & cmask;
            const size_t m = n - i < (KDRAWS << p) - c0 ? n - i : (KDRAWS << p) - c0;
            const size_t nd = (size_t)((c0 + m + cmask) >> p);
            size_t k;
            for (k = 0; k < nd; k++)
                d[k] = bitsim_mix64(key + (j0 + k + 1) * BITSIM_GOLDEN);
            for (k = 0; k < m; k++) {
                const uint64_t o = c0 + k, u = d[o >> p], c = o & cmask;
                const uint64_t top = (u >> (c * (uint64_t)cw)) << (64 - cw);   /* container */
                /* its top bits, sign-extended (GCC/Clang shift arithmetically) */
                out[i + k] = (int64_t)(((uint64_t)((int64_t)top >> sh)) & keep);
            }
            i += m;
        }
        return 0;
    }
    case BITSIM_SOURCE_TABLE: {
        const int k = src->table_log2;
        const uint64_t *keep = src->keep;
        const uint32_t *alias = src->alias;
        const int64_t *values = src->values;
        for (i = 0; i < n; i++) {
            const uint64_t u = bitsim_mix64(base + i * BITSIM_GOLDEN);
            const uint64_t slot = (u >> 1) >> (63 - k);   /* top k bits; none when k == 0 */
            out[i] = values[(u << k) < keep[slot] ? slot : alias[slot]];
        }
        return 0;
    }
    default:
        switch (src->dtype) {
        case BITSIM_INT8: KLOAD_ARRAY(int8_t, KOUTSIDE_SIGNED);
        case BITSIM_INT16: KLOAD_ARRAY(int16_t, KOUTSIDE_SIGNED);
        case BITSIM_INT32: KLOAD_ARRAY(int32_t, KOUTSIDE_SIGNED);
        case BITSIM_INT64: KLOAD_ARRAY(int64_t, KOUTSIDE_SIGNED);
        case BITSIM_UINT8: KLOAD_ARRAY(uint8_t, KOUTSIDE_UNSIGNED);
        case BITSIM_UINT16: KLOAD_ARRAY(uint16_t, KOUTSIDE_UNSIGNED);
        case BITSIM_UINT32: KLOAD_ARRAY(uint32_t, KOUTSIDE_UNSIGNED);
        default: KLOAD_ARRAY(uint64_t, KOUTSIDE_UNSIGNED);
        }
    }
}

/* ---- positional popcount: per-bit counts of W[i + 1] ^ W[i] ------------------------------
 * Harley-Seal carry-save adders reduce 16 vectors of diffs to one "sixteens" vector, which a
 * ripple counter of KPLANES bit planes accumulates; every lane and bit is its own counter. */

struct K(pp) {
    K(vec) ones, twos, fours, eights;
    K(vec) planes[KPLANES];
    uint32_t groups;
};

#define KCSA(h, l, a, b, c)                                                                    \
    do {                                                                                       \
        const K(vec) u_ = (a) ^ (b), c_ = (c);                                                 \
        h = ((a) & (b)) | (u_ & c_);                                                           \
        l = u_ ^ c_;                                                                           \
    } while (0)

static inline K(vec) K(diff)(const uint64_t *W, size_t i)
{
    K(vec) a, b;
    memcpy(&a, W + i + 1, sizeof a);
    memcpy(&b, W + i, sizeof b);
    return a ^ b;
}

static void K(add_word)(uint64_t *cnt, uint64_t v, uint64_t weight)
{
    while (v) {
        cnt[__builtin_ctzll(v)] += weight;
        v &= v - 1;
    }
}

static void K(pp_flush)(struct K(pp) *pp, uint64_t *cnt)
{
    int l, p;
    for (l = 0; l < KLANES; l++) {
        K(add_word)(cnt, pp->ones[l], 1);
        K(add_word)(cnt, pp->twos[l], 2);
        K(add_word)(cnt, pp->fours[l], 4);
        K(add_word)(cnt, pp->eights[l], 8);
        for (p = 0; p < KPLANES; p++)
            K(add_word)(cnt, pp->planes[p][l], (uint64_t)16 << p);
    }
    memset(pp, 0, sizeof *pp);
}

/* The counter state lives in locals while a block is counted (through pp, every store to it
 * would be ordered before the next load of W, which it may alias) and goes back to pp at the
 * end, or to the bit counts when the ripple counter is full. */
static void K(pp_add)(struct K(pp) *pp, const uint64_t *W, size_t n, uint64_t *cnt)
{
    K(vec) ones = pp->ones, twos = pp->twos, fours = pp->fours, eights = pp->eights;
    K(vec) planes[KPLANES];
    uint32_t groups = pp->groups;
    size_t i = 0;
    int p;
    memcpy(planes, pp->planes, sizeof planes);
    for (; i + 16 * KLANES <= n; i += 16 * KLANES) {
        K(vec) twosA, twosB, foursA, foursB, eightsA, eightsB, sixteens, carry;
        KCSA(twosA, ones, ones, K(diff)(W, i + 0 * KLANES), K(diff)(W, i + 1 * KLANES));
        KCSA(twosB, ones, ones, K(diff)(W, i + 2 * KLANES), K(diff)(W, i + 3 * KLANES));
        KCSA(foursA, twos, twos, twosA, twosB);
        KCSA(twosA, ones, ones, K(diff)(W, i + 4 * KLANES), K(diff)(W, i + 5 * KLANES));
        KCSA(twosB, ones, ones, K(diff)(W, i + 6 * KLANES), K(diff)(W, i + 7 * KLANES));
        KCSA(foursB, twos, twos, twosA, twosB);
        KCSA(eightsA, fours, fours, foursA, foursB);
        KCSA(twosA, ones, ones, K(diff)(W, i + 8 * KLANES), K(diff)(W, i + 9 * KLANES));
        KCSA(twosB, ones, ones, K(diff)(W, i + 10 * KLANES), K(diff)(W, i + 11 * KLANES));
        KCSA(foursA, twos, twos, twosA, twosB);
        KCSA(twosA, ones, ones, K(diff)(W, i + 12 * KLANES), K(diff)(W, i + 13 * KLANES));
        KCSA(twosB, ones, ones, K(diff)(W, i + 14 * KLANES), K(diff)(W, i + 15 * KLANES));
        KCSA(foursB, twos, twos, twosA, twosB);
        KCSA(eightsB, fours, fours, foursA, foursB);
        KCSA(sixteens, eights, eights, eightsA, eightsB);
        carry = sixteens;
        for (p = 0; p < KPLANES; p++) {
            const K(vec) t = planes[p] & carry;
            planes[p] ^= carry;
            carry = t;
        }
        if (++groups == (1u << KPLANES) - 1) {
            pp->ones = ones;
            pp->twos = twos;
            pp->fours = fours;
            pp->eights = eights;
            memcpy(pp->planes, planes, sizeof planes);
            K(pp_flush)(pp, cnt);   /* zeroes pp */
            ones = twos = fours = eights = pp->ones;
            memcpy(planes, pp->planes, sizeof planes);
            groups = 0;
        }
    }
    pp->ones = ones;
    pp->twos = twos;
    pp->fours = fours;
    pp->eights = eights;
    memcpy(pp->planes, planes, sizeof planes);
    pp->groups = groups;
    for (; i < n; i++)
        K(add_word)(cnt, W[i + 1] ^ W[i], 1);
}

/* ---- one segment: the MACs between two dot-product starts ---------------------------------
 * One pass computes the products, their running sum (vectors: an in-register scan plus a
 * carried total), the extremes and overflows of the exact partial sums seg_base + s, and the
 * site words that the positional popcount reads. Returns s at the end of the segment.
 * The accumulator adder's carries come from the accumulator word acc and the addend b (the
 * product as a 64-bit two's complement word): its first input is a = acc - b (mod 2**64, exact
 * in the low acc_bits bits whether or not the MAC starts a dot product), and the carry out of
 * each bit is maj(a, b, carry in) = (a & b) | ((a | b) & ~acc), since acc = a ^ b ^ carry in
 * bit by bit. 
 * nw, split and check are constants where it is inlined: check == 0 skips the overflow test
 * where the caller proved that no partial sum of the segment can leave the accumulator's range;
 * split != 0 is the plan's two-word layout (acc and carry in word 0, product, x and w in word 1),
 * whose words are built from their own sites only; split == 8 or 16 is that layout for a 32-bit
 * accumulator and two operands of that width (plan's split_bits), whose masks and shifts are
 * then constants (about 15% faster than loading them from the plan); split == 3 is the plan's
 * three-word layout for a 64-bit accumulator (acc, carry, then product, x and w). */

static inline __attribute__((always_inline)) KSUM_T
K(segment_run)(const struct mac_plan *P, const int nw, const int split, const int check,
               const int64_t *x,
               const int64_t *w, size_t a, size_t b, i128 seg_base, uint64_t *const *W,
               struct sum_stats *st)
{
    const KSUM_T lo = KCLAMP(P->acc_lo - seg_base), hi = KCLAMP(P->acc_hi - seg_base);
    const uint64_t blo = (uint64_t)seg_base;
    uint64_t mx[MAX_WORDS], mw[MAX_WORDS], mp[MAX_WORDS], ma[MAX_WORDS], mc[MAX_WORDS];
    int sx[MAX_WORDS], sw[MAX_WORDS], sp[MAX_WORDS], sa[MAX_WORDS], sc[MAX_WORDS], j;
    KSUM_T run = 0, mn, mxm;
    uint64_t over = 0;
    size_t t = a;
    for (j = 0; j < nw; j++) {
        mx[j] = P->word[j].mask[BITSIM_SITE_X];
        mw[j] = P->word[j].mask[BITSIM_SITE_W];
        mp[j] = P->word[j].mask[BITSIM_SITE_PRODUCT];
        ma[j] = P->word[j].mask[BITSIM_SITE_ACC];
        mc[j] = P->word[j].mask[BITSIM_SITE_CARRY];
        sx[j] = P->word[j].shift[BITSIM_SITE_X];
        sw[j] = P->word[j].shift[BITSIM_SITE_W];
        sp[j] = P->word[j].shift[BITSIM_SITE_PRODUCT];
        sa[j] = P->word[j].shift[BITSIM_SITE_ACC];
        sc[j] = P->word[j].shift[BITSIM_SITE_CARRY];
    }
    if (split == 8 || split == 16) {   /* the same layout as constants: see make_plan */
        ma[0] = mc[0] = 0xffffffffu;
        sa[0] = 0;
        sc[0] = 32;
        mp[1] = split == 16 ? 0xffffffffu : ((uint64_t)1 << 2 * split) - 1;
        mx[1] = mw[1] = ((uint64_t)1 << split) - 1;
        sp[1] = 0;
        sx[1] = 2 * split;
        sw[1] = 3 * split;
    }
    mn = (KSUM_T)x[a] * w[a];
    mxm = mn;
#if !KSUM_WIDE && KLANES > 1
    if (b - a >= KLANES) {
        typedef int64_t K(svec) __attribute__((vector_size(KVBYTES)));
        const K(svec) zero = {0}, vlo = zero + lo, vhi = zero + hi;
        K(svec) carry = zero, vmn = zero + mn, vmx = vmn, vover = zero;
        for (; t + KLANES <= b; t += KLANES) {
            K(svec) xa, wa, pr, v, sum, m;
            K(vec) acc, ad, carries;
            memcpy(&xa, x + t, sizeof xa);
            memcpy(&wa, w + t, sizeof wa);
            pr = xa * wa;
            v = pr;
#if KLANES == 2
            v += BITSIM_SHUFFLE2(v, zero, K(svec), 2, 0);
            sum = BITSIM_SHUFFLE1(v, K(svec), 1, 1);
#elif KLANES == 4
            v += BITSIM_SHUFFLE2(v, zero, K(svec), 4, 0, 1, 2);
            v += BITSIM_SHUFFLE2(v, zero, K(svec), 4, 4, 0, 1);
            sum = BITSIM_SHUFFLE1(v, K(svec), 3, 3, 3, 3);
#else
            v += BITSIM_SHUFFLE2(v, zero, K(svec), 8, 0, 1, 2, 3, 4, 5, 6);
            v += BITSIM_SHUFFLE2(v, zero, K(svec), 8, 8, 0, 1, 2, 3, 4, 5);
            v += BITSIM_SHUFFLE2(v, zero, K(svec), 8, 8, 8, 8, 0, 1, 2, 3);
            sum = BITSIM_SHUFFLE1(v, K(svec), 7, 7, 7, 7, 7, 7, 7, 7);
#endif
            v += carry;
            carry += sum;   /* the carry chain is one add per vector */
#if KVBYTES == 64   /* one instruction each instead of a compare and a blend */
            vmn = (K(svec))_mm512_min_epi64((__m512i)v, (__m512i)vmn);
            vmx = (K(svec))_mm512_max_epi64((__m512i)v, (__m512i)vmx);
            (void)m;
#else
            m = v < vmn;
            vmn = (v & m) | (vmn & ~m);
            m = v > vmx;
            vmx = (v & m) | (vmx & ~m);
#endif
            if (check)
                vover -= (v < vlo) | (v > vhi);
            acc = (K(vec))v + blo;
            ad = acc - (K(vec))pr;
            carries = (ad & (K(vec))pr) | ((ad | (K(vec))pr) & ~acc);
            if (split == 3) {
                const K(vec) w2 = (((K(vec))pr & mp[2]) << sp[2]) | (((K(vec))xa & mx[2]) << sx[2])
                                  | (((K(vec))wa & mw[2]) << sw[2]);
                memcpy(W[0] + 1 + t, &acc, sizeof acc);
                memcpy(W[1] + 1 + t, &carries, sizeof carries);
                memcpy(W[2] + 1 + t, &w2, sizeof w2);
            } else if (split) {
                const K(vec) w0 = ((acc & ma[0]) << sa[0]) | ((carries & mc[0]) << sc[0]);
                const K(vec) w1 = (((K(vec))pr & mp[1]) << sp[1]) | (((K(vec))xa & mx[1]) << sx[1])
                                  | (((K(vec))wa & mw[1]) << sw[1]);
                memcpy(W[0] + 1 + t, &w0, sizeof w0);
                memcpy(W[1] + 1 + t, &w1, sizeof w1);
            } else {
                for (j = 0; j < nw; j++) {
                    const K(vec) word = (((K(vec))xa & mx[j]) << sx[j])
                                        | (((K(vec))wa & mw[j]) << sw[j])
                                        | (((K(vec))pr & mp[j]) << sp[j])
                                        | ((acc & ma[j]) << sa[j]) | ((carries & mc[j]) << sc[j]);
                    memcpy(W[j] + 1 + t, &word, sizeof word);
                }
            }
        }
        run = carry[0];
        for (j = 0; j < KLANES; j++) {
            mn = vmn[j] < mn ? vmn[j] : mn;
            mxm = vmx[j] > mxm ? vmx[j] : mxm;
            over += (uint64_t)vover[j];
        }
    }
#endif
    for (; t < b; t++) {
        const KSUM_T pr = (KSUM_T)x[t] * w[t];
        const uint64_t ux = (uint64_t)x[t], uw = (uint64_t)w[t], up = (uint64_t)pr;
        uint64_t acc, ad, carries;
        run += pr;
        acc = blo + (uint64_t)run;
        ad = acc - up;
        carries = (ad & up) | ((ad | up) & ~acc);
        mn = run < mn ? run : mn;
        mxm = run > mxm ? run : mxm;
        if (check)
            over += (uint64_t)((run < lo) | (run > hi));
        if (split == 3) {
            W[0][1 + t] = acc;
            W[1][1 + t] = carries;
            W[2][1 + t] = ((up & mp[2]) << sp[2]) | ((ux & mx[2]) << sx[2]) | ((uw & mw[2]) << sw[2]);
        } else if (split) {
            W[0][1 + t] = ((acc & ma[0]) << sa[0]) | ((carries & mc[0]) << sc[0]);
            W[1][1 + t] = ((up & mp[1]) << sp[1]) | ((ux & mx[1]) << sx[1]) | ((uw & mw[1]) << sw[1]);
        } else {
            for (j = 0; j < nw; j++)
                W[j][1 + t] = ((ux & mx[j]) << sx[j]) | ((uw & mw[j]) << sw[j])
                              | ((up & mp[j]) << sp[j]) | ((acc & ma[j]) << sa[j])
                              | ((carries & mc[j]) << sc[j]);
        }
    }
    st->overflows += over;
    if (seg_base + mn < st->min)
        st->min = seg_base + mn;
    if (seg_base + mxm > st->max)
        st->max = seg_base + mxm;
    return run;
}

/* Length of the segment at block index a, at position pos of its dot product: it ends at the
 * next dot-product start or at the end of the block. */
static size_t K(segment)(uint64_t length, uint64_t pos, size_t a, size_t n)
{
    return length && length - pos < n - a ? (size_t)(length - pos) : n - a;
}

/* The segments of a block [0, n) at global index g, given the exact sum before the block; the
 * register words go to W[j][1..n]. Returns the exact sum after the block. */
static i128 K(block_run)(const struct mac_plan *P, uint64_t g, const int64_t *x, const int64_t *w,
                         size_t n, i128 base, uint64_t *const *W, struct sum_stats *st)
{
    const uint64_t length = P->cfg.length;
    uint64_t pos = length ? g % length : g;
    i128 seg_base = pos == 0 ? 0 : base;
    size_t a, b;
    for (a = 0; a < n; a = b, pos = 0, seg_base = 0) {   /* later segments start a dot product */
        KSUM_T end;
        int check;
        b = a + K(segment)(length, pos, a, n);
        check = seg_base + (i128)(b - a) * P->product_min < P->acc_lo
                || seg_base + (i128)(b - a) * P->product_max > P->acc_hi;
        switch ((P->split == 3 ? MAX_WORDS + 4
                 : P->split ? MAX_WORDS + 1 + P->split_bits / 8 : P->nwords) * 2 + check) {
        case 2: end = K(segment_run)(P, 1, 0, 0, x, w, a, b, seg_base, W, st); break;
        case 3: end = K(segment_run)(P, 1, 0, 1, x, w, a, b, seg_base, W, st); break;
        case 4: end = K(segment_run)(P, 2, 0, 0, x, w, a, b, seg_base, W, st); break;
        case 5: end = K(segment_run)(P, 2, 0, 1, x, w, a, b, seg_base, W, st); break;
        case 6: end = K(segment_run)(P, 3, 0, 0, x, w, a, b, seg_base, W, st); break;
        case 7: end = K(segment_run)(P, 3, 0, 1, x, w, a, b, seg_base, W, st); break;
        case 8: end = K(segment_run)(P, 4, 0, 0, x, w, a, b, seg_base, W, st); break;
        case 9: end = K(segment_run)(P, 4, 0, 1, x, w, a, b, seg_base, W, st); break;
        case 2 * (MAX_WORDS + 1): end = K(segment_run)(P, 2, 1, 0, x, w, a, b, seg_base, W, st); break;
        case 2 * (MAX_WORDS + 1) + 1: end = K(segment_run)(P, 2, 1, 1, x, w, a, b, seg_base, W, st); break;
        case 2 * (MAX_WORDS + 2): end = K(segment_run)(P, 2, 8, 0, x, w, a, b, seg_base, W, st); break;
        case 2 * (MAX_WORDS + 2) + 1: end = K(segment_run)(P, 2, 8, 1, x, w, a, b, seg_base, W, st); break;
        case 2 * (MAX_WORDS + 3): end = K(segment_run)(P, 2, 16, 0, x, w, a, b, seg_base, W, st); break;
        case 2 * (MAX_WORDS + 3) + 1: end = K(segment_run)(P, 2, 16, 1, x, w, a, b, seg_base, W, st); break;
        case 2 * (MAX_WORDS + 4): end = K(segment_run)(P, 3, 3, 0, x, w, a, b, seg_base, W, st); break;
        default: end = K(segment_run)(P, 3, 3, 1, x, w, a, b, seg_base, W, st); break;
        }
        if (b == n)
            return seg_base + end;
    }
    return base;   /* n == 0 */
}

/* ---- the narrow fused path --------------------------------------------------------------
 * When every exact partial sum fits 32-bit two's complement (signed product, K * extreme
 * product inside [-2**31, 2**31), acc_bits >= 32) and the operands are int8/int16 arrays or
 * uniform samplers of at most 16 bits, one pass over 32-bit lanes (KVBYTES / 4 MACs per vector)
 * loads (sign-extending) or draws the operands, computes products, running sums, extremes and
 * adder carries, and feeds the differences of consecutive register words straight into the
 * Harley-Seal counters: no operand buffer, no stored words. The register words are acc, carry,
 * product | x | w (or product, then x | w for 16-bit operands). Bits of acc and carry above 31
 * repeat bit 31: acc is the sign extension of a 32-bit value, and so is the adder's first
 * input, whence the carry out of every bit above 31 equals the carry out of bit 31. At most one
 * dot product starts per vector (K >= lanes): a branch restarts the running sum at its lane.
 * When the sums fit 64 bits but not 32 and the accumulator has at most 32 bits ("wide": 16-bit
 * operands, K >= 2), the exact sums minus the accumulator's lower bound, T = S - lo, come from
 * 64-bit lanes of even and odd MACs (one pair-sum scan); acc is T's low halves plus lo, a MAC
 * overflows when T > hi - lo as an unsigned 64-bit number (two compares into masks, one
 * popcount), and the extremes are 64-bit. When the accumulator has more than 32 bits, every sum
 * fits it (no overflows) and 48 bits ("hiw", mode 3), the same 64-bit sums S (lo = 0) give a
 * fifth word: bits 32..47 of acc (S's high halves) and of the carries ((a & b) | ((a | b) & ~s)
 * bit by bit, with a = S - p the adder's first input and b = p's sign); the bits above 47
 * repeat bit 47, as those above 31 repeat bit 31 in the 32-bit case. Sums of 32-bit lanes with
 * the high part tracked from the adds' signed overflows would not be cheaper (estimated, not
 * built): each lane's high part needs a second prefix scan (of the overflow flags or of the products' high halves), and the
 * 64-bit scan measured about as fast as the 32-bit one; the extremes and the overflow test were
 * what cost (see README, "Speed"). */

#if KLANES > 1 && !KSUM_WIDE
#define KL32 (KVBYTES / 4)
typedef int32_t K(v32) __attribute__((vector_size(KVBYTES)));
typedef uint32_t K(u32) __attribute__((vector_size(KVBYTES)));
typedef int64_t K(s64) __attribute__((vector_size(KVBYTES)));


static inline K(v32) K(lanes32)(void)
{
    const K(v32) l = {0, 1, 2, 3, 4, 5, 6, 7
#if KL32 == 16
                      , 8, 9, 10, 11, 12, 13, 14, 15
#endif
    };
    return l;
}

#ifndef KN_I8   /* once for every inclusion */
enum { KN_I8 = 0, KN_I16, KN_UNIFORM8, KN_UNIFORM16 };
#define KN_I8 KN_I8
#endif

/* The operand kind of the narrow path, or -1 when the source does not qualify. */
static int K(narrow_kind)(const bitsim_source *s)
{
    if (s->kind == BITSIM_SOURCE_UNIFORM && s->bits <= 16)
        return s->bits <= 8 ? KN_UNIFORM8 : KN_UNIFORM16;
    if (s->kind == BITSIM_SOURCE_ARRAY && s->dtype == BITSIM_INT8 && s->bits <= 8)
        return KN_I8;
    if (s->kind == BITSIM_SOURCE_ARRAY && s->dtype == BITSIM_INT16 && s->bits <= 16)
        return KN_I16;
    return -1;
}

/* Range check of array elements [g, g + n): 1 and *bad (first offender) when one is outside. */
#define KNRANGE(T)                                                                             \
    do {                                                                                       \
        const T *a_ = (const T *)s->data + g;                                                  \
        T mn_ = a_[0], mx_ = a_[0];                                                            \
        for (i = 0; i < n; i++) {                                                              \
            mn_ = a_[i] < mn_ ? a_[i] : mn_;                                                   \
            mx_ = a_[i] > mx_ ? a_[i] : mx_;                                                   \
        }                                                                                      \
        if (mn_ >= lo && mx_ <= hi)                                                            \
            return 0;                                                                          \
        for (i = 0; i < n; i++)                                                                \
            if (a_[i] < lo || a_[i] > hi) {                                                    \
                *bad = g + i;                                                                  \
                return 1;                                                                      \
            }                                                                                  \
        return 0;                                                                              \
    } while (0)

static int K(narrow_range)(const bitsim_source *s, int kind, uint64_t g, size_t n, uint64_t *bad)
{
    const int64_t lo = s->is_signed ? -((int64_t)1 << (s->bits - 1)) : 0;
    const int64_t hi = s->is_signed ? ((int64_t)1 << (s->bits - 1)) - 1
                                    : ((int64_t)1 << s->bits) - 1;
    size_t i;
    if (kind == KN_I8 && lo <= INT8_MIN && hi >= INT8_MAX)
        return 0;   /* every int8 is a value of the format */
    if (kind == KN_I16 && lo <= INT16_MIN && hi >= INT16_MAX)
        return 0;
    if (kind == KN_I8)
        KNRANGE(int8_t);
    if (kind == KN_I16)
        KNRANGE(int16_t);
    return 0;
}
#undef KNRANGE

/* The last, partial vector of an array: lanes from nv on are 0. */
static __attribute__((noinline)) void K(narrow_fetch_part)(const bitsim_source *s, int kind,
                                                            uint64_t g, size_t nv, K(v32) *v)
{
    size_t i;
    *v = (K(v32)){0};
    for (i = 0; i < nv; i++)
        (*v)[i] = kind == KN_I8 ? ((const int8_t *)s->data)[g + i] : ((const int16_t *)s->data)[g + i];
}

/* Packed draws (operands.h) for a group of 16 vectors of a uniform source whose first operand is
 * g: the draws j0 = g >> p, j0 + 1, ... as little-endian words in d, so that operand g + i is the
 * container at byte KNB0(g) + i * W / 8 of d. The group's 16 KL32 operands of at most 16 bits
 * take at most KNDRAWS - 1 words after KNB0. */
#define KNDRAWS (16 * KL32 * 2 / 8 + KLANES)
#define KNP(kind) ((kind) == KN_UNIFORM8 ? 3 : 2)
#define KNB0(kind, g) (((g) & ((1u << KNP(kind)) - 1)) << (3 - KNP(kind)))
static inline __attribute__((always_inline)) void K(narrow_draws)(const bitsim_source *s,
                                                                  const int kind, uint64_t g,
                                                                  uint64_t *d)
{
    static const K(vec) step = {
#if KLANES == 4
        0, BITSIM_GOLDEN, 2 * BITSIM_GOLDEN, 3 * BITSIM_GOLDEN
#else
        0, BITSIM_GOLDEN, 2 * BITSIM_GOLDEN, 3 * BITSIM_GOLDEN, 4 * BITSIM_GOLDEN,
        5 * BITSIM_GOLDEN, 6 * BITSIM_GOLDEN, 7 * BITSIM_GOLDEN
#endif
    };
    const int p = KNP(kind);
    /* words: the group's 16 KL32 W / 64, one more when it starts inside a word */
    const int words = ((16 * KL32) >> p) + ((g & ((1u << p) - 1)) != 0);
    K(vec) c = (uint64_t)(s->key + ((g >> p) + 1) * BITSIM_GOLDEN) + step;
    int k;
    for (k = 0; k < words; k += KLANES) {
        K(vec) u = c;
        u = (u ^ (u >> 30)) * 0xBF58476D1CE4E5B9ULL;
        u = (u ^ (u >> 27)) * 0x94D049BB133111EBULL;
        u ^= u >> 31;
        memcpy(d + k, &u, sizeof u);
        c += (uint64_t)KLANES * BITSIM_GOLDEN;
    }
}

/* Operands g0 + v KL32 .. of a uniform source from its group's draws d (g0: the group's first
 * operand), in 32-bit lanes: the containers' top bits; lanes from nv on are 0. */
static inline __attribute__((always_inline)) K(v32)
K(narrow_sample)(const bitsim_source *s, const int kind, const uint64_t *d, uint64_t g0, size_t v,
                 size_t nv)
{
    const int cw = kind == KN_UNIFORM8 ? 8 : 16;
    const unsigned char *b = (const unsigned char *)d + KNB0(kind, g0) + v * KL32 * (cw / 8);
    K(v32) x;
#if KL32 == 8
    if (kind == KN_UNIFORM8)
        x = (K(v32))_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)b));
    else
        x = (K(v32))_mm256_cvtepi16_epi32(_mm_loadu_si128((const __m128i *)b));
#else
    if (kind == KN_UNIFORM8)
        x = (K(v32))_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)b));
    else
        x = (K(v32))_mm512_cvtepi16_epi32(_mm256_loadu_si256((const __m256i *)b));
#endif
    if (s->is_signed)
        x >>= cw - s->bits;
    else
        x = (K(v32))(((K(u32))x & (uint32_t)((1u << cw) - 1)) >> (cw - s->bits));
    if (nv < KL32)
        x &= K(lanes32)() < (int32_t)nv;
    return x;
}

/* Operands g .. g + KL32 - 1 in 32-bit lanes; lanes from nv on are 0 (and nothing past the
 * end of an array is read). */
static inline __attribute__((always_inline)) K(v32)
K(narrow_fetch)(const bitsim_source *s, const int kind, uint64_t g, size_t nv)
{
    K(v32) v;
    if (__builtin_expect(nv < KL32, 0)) {
        K(narrow_fetch_part)(s, kind, g, nv, &v);
        return v;
    }
    /* sign-extending loads (GCC 12 scalarises __builtin_convertvector from 8-bit lanes) */
#if KL32 == 8
    if (kind == KN_I8)
        return (K(v32))_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)((const int8_t *)s->data + g)));
    return (K(v32))_mm256_cvtepi16_epi32(_mm_loadu_si128((const __m128i *)((const int16_t *)s->data + g)));
#else
    if (kind == KN_I8)
        return (K(v32))_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)((const int8_t *)s->data + g)));
    return (K(v32))_mm512_cvtepi16_epi32(_mm256_loadu_si256((const __m256i *)((const int16_t *)s->data + g)));
#endif
}

/* Inclusive prefix sum over the lanes. */
static inline K(v32) K(scan32)(K(v32) v)
{
    const K(v32) z = {0};
#if KL32 == 8
    v += BITSIM_SHUFFLE2(v, z, K(v32), 8, 0, 1, 2, 3, 4, 5, 6);
    v += BITSIM_SHUFFLE2(v, z, K(v32), 8, 8, 0, 1, 2, 3, 4, 5);
    v += BITSIM_SHUFFLE2(v, z, K(v32), 8, 8, 8, 8, 0, 1, 2, 3);
#else   /* valignd: an immediate, no index vector to keep in a register */
    v += (K(v32))_mm512_alignr_epi32((__m512i)v, (__m512i)z, 15);
    v += (K(v32))_mm512_alignr_epi32((__m512i)v, (__m512i)z, 14);
    v += (K(v32))_mm512_alignr_epi32((__m512i)v, (__m512i)z, 12);
    v += (K(v32))_mm512_alignr_epi32((__m512i)v, (__m512i)z, 8);
#endif
    return v;
}

/* Inclusive prefix sum over 64-bit lanes. */
static inline K(s64) K(scan64)(K(s64) v)
{
    const K(s64) z = {0};
#if KLANES == 4
    v += BITSIM_SHUFFLE2(v, z, K(s64), 4, 0, 1, 2);
    v += BITSIM_SHUFFLE2(v, z, K(s64), 4, 4, 0, 1);
#else
    v += (K(s64))_mm512_alignr_epi64((__m512i)v, (__m512i)z, 7);
    v += (K(s64))_mm512_alignr_epi64((__m512i)v, (__m512i)z, 6);
    v += (K(s64))_mm512_alignr_epi64((__m512i)v, (__m512i)z, 4);
#endif
    return v;
}

/* Wide sums of a vector in which a dot product starts at lane r (products pr, exact sum before
 * the vector carry, both offset by bias): *se, *so get the sums after the even and the odd MACs
 * (2i and 2i + 1 in 64-bit lane i). */
static __attribute__((noinline)) void K(wide_restart)(K(v32) pr, int64_t carry, int64_t bias,
                                                      int r, K(s64) *se)
{
    K(s64) *so = se + 1;
    int64_t s = carry;
    int l;
    for (l = 0; l < KL32; l++) {
        s = (l == r ? bias : s) + pr[l];
        if (l & 1)
            (*so)[l / 2] = s;
        else
            (*se)[l / 2] = s;
    }
}

#if KLANES == 4
#define KNLAST64(v) BITSIM_SHUFFLE1(v, K(s64), 3, 3, 3, 3)
#define KNMULEVEN(a, b) _mm256_mul_epi32((__m256i)(a), (__m256i)(b))
#define KNMIN64(a, b) ((K(s64))((a) < (b)) & (a)) | ((K(s64))((a) >= (b)) & (b))
#define KNMAX64(a, b) ((K(s64))((a) > (b)) & (a)) | ((K(s64))((a) <= (b)) & (b))
#define KNHALVES(e, o, H) BITSIM_SHUFFLE2(e, o, K(v32), H, 8 + H, 2 + H, 10 + H, 4 + H, 12 + H, \
                                          6 + H, 14 + H)
/* Count the MACs < nv whose T (even se, odd so; low halves s) lies outside [0, span]. */
#define KNOVER(se, so, s, nv)                                                                  \
    {                                                                                          \
        K(v32) o_ = (K(v32))(KNHALVES((K(v32))(se), (K(v32))(so), 1) != zero);                 \
        if (!full)                                                                             \
            o_ |= (K(v32))((K(u32))(s) > span32);                                              \
        if (__builtin_expect((nv) < KL32, 0))                                                  \
            o_ &= (K(v32))(lane < (int32_t)(nv));                                              \
        vover -= o_;                                                                           \
    }
#else
#define KNLAST64(v) BITSIM_SHUFFLE1(v, K(s64), 7, 7, 7, 7, 7, 7, 7, 7)
#define KNMULEVEN(a, b) _mm512_mul_epi32((__m512i)(a), (__m512i)(b))
#define KNMIN64(a, b) (K(s64))_mm512_min_epi64((__m512i)(a), (__m512i)(b))
#define KNMAX64(a, b) (K(s64))_mm512_max_epi64((__m512i)(a), (__m512i)(b))
#define KNHALVES(e, o, H) BITSIM_SHUFFLE2(e, o, K(v32), H, 16 + H, 2 + H, 18 + H, 4 + H, 20 + H, \
                                          6 + H, 22 + H, 8 + H, 24 + H, 10 + H, 26 + H, 12 + H,  \
                                          28 + H, 14 + H, 30 + H)
/* ... with unsigned 64-bit compares into masks (bit i: MAC 2i, bit 8 + i: MAC 2i + 1) and a
 * scalar popcount: no vector instruction for the count */
#define KNOVER(se, so, s, nv)                                                                  \
    {                                                                                          \
        const __m512i sp_ = (__m512i)span64;                                                   \
        unsigned m_ = _mm512_cmpgt_epu64_mask((__m512i)(se), sp_)                              \
                      | (unsigned)_mm512_cmpgt_epu64_mask((__m512i)(so), sp_) << 8;            \
        if (__builtin_expect((nv) < KL32, 0))                                                  \
            m_ &= ((1u << ((nv) + 1) / 2) - 1) | ((1u << (nv) / 2) - 1) << 8;                  \
        over += (uint64_t)__builtin_popcount(m_);                                              \
    }
#endif
#if KL32 == 8
#define KNLAST(v) BITSIM_SHUFFLE1(v, K(v32), 7, 7, 7, 7, 7, 7, 7, 7)
#define KNPREV(a, b) BITSIM_SHUFFLE2(a, b, K(u32), 15, 0, 1, 2, 3, 4, 5, 6)
#define KNMIN(a, b) (K(v32))_mm256_min_epi32((__m256i)(a), (__m256i)(b))
#define KNMAX(a, b) (K(v32))_mm256_max_epi32((__m256i)(a), (__m256i)(b))
#else
#define KNLAST(v) BITSIM_SHUFFLE1(v, K(v32), 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15)
#define KNPREV(a, b) (K(u32))_mm512_alignr_epi32((__m512i)(a), (__m512i)(b), 15)
#define KNMIN(a, b) (K(v32))_mm512_min_epi32((__m512i)(a), (__m512i)(b))
#define KNMAX(a, b) (K(v32))_mm512_max_epi32((__m512i)(a), (__m512i)(b))
#endif

/* The adder's carries out: (a & b) | ((a | b) & ~s), one instruction on AVX-512 */
#if KVBYTES == 64
#define KNCARRY(a, b, s)                                                                       \
    (K(v32))_mm512_ternarylogic_epi32((__m512i)(a), (__m512i)(b), (__m512i)(s), 0xd4)
#else
#define KNCARRY(a, b, s) (((a) & (b)) | (((a) | (b)) & ~(s)))
#endif

/* Statements for each register word j < nw (j is a literal: the state is in named variables). */
#define KNWORDS(M) M(0) M(1) M(2) if (nq) { M(3) } if (hiw) { M(4) }

/* The register words of one vector of MACs, as diffs D0..D3 against the previous MAC's words. */
#define KNDIFF(j) KNDIFFP(j, KNPREV(w##j##_, prev##j))
#define KNDIFFP(j, P)                                                                          \
    {                                                                                          \
        K(u32) dd_ = w##j##_ ^ (P);                                                            \
        prev##j = w##j##_;                                                                     \
        if (__builtin_expect(nv_ < KL32, 0))                                                   \
            dd_ &= (K(u32))(lane < (int32_t)nv_);                                              \
        d##j = (K(vec))dd_;                                                                    \
    }
#define KNSTEP(k)                                                                              \
    do {                                                                                       \
        const size_t t_ = t + (size_t)(k) * KL32;                                              \
        const size_t nv_ = t_ < n ? (n - t_ < KL32 ? n - t_ : KL32) : 0;                       \
        const uint64_t g_ = start + off + t_;                                                  \
        K(v32) xv_, wv_;                                                                       \
        if (xk >= KN_UNIFORM8) {                                                               \
            xv_ = K(narrow_sample)(xs, xk, dx, start + off + t, (size_t)(k), nv_);             \
            wv_ = K(narrow_sample)(ws, wk, dw, start + off + t, (size_t)(k), nv_);             \
        } else {                                                                               \
            xv_ = K(narrow_fetch)(xs, xk, g_, nv_);                                            \
            wv_ = K(narrow_fetch)(ws, wk, g_, nv_);                                            \
        }                                                                                      \
        const K(v32) pr_ = xv_ * wv_;                                                          \
        K(v32) s_, ad_, car_;                                                                  \
        K(u32) w0_, w1_, w2_, w3_, w4_, ps_;                                                   \
        int rs_ = 0; /* a dot product starts in the vector */                                  \
        if (wide) { /* T = S - lo in 64-bit lanes of even and odd MACs */                     \
            const K(s64) pe_ = (K(s64))KNMULEVEN(xv_, wv_);                                    \
            const K(s64) po_ = (K(s64))pr_ >> 32; /* the odd products, sign-extended */        \
            const K(s64) q_ = K(scan64)(pe_ + po_);                                            \
            K(s64) se_, so_;                                                                   \
            so_ = q_ + carry64;                                                                \
            se_ = so_ - po_;                                                                   \
            if (__builtin_expect(nxt - (off + t_) < nv_, 0)) {                                 \
                K(s64) r_[2]; /* not &se_: they would live in memory */                        \
                K(wide_restart)(pr_, carry64[0], -(int64_t)lo32, (int)(nxt - (off + t_)), r_); \
                se_ = r_[0];                                                                   \
                so_ = r_[1];                                                                   \
                nxt += length;                                                                 \
                rs_ = 1;                                                                       \
            }                                                                                  \
            carry64 = KNLAST64(so_);                                                           \
            vmn64 = KNMIN64(vmn64, KNMIN64(se_, so_));                                         \
            vmx64 = KNMAX64(vmx64, KNMAX64(se_, so_));                                         \
            s_ = KNHALVES((K(v32))se_, (K(v32))so_, 0); /* low halves: T mod 2**32 */          \
            if (hiw) { /* bits 32..47 of acc and of the carries (S - p: the adder's input) */  \
                const K(u32) sh_ = (K(u32))KNHALVES((K(v32))se_, (K(v32))so_, 1);               \
                const K(u32) ah_ = (K(u32))KNHALVES((K(v32))(se_ - pe_), (K(v32))(so_ - po_), 1); \
                const K(u32) ch_ = (K(u32))KNCARRY(ah_, (K(u32))(pr_ >> 31), sh_);              \
                w4_ = (sh_ & 0xFFFF) | (ch_ << 16);                                            \
            }                                                                                  \
            if (check) /* outside: T > span, unsigned; span < 2**32 */                         \
                KNOVER(se_, so_, s_, nv_)                                                      \
            s_ += (int32_t)lo32;                                                               \
        } else {                                                                               \
            s_ = K(scan32)(pr_) + carry;                                                       \
            if (__builtin_expect(nxt - (off + t_) < nv_, 0)) { /* a dot product starts */     \
                s_ = K(narrow_restart)(s_, carry, (int)(nxt - (off + t_)));                    \
                nxt += length;                                                                 \
                rs_ = 1;                                                                       \
            }                                                                                  \
            carry = KNLAST(s_);                                                                \
            vmn = KNMIN(vmn, s_);                                                              \
            vmx = KNMAX(vmx, s_);                                                              \
        }                                                                                      \
        /* the adder's first input: the previous MAC's acc word, 0 where a dot product starts */ \
        w0_ = (K(u32))s_;                                                                      \
        ps_ = KNPREV(w0_, prev0);                                                              \
        ad_ = __builtin_expect(rs_, 0) ? s_ - pr_ : (K(v32))ps_;                               \
        car_ = KNCARRY(ad_, pr_, s_);                                                          \
        w1_ = (K(u32))car_;                                                                    \
        if (nq) {                                                                              \
            w2_ = (K(u32))pr_;                                                                 \
            if (xk != KN_I16)                                                                  \
                w3_ = ((K(u32))xv_ & xmask) | (((K(u32))wv_ & wmask) << 16);                   \
        } else {                                                                               \
            /* two bit selects; bits above x's and w's fields are never read */                \
            w2_ = ((((K(u32))pr_ & pmask) | (((K(u32))xv_ << xsh) & ~pmask)) & wlow)           \
                  | ((K(u32))wv_ << wsh);                                                      \
            w3_ = w2_;                                                                         \
        }                                                                                      \
        KNDIFFP(0, ps_) KNDIFF(1) KNDIFF(2)                                                    \
        if (nq && xk == KN_I16) {                                                              \
            if (__builtin_expect(nv_ < KL32 || g_ == 0, 0))                                    \
                d3 = K(raw_diff_part)(xs, ws, g_, nv_);                                        \
            else                                                                               \
                d3 = KNRAWDIFF((const int16_t *)xs->data + g_, (const int16_t *)ws->data + g_); \
        } else if (nq) {                                                                       \
            KNDIFF(3)                                                                          \
        }                                                                                      \
        if (hiw) {                                                                             \
            KNDIFF(4)                                                                          \
        }                                                                                      \
    } while (0)

/* A carry-save adder: majority and parity of three vectors, one three-input logic instruction
 * each on AVX-512 (GCC 12 makes four instructions of KCSA's shared a ^ b). */
#if KVBYTES == 64
#define KNCSA(h, l, a, b, c)                                                                   \
    do {                                                                                       \
        const __m512i a_ = (__m512i)(a), b_ = (__m512i)(b), c_ = (__m512i)(c);                 \
        h = (K(vec))_mm512_ternarylogic_epi64(a_, b_, c_, 0xe8);                               \
        l = (K(vec))_mm512_ternarylogic_epi64(a_, b_, c_, 0x96);                               \
    } while (0)
#else
#define KNCSA KCSA
#endif
#define KNKEEP(j) da##j = d##j;
#define KNCSA_A(j) KNCSA(twA##j, ones##j, ones##j, da##j, d##j);
#define KNCSA_B(j) KNCSA(twB##j, ones##j, ones##j, da##j, d##j);
#define KNPAIR(k, CSA)                                                                         \
    do {                                                                                       \
        K(vec) d0, d1, d2, d3 = z64, da0, da1, da2, da3 = z64; /* word 3: when nq */           \
        K(vec) d4 = z64, da4 = z64;                            /* word 4: when hiw */          \
        KNSTEP(k);                                                                             \
        KNWORDS(KNKEEP)                                                                        \
        KNSTEP((k) + 1);                                                                       \
        KNWORDS(CSA)                                                                           \
    } while (0)
#define KNFOURS_A(j) KNCSA(foA##j, twos##j, twos##j, twA##j, twB##j);
#define KNEIGHTS_A(j)                                                                          \
    KNCSA(foB##j, twos##j, twos##j, twA##j, twB##j);                                            \
    KNCSA(eiA##j, fours##j, fours##j, foA##j, foB##j);
#define KNSIXTEENS(j)                                                                          \
    {                                                                                          \
        K(vec) sx_;                                                                             \
        KNCSA(foB##j, twos##j, twos##j, twA##j, twB##j);                                        \
        KNCSA(eiB##j, fours##j, fours##j, foA##j, foB##j);                                      \
        KNCSA(sx_, eights##j, eights##j, eiA##j, eiB##j);                                        \
        for (p = 0; p < 4; p++) { /* the sixteens, into a 4-bit ripple counter */             \
            const K(vec) u_ = small[j][p] & sx_;                                               \
            small[j][p] ^= sx_;                                                                \
            sx_ = u_;                                                                          \
        }                                                                                      \
    }
/* Every 15 groups: the 4-bit counter, added to the KPLANES-bit one. */
#define KNDRAIN(j)                                                                             \
    {                                                                                          \
        K(vec) cy_ = z64;                                                                      \
        for (p = 0; p < KPLANES; p++) {                                                        \
            const K(vec) a_ = planes[j][p], b_ = p < 4 ? small[j][p] : z64;                    \
            planes[j][p] = a_ ^ b_ ^ cy_;                                                      \
            cy_ = (a_ & b_) | (cy_ & (a_ ^ b_));                                               \
        }                                                                                      \
        memset(small[j], 0, sizeof small[j]);                                                  \
    }
#define KNFLUSH(j)                                                                             \
    {                                                                                          \
        struct K(pp) pp_;                                                                      \
        pp_.ones = ones##j;                                                                    \
        pp_.twos = twos##j;                                                                    \
        pp_.fours = fours##j;                                                                  \
        pp_.eights = eights##j;                                                                \
        memcpy(pp_.planes, planes[j], sizeof pp_.planes);                                      \
        K(narrow_flush)(&pp_, cnt, j == 4 ? 5 : j, j == 3 && xk == KN_I16);                    \
        ones##j = twos##j = fours##j = eights##j = pp_.ones; /* zero */                        \
        memset(planes[j], 0, sizeof planes[j]);                                                \
    }

/* Word 3 of int16 arrays, x | w, is counted from the diffs of the raw operands: x[g + i] ^
 * x[g + i - 1] in 16-bit lane i of the vector's low half, w's in its high half (two loads and
 * an exclusive or each, no shuffle: the counters count bit positions, whatever the lane). A
 * flush then splits the lanes: x's counts to cnt[3], w's to cnt[4]. */
#if KL32 == 16
#define KNRAWDIFF1(p)                                                                          \
    _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(p)),                                 \
                     _mm256_loadu_si256((const __m256i *)((p) - 1)))
#define KNRAWDIFF(xp, wp)                                                                      \
    ((K(vec))_mm512_inserti64x4(_mm512_castsi256_si512(KNRAWDIFF1(xp)), KNRAWDIFF1(wp), 1))
#else
#define KNRAWDIFF1(p)                                                                          \
    _mm_xor_si128(_mm_loadu_si128((const __m128i *)(p)), _mm_loadu_si128((const __m128i *)((p) - 1)))
#define KNRAWDIFF(xp, wp)                                                                      \
    ((K(vec))_mm256_inserti128_si256(_mm256_castsi128_si256(KNRAWDIFF1(xp)), KNRAWDIFF1(wp), 1))
#endif

/* ... for the run's first vector (MAC -1's operands are 0) and partial ones (lanes from nv on
 * are 0; nothing past the arrays is read). */
static __attribute__((noinline)) K(vec) K(raw_diff_part)(const bitsim_source *xs,
                                                         const bitsim_source *ws, uint64_t g,
                                                         size_t nv)
{
    const int16_t *x = (const int16_t *)xs->data, *w = (const int16_t *)ws->data;
    int16_t d[2][KL32];
    K(vec) v;
    size_t i;
    memset(d, 0, sizeof d);
    for (i = 0; i < nv; i++) {
        const uint64_t e = g + i;
        d[0][i] = (int16_t)(x[e] ^ (e ? x[e - 1] : 0));
        d[1][i] = (int16_t)(w[e] ^ (e ? w[e - 1] : 0));
    }
    memcpy(&v, d, sizeof v);
    return v;
}

/* Flush word j's counters to cnt[j], or (split) their low lanes to cnt[j] and high ones to
 * cnt[j + 1]. */
static void K(narrow_flush)(struct K(pp) *pp, uint64_t (*cnt)[64], int j, int split)
{
    if (split) {
        struct K(pp) hi = *pp;
        K(vec) low;
        int l, p;
        for (l = 0; l < KLANES; l++)
            low[l] = l < KLANES / 2 ? ~(uint64_t)0 : 0;
        pp->ones &= low;
        pp->twos &= low;
        pp->fours &= low;
        pp->eights &= low;
        hi.ones &= ~low;
        hi.twos &= ~low;
        hi.fours &= ~low;
        hi.eights &= ~low;
        for (p = 0; p < KPLANES; p++) {
            pp->planes[p] &= low;
            hi.planes[p] &= ~low;
        }
        K(pp_flush)(&hi, cnt[j + 1]);
    }
    K(pp_flush)(pp, cnt[j]);
}

/* The running sums of a vector in which a dot product starts at lane r: from there on they
 * restart from 0. */
static __attribute__((noinline)) K(v32) K(narrow_restart)(K(v32) s, K(v32) carry, int r)
{
    const K(v32) zero = {0};
    const int32_t sub = r ? s[r - 1] : carry[0];
    return s - ((K(lanes32)() >= r) & (zero + sub));
}

/* The counts of MACs [start, start + count), xk, wk (operand kinds) constant where inlined;
 * nq: x | w in a word of their own; cnt[j] gets the positional counts of word j's 64-bit lanes
 * (bit b of a 32-bit word: cnt[j][b] + cnt[j][b + 32]); ext: minimum, maximum, sum after. */
static inline __attribute__((always_inline)) int
K(narrow_body)(const struct mac_plan *P, const bitsim_source *xs, const bitsim_source *ws,
               const int xk, const int wk, const int wide, uint64_t start, uint64_t count,
               int64_t base, uint64_t (*cnt)[64], int64_t *ext, uint64_t *bad)
{
    const uint64_t length = P->cfg.length;
    const int pb = P->site_bits[BITSIM_SITE_PRODUCT], xb = P->cfg.x_bits, wb = P->cfg.w_bits;
    const int nq = pb + xb + wb > 32;
    const uint32_t pmask = pb >= 32 ? ~0u : (1u << pb) - 1;
    const uint32_t xmask = (1u << xb) - 1, wmask = (1u << wb) - 1;
    const int xsh = pb, wsh = pb + xb;   /* used when !nq (then pb + xb + wb <= 32) */
    const uint32_t wlow = (1u << wsh) - 1;   /* wsh < 32 when !nq */
    const size_t CH = 64 * 16 * KL32;    /* MACs between interruption and range checks */
    const K(v32) lane = K(lanes32)(), zero = {0};
    const K(vec) z64 = {0};
    K(v32) carry = zero + (int32_t)base, vmn = zero + INT32_MAX, vmx = zero + INT32_MIN;
    /* wide == 1: the accumulator has at most 32 bits, so lo >= -2**31 and hi - lo < 2**32;
     * wide == 2 (hiw): it has more, every sum fits it and 48 bits: no overflows, T = S */
    const int hiw = wide == 2;
    const K(s64) zero64 = {0};
    const int64_t lo32 = wide == 1 ? (int64_t)P->acc_lo : 0;
    const uint32_t span32 = wide == 1 ? (uint32_t)(P->acc_hi - P->acc_lo) : 0;
    const int full = span32 == UINT32_MAX;   /* outside: T >= 2**32 (or < 0) */
    const K(s64) span64 = zero64 + (int64_t)span32;
    (void)full;   /* read by AVX2's KNOVER */
    (void)span64; /* ... and AVX-512's */
    const int check = !hiw && (!length || (i128)length * P->product_min < P->acc_lo
                                || (i128)length * P->product_max > P->acc_hi);
    K(s64) carry64 = zero64 + (base - lo32), vmn64 = zero64 + INT64_MAX, vmx64 = zero64 + INT64_MIN;
    K(v32) vover = zero;   /* AVX2: overflows per lane, added to over every chunk */
    uint64_t over = 0;
    K(u32) prev0 = (K(u32))zero, prev1 = prev0, prev2 = prev0, prev3 = prev0, prev4 = prev0;
    K(vec) ones0 = z64, ones1 = z64, ones2 = z64, ones3 = z64, ones4 = z64;
    K(vec) twos0 = z64, twos1 = z64, twos2 = z64, twos3 = z64, twos4 = z64;
    K(vec) fours0 = z64, fours1 = z64, fours2 = z64, fours3 = z64, fours4 = z64;
    K(vec) eights0 = z64, eights1 = z64, eights2 = z64, eights3 = z64, eights4 = z64;
    K(vec) planes[5][KPLANES], small[5][4];
    uint64_t dx[KNDRAWS], dw[KNDRAWS];   /* a group's packed draws of uniform sources */
    uint32_t groups = 0, sgroups = 0;
    /* the next dot product's start - start (none in an endless one) */
    uint64_t off, nxt = !length ? UINT64_MAX : start % length ? length - start % length : 0;
    int j, p;
    memset(planes, 0, sizeof planes);
    memset(small, 0, sizeof small);
    if (start > 0) {   /* the words MAC start - 1 left in the registers */
        int64_t x0, w0;
        int32_t pr0, ad0, a0 = (int32_t)base;
        uint32_t wd2, wd3;
        if (K(load)(xs, start - 1, 1, &x0, bad))
            return BITSIM_ERR_X_RANGE;
        if (K(load)(ws, start - 1, 1, &w0, bad))
            return BITSIM_ERR_W_RANGE;
        pr0 = (int32_t)(x0 * w0);
        ad0 = (int32_t)((uint32_t)a0 - (uint32_t)pr0);
        wd2 = nq ? (uint32_t)pr0
                 : ((uint32_t)pr0 & pmask) | (((uint32_t)x0 & xmask) << xsh)
                       | (((uint32_t)w0 & wmask) << wsh);
        wd3 = ((uint32_t)x0 & xmask) | (((uint32_t)w0 & wmask) << 16);
        prev0 = (K(u32))zero + (uint32_t)a0;
        prev1 = (K(u32))zero + (uint32_t)((ad0 & pr0) | ((ad0 | pr0) & ~a0));
        prev2 = (K(u32))zero + wd2;
        prev3 = (K(u32))zero + wd3;
        if (hiw) {   /* bits 32..47 of MAC start - 1's acc and carries, from 64-bit values */
            const uint64_t a = (uint64_t)base, q = (uint64_t)(x0 * w0), d = a - q;
            const uint64_t c = (d & q) | ((d | q) & ~a);
            prev4 = (K(u32))zero + (uint32_t)(((a >> 32) & 0xFFFF) | ((c >> 32) & 0xFFFF) << 16);
        }
    }
    for (off = 0; off < count; off += CH) {
        const size_t n = (size_t)(count - off < CH ? count - off : CH);
        size_t t;
        if (bitsim_interrupted())
            return BITSIM_ERR_INTERRUPTED;
        if (xk < KN_UNIFORM8 && K(narrow_range)(xs, xk, start + off, n, bad))
            return BITSIM_ERR_X_RANGE;
        if (wk < KN_UNIFORM8 && K(narrow_range)(ws, wk, start + off, n, bad))
            return BITSIM_ERR_W_RANGE;
        for (t = 0; t < n; t += 16 * KL32) {
            K(vec) twA0, twA1, twA2, twA3 = z64, twB0, twB1, twB2, twB3 = z64;
            K(vec) foA0, foA1, foA2, foA3 = z64, foB0, foB1, foB2, foB3 = z64;
            K(vec) eiA0, eiA1, eiA2, eiA3 = z64, eiB0, eiB1, eiB2, eiB3 = z64;
            K(vec) twA4 = z64, twB4 = z64, foA4 = z64, foB4 = z64, eiA4 = z64, eiB4 = z64;
            if (xk >= KN_UNIFORM8) {
                K(narrow_draws)(xs, xk, start + off + t, dx);
                K(narrow_draws)(ws, wk, start + off + t, dw);
            }
            KNPAIR(0, KNCSA_A);
            KNPAIR(2, KNCSA_B);
            KNWORDS(KNFOURS_A)
            KNPAIR(4, KNCSA_A);
            KNPAIR(6, KNCSA_B);
            KNWORDS(KNEIGHTS_A)
            KNPAIR(8, KNCSA_A);
            KNPAIR(10, KNCSA_B);
            KNWORDS(KNFOURS_A)
            KNPAIR(12, KNCSA_A);
            KNPAIR(14, KNCSA_B);
            KNWORDS(KNSIXTEENS)
            if (++sgroups == 15 || off + t + 16 * KL32 >= count) {
                KNWORDS(KNDRAIN)
                sgroups = 0;
            }
            if (++groups == 15 * 273 || off + t + 16 * KL32 >= count) {   /* 4095 */
                KNWORDS(KNFLUSH)
                groups = 0;
            }
        }
        for (j = 0; j < KL32; j++)
            over += (uint32_t)vover[j];
        vover = zero;
    }
    if (wide) {
        ext[0] = INT64_MAX;
        ext[1] = INT64_MIN;
        for (j = 0; j < KLANES; j++) {
            ext[0] = vmn64[j] < ext[0] ? vmn64[j] : ext[0];
            ext[1] = vmx64[j] > ext[1] ? vmx64[j] : ext[1];
        }
        ext[0] += lo32;
        ext[1] += lo32;
        ext[2] = carry64[0] + lo32;
        ext[3] = (int64_t)over;
    } else {
        ext[0] = INT32_MAX;
        ext[1] = INT32_MIN;
        for (j = 0; j < KL32; j++) {
            ext[0] = vmn[j] < ext[0] ? vmn[j] : ext[0];
            ext[1] = vmx[j] > ext[1] ? vmx[j] : ext[1];
        }
        ext[2] = carry[0];
        ext[3] = 0;
    }
    return BITSIM_OK;
}
#undef KNWORDS
#undef KNDRAWS
#undef KNP
#undef KNB0
#undef KNDIFF
#undef KNDIFFP
#undef KNSTEP
#undef KNKEEP
#undef KNCSA
#undef KNCSA_A
#undef KNCSA_B
#undef KNPAIR
#undef KNFOURS_A
#undef KNEIGHTS_A
#undef KNSIXTEENS
#undef KNDRAIN
#undef KNFLUSH
#undef KNLAST
#undef KNPREV
#undef KNMIN
#undef KNMAX
#undef KNLAST64
#undef KNMULEVEN
#undef KNMIN64
#undef KNMAX64
#undef KNHALVES
#undef KNCARRY
#undef KNRAWDIFF1
#undef KNRAWDIFF
#undef KNOVER

/* Which fused path computes this run: 1 when every partial sum fits 32 bits (see above), 2 when
 * they fit 64 bits and the accumulator has at most 32 (its register and adder words are then
 * the low 32 bits of the exact sums, which 64-bit lanes of even and odd MACs give for the
 * extremes and overflows), 3 when it has more and every sum fits it and 48 bits (the same
 * 64-bit sums give bits 32..47 too), 0 for none. Partial sums lie within K extreme products (the sum
 * before the run is part of its dot product), or, for one endless dot product (length 0),
 * within base + count extreme products. */
static int K(narrow_mode)(const struct mac_plan *P, const bitsim_source *xs,
                          const bitsim_source *ws, uint64_t count, i128 base)
{
    const uint64_t length = P->cfg.length;
    const int xk = K(narrow_kind)(xs), wk = K(narrow_kind)(ws);
    i128 lo, hi;
    if (count == 0 || !(P->cfg.x_signed || P->cfg.w_signed) || (length && length < KL32)
        || length > ((uint64_t)1 << 40) || xk < 0 || xk != wk)
        return 0;
    lo = length ? (i128)length * P->product_min : base + (i128)count * P->product_min;
    hi = length ? (i128)length * P->product_max : base + (i128)count * P->product_max;
    if (P->cfg.acc_bits >= 32 && lo >= -((i128)1 << 31) && hi < ((i128)1 << 31))
        return 1;
    if (P->cfg.acc_bits <= 32 && lo >= -((i128)1 << 62) && hi < ((i128)1 << 62))
        return 2;
    if (P->cfg.acc_bits > 32 && lo >= -((i128)1 << 47) && hi < ((i128)1 << 47)
        && lo >= P->acc_lo && hi <= P->acc_hi)
        return 3;
    return 0;
}

/* One function per operand kind and sum width (one function with every body inlined compiles
 * the array bodies ~1.5x slower on AVX2). */
#define KNFUNC(NAME, XK, WIDE)                                                                 \
    static __attribute__((noinline)) int K(NAME)(const struct mac_plan *P,                     \
                                                 const bitsim_source *xs,                      \
                                                 const bitsim_source *ws, uint64_t start,      \
                                                 uint64_t count, int64_t base,                 \
                                                 uint64_t (*cnt)[64], int64_t *ext,            \
                                                 uint64_t *bad)                                \
    {                                                                                          \
        return K(narrow_body)(P, xs, ws, XK, XK, WIDE, start, count, base, cnt, ext, bad);     \
    }
KNFUNC(narrow_i8, KN_I8, 0)
KNFUNC(narrow_i8_wide, KN_I8, 1)
KNFUNC(narrow_i8_hi, KN_I8, 2)
KNFUNC(narrow_i16, KN_I16, 0)
KNFUNC(narrow_i16_wide, KN_I16, 1)
KNFUNC(narrow_i16_hi, KN_I16, 2)
KNFUNC(narrow_u8, KN_UNIFORM8, 0)
KNFUNC(narrow_u8_wide, KN_UNIFORM8, 1)
KNFUNC(narrow_u8_hi, KN_UNIFORM8, 2)
KNFUNC(narrow_u16, KN_UNIFORM16, 0)
KNFUNC(narrow_u16_wide, KN_UNIFORM16, 1)
KNFUNC(narrow_u16_hi, KN_UNIFORM16, 2)
#undef KNFUNC

static int K(narrow)(const struct mac_plan *P, const bitsim_source *xs, const bitsim_source *ws,
                     int mode, uint64_t start, uint64_t count, int64_t base,
                     bitsim_mac_result *out, uint64_t *bad)
{
    const int pb = P->site_bits[BITSIM_SITE_PRODUCT], xb = P->cfg.x_bits, wb = P->cfg.w_bits;
    const int nq = pb + xb + wb > 32, jxw = nq ? 3 : 2, xsh = nq ? 0 : pb, wsh = nq ? 16 : pb + xb;
    const int raw = nq && K(narrow_kind)(xs) == KN_I16;   /* word 3 split: see KNRAWDIFF */
    uint64_t cnt[6][64];   /* word 4 (bits 32..47 of acc and carry, mode 3) into cnt[5] */
    int64_t ext[4];
    int status, b;
    memset(cnt, 0, sizeof cnt);
    static int (*const body[])(const struct mac_plan *, const bitsim_source *,
                               const bitsim_source *, uint64_t, uint64_t, int64_t,
                               uint64_t (*)[64], int64_t *, uint64_t *) = {
        K(narrow_i8), K(narrow_i8_wide), K(narrow_i8_hi), K(narrow_i16), K(narrow_i16_wide),
        K(narrow_i16_hi), K(narrow_u8), K(narrow_u8_wide), K(narrow_u8_hi), K(narrow_u16),
        K(narrow_u16_wide), K(narrow_u16_hi)};
    status = body[K(narrow_kind)(xs) * 3 + mode - 1](P, xs, ws, start, count, base, cnt, ext,
                                                     bad);
    if (status != BITSIM_OK)
        return status;
#define KNFOLD(j, b) (cnt[j][b] + cnt[j][(b) + 32])
    for (b = 0; b < P->cfg.acc_bits; b++) {   /* bits above 31 (mode 3: 47) repeat it */
        if (mode == 3 && b >= 32) {
            out->flips[BITSIM_SITE_ACC][b] = KNFOLD(5, b < 48 ? b - 32 : 15);
            out->flips[BITSIM_SITE_CARRY][b] = KNFOLD(5, b < 48 ? b - 16 : 31);
        } else {
            out->flips[BITSIM_SITE_ACC][b] = KNFOLD(0, b < 32 ? b : 31);
            out->flips[BITSIM_SITE_CARRY][b] = KNFOLD(1, b < 32 ? b : 31);
        }
    }
    for (b = 0; b < pb; b++)
        out->flips[BITSIM_SITE_PRODUCT][b] = KNFOLD(2, b);
#define KNFOLD16(j, b) (KNFOLD(j, b) + KNFOLD(j, (b) + 16))
    for (b = 0; b < xb; b++)
        out->flips[BITSIM_SITE_X][b] = raw ? KNFOLD16(3, b) : KNFOLD(jxw, xsh + b);
    for (b = 0; b < wb; b++)
        out->flips[BITSIM_SITE_W][b] = raw ? KNFOLD16(4, b) : KNFOLD(jxw, wsh + b);
#undef KNFOLD
#undef KNFOLD16
    flips_of_addend(P, out);
    out->macs = count;
    out->overflows = (uint64_t)ext[3];
    out->min_sum = to_pair(ext[0]);
    out->max_sum = to_pair(ext[1]);
    out->sum_after = to_pair(ext[2]);
    return BITSIM_OK;
}
#undef KL32
#endif /* KLANES > 1 */

/* ---- the two entry points ----------------------------------------------------------------- */

static int K(run)(const struct mac_plan *P, const bitsim_source *xs, const bitsim_source *ws,
                  uint64_t start, uint64_t count, i128 base, const struct work *wk,
                  bitsim_mac_result *out, uint64_t *bad)
{
    const size_t B = wk->block < P->block_limit ? wk->block : P->block_limit;
    int64_t *x = wk->x, *w = wk->w;
    struct K(pp) pp[MAX_WORDS];
    uint64_t cnt[MAX_WORDS][64];
    struct sum_stats st;
    uint64_t off;
    int j, site, b;

#if KLANES > 1 && !KSUM_WIDE
    const int mode = K(narrow_mode)(P, xs, ws, count, base);
    if (mode)
        return K(narrow)(P, xs, ws, mode, start, count, (int64_t)base, out, bad);
#endif
    memset(pp, 0, sizeof pp);
    memset(cnt, 0, sizeof cnt);
    st.min = P->sum_max_init;
    st.max = -P->sum_max_init;
    st.overflows = 0;
    for (j = 0; j < P->nwords; j++)
        wk->W[j][0] = 0;   /* registers start at zero */
    if (start > 0) {       /* ... or hold what the MAC before this range left there */
        struct sum_stats ignored = st;
        if (K(load)(xs, start - 1, 1, x, bad))
            return BITSIM_ERR_X_RANGE;
        if (K(load)(ws, start - 1, 1, w, bad))
            return BITSIM_ERR_W_RANGE;
        /* the segment writes W[j][1]: the words of MAC start - 1, whose partial sum is base */
        K(segment_run)(P, P->nwords, P->split, 0, x, w, 0, 1, base - (i128)x[0] * w[0], wk->W,
                       &ignored);
        for (j = 0; j < P->nwords; j++)
            wk->W[j][0] = wk->W[j][1];
    }
    for (off = 0; off < count;) {
        const size_t n = (size_t)(count - off < B ? count - off : B);
        const uint64_t g = start + off;
        if (bitsim_interrupted())
            return BITSIM_ERR_INTERRUPTED;
        if (K(load)(xs, g, n, x, bad))
            return BITSIM_ERR_X_RANGE;
        if (K(load)(ws, g, n, w, bad))
            return BITSIM_ERR_W_RANGE;
        base = K(block_run)(P, g, x, w, n, base, wk->W, &st);
        for (j = 0; j < P->nwords; j++) {
            K(pp_add)(&pp[j], wk->W[j], n, cnt[j]);
            wk->W[j][0] = wk->W[j][n];
        }
        off += n;
    }
    for (j = 0; j < P->nwords; j++)
        K(pp_flush)(&pp[j], cnt[j]);
    for (site = 0; site < BITSIM_NSITES; site++)
        if (P->site_word[site] >= 0)
            for (b = 0; b < P->site_bits[site]; b++)
                out->flips[site][b] = cnt[P->site_word[site]][P->site_shift[site] + b];
    flips_of_addend(P, out);
    out->macs = count;
    out->overflows = st.overflows;
    out->min_sum = to_pair(st.min);
    out->max_sum = to_pair(st.max);
    out->sum_after = to_pair(base);
    return BITSIM_OK;
}

/* ---- the starting-sum pass of the narrow path ----------------------------------------------
 * With threads, each range first needs the sum of its products after its last dot-product
 * start (all of them in an endless dot product). For the operands of the fused path (int8/int16
 * arrays, uniform samplers of at most 16 bits, the same kind for x and w) whose products fit
 * 32 bits, the products are summed in 32-bit lanes, read and range-checked with the fused
 * path's loaders (narrow_fetch, narrow_draws/narrow_sample, narrow_range), and widened into
 * 64-bit lanes every 16 vectors (8-bit kinds: 16 KT32 products of at most 2**14 each fit 32
 * bits) or every vector (16-bit kinds, products up to 2**30); each chunk's lanes are summed
 * exactly into the 128-bit total. Range errors, interruptions: per chunk of 16384 MACs (AVX-512)
 * as in the fused main pass, x checked before w. */
#if KLANES > 1 && !KSUM_WIDE
#define KT32 (KVBYTES / 4)
typedef int64_t K(t64) __attribute__((vector_size(KVBYTES)));

/* The 32-bit lane sums v, exactly, into the 64-bit lanes (even and odd lanes apart). */
static inline __attribute__((always_inline)) K(t64) K(widen_sum)(K(t64) acc, K(v32) v)
{
    const K(t64) u = (K(t64))v;
    return acc + ((K(t64))((K(vec))u << 32) >> 32) + (u >> 32);
}

/* Sum of the products of MACs [g, g + n) (kind constant where inlined). */
static inline __attribute__((always_inline)) int64_t
K(narrow_sum_body)(const bitsim_source *xs, const bitsim_source *ws, const int kind, uint64_t g,
                   size_t n)
{
    const int wide = kind == KN_I16 || kind == KN_UNIFORM16;
    uint64_t dx[16 * KT32 * 2 / 8 + KLANES], dw[16 * KT32 * 2 / 8 + KLANES];
    K(t64) acc64 = {0};
    int64_t sum = 0;
    size_t t, v;
    int l;
    for (t = 0; t < n; t += 16 * KT32) {
        K(v32) acc = {0};
        if (kind >= KN_UNIFORM8) {
            K(narrow_draws)(xs, kind, g + t, dx);
            K(narrow_draws)(ws, kind, g + t, dw);
        }
        for (v = 0; v < 16; v++) {
            const size_t tv = t + v * KT32;
            const size_t nv = tv < n ? (n - tv < KT32 ? n - tv : KT32) : 0;
            K(v32) p;
            if (kind >= KN_UNIFORM8)
                p = K(narrow_sample)(xs, kind, dx, g + t, v, nv)
                    * K(narrow_sample)(ws, kind, dw, g + t, v, nv);
            else if (nv == 0)
                break;
            else
                p = K(narrow_fetch)(xs, kind, g + tv, nv) * K(narrow_fetch)(ws, kind, g + tv, nv);
            if (wide)
                acc64 = K(widen_sum)(acc64, p);
            else
                acc += p;
        }
        if (!wide)
            acc64 = K(widen_sum)(acc64, acc);
    }
    for (l = 0; l < KLANES; l++)
        sum += acc64[l];
    return sum;
}

#define KTFUNC(NAME, KIND)                                                                     \
    static __attribute__((noinline)) int64_t K(NAME)(const bitsim_source *xs,                  \
                                                     const bitsim_source *ws, uint64_t g,      \
                                                     size_t n)                                 \
    {                                                                                          \
        return K(narrow_sum_body)(xs, ws, KIND, g, n);                                         \
    }
KTFUNC(narrow_sum_i8, KN_I8)
KTFUNC(narrow_sum_i16, KN_I16)
KTFUNC(narrow_sum_u8, KN_UNIFORM8)
KTFUNC(narrow_sum_u16, KN_UNIFORM16)
#undef KTFUNC

/* The operand kind of the vectorised starting-sum pass for this run, or -1 (general code). */
static int K(tail_kind)(const struct mac_plan *P, const bitsim_source *xs, const bitsim_source *ws)
{
    const int xk = K(narrow_kind)(xs);
    return xk >= 0 && xk == K(narrow_kind)(ws) && P->product_min >= INT32_MIN
                   && P->product_max <= INT32_MAX ? xk : -1;
}

/* K(tail) below for the operand kind xk of K(tail_kind). */
static int K(tail_narrow)(const struct mac_plan *P, const bitsim_source *xs,
                          const bitsim_source *ws, int xk, uint64_t start, uint64_t count,
                          i128 *tail, int *restarted, uint64_t *bad)
{
    static int64_t (*const sum_of[])(const bitsim_source *, const bitsim_source *, uint64_t,
                                     size_t) = {K(narrow_sum_i8), K(narrow_sum_i16),
                                                K(narrow_sum_u8), K(narrow_sum_u16)};
    const uint64_t length = P->cfg.length, CH = 64 * 16 * KT32, end = start + count;
    /* the last dot-product start in the range (MAC 0 starts the endless one), or start */
    const uint64_t last = length ? (end - 1) / length * length : 0;
    const uint64_t from = count && last >= start ? last : start;
    uint64_t off;
    i128 total = 0;
    *restarted = count && last >= start;
    for (off = 0; off < count; off += CH) {
        const uint64_t g = start + off, n = count - off < CH ? count - off : CH;
        if (bitsim_interrupted())
            return BITSIM_ERR_INTERRUPTED;
        if (xk < KN_UNIFORM8 && K(narrow_range)(xs, xk, g, (size_t)n, bad))
            return BITSIM_ERR_X_RANGE;
        if (xk < KN_UNIFORM8 && K(narrow_range)(ws, xk, g, (size_t)n, bad))
            return BITSIM_ERR_W_RANGE;
        if (g + n > from) {
            const uint64_t a = g > from ? g : from;
            total += sum_of[xk](xs, ws, a, (size_t)(g + n - a));
        }
    }
    *tail = total;
    return BITSIM_OK;
}
#undef KT32
#endif /* KLANES > 1 && !KSUM_WIDE */

static int K(tail)(const struct mac_plan *P, const bitsim_source *xs, const bitsim_source *ws,
                   uint64_t start, uint64_t count, const struct work *wk, i128 *tail,
                   int *restarted, uint64_t *bad)
{
    const uint64_t length = P->cfg.length;
    const size_t B = wk->block < P->block_limit ? wk->block : P->block_limit;
    int64_t *x = wk->x, *w = wk->w;
    i128 total = 0;
    uint64_t off;
#if KLANES > 1 && !KSUM_WIDE
    const int kind = K(tail_kind)(P, xs, ws);
    if (kind >= 0)
        return K(tail_narrow)(P, xs, ws, kind, start, count, tail, restarted, bad);
#endif
    *restarted = 0;
    for (off = 0; off < count;) {
        const size_t n = (size_t)(count - off < B ? count - off : B);
        const uint64_t g = start + off;
        const uint64_t pos = length ? g % length : g;
        size_t a = pos == 0 ? 0 : K(segment)(length, pos, 0, n), t;
        KSUM_T sum = 0;
        if (bitsim_interrupted())
            return BITSIM_ERR_INTERRUPTED;
        if (a < n) {   /* a dot product starts in the block: only what follows the last counts */
            if (length)
                a += (n - 1 - a) / length * length;
            total = 0;
            *restarted = 1;
        } else {
            a = 0;
        }
        if (K(load)(xs, g, n, x, bad))
            return BITSIM_ERR_X_RANGE;
        if (K(load)(ws, g, n, w, bad))
            return BITSIM_ERR_W_RANGE;
        for (t = a; t < n; t++)
            sum += (KSUM_T)x[t] * w[t];
        total += sum;
        off += n;
    }
    *tail = total;
    return BITSIM_OK;
}

/* Accumulator width each dot product of MACs [start, start + count) needs (count a multiple
 * of the length, start at a dot-product start): hist[w] counts the dot products whose partial
 * sums all fit w bits and not w - 1 (w >= 1; two's complement when the product is signed). */
static int K(dot_widths)(const struct mac_plan *P, const bitsim_source *xs,
                         const bitsim_source *ws, uint64_t start, uint64_t count,
                         const struct work *wk, uint64_t *hist, struct sum_stats *all,
                         uint64_t *bad)
{
    const uint64_t length = P->cfg.length;
    const size_t B = wk->block < P->block_limit ? wk->block : P->block_limit;
    int64_t *x = wk->x, *w = wk->w;
    const int is_signed = P->acc_lo < 0;
    i128 seg_base = 0, dot_min = 0, dot_max = 0;
    uint64_t off, pos = 0;
    for (off = 0; off < count;) {
        const size_t n = (size_t)(count - off < B ? count - off : B);
        size_t a, b;
        if (bitsim_interrupted())
            return BITSIM_ERR_INTERRUPTED;
        if (K(load)(xs, start + off, n, x, bad))
            return BITSIM_ERR_X_RANGE;
        if (K(load)(ws, start + off, n, w, bad))
            return BITSIM_ERR_W_RANGE;
        for (a = 0; a < n; a = b) {
            struct sum_stats seg;
            KSUM_T end;
            b = a + K(segment)(length, pos, a, n);
            seg.min = P->sum_max_init;
            seg.max = -P->sum_max_init;
            seg.overflows = 0;
            /* no register words (nw = 0), no overflow test: only the extremes */
            end = K(segment_run)(P, 0, 0, 0, x, w, a, b, seg_base, wk->W, &seg);
            dot_min = pos == 0 || seg.min < dot_min ? seg.min : dot_min;
            dot_max = pos == 0 || seg.max > dot_max ? seg.max : dot_max;
            pos += b - a;
            seg_base += end;
            if (pos == length) {   /* the dot product is complete */
                hist[is_signed ? (signed_width(dot_min) > signed_width(dot_max)
                                  ? signed_width(dot_min) : signed_width(dot_max))
                               : unsigned_width(dot_max)]++;
                all->min = dot_min < all->min ? dot_min : all->min;
                all->max = dot_max > all->max ? dot_max : all->max;
                pos = 0;
                seg_base = 0;
            }
        }
        off += n;
    }
    return BITSIM_OK;
}

#undef KLANES
#undef KPLANES
#undef KDRAWS
#undef KCLAMP
#undef KLOAD_ARRAY
#undef KOUTSIDE_SIGNED
#undef KOUTSIDE_UNSIGNED
#undef KCSA

#endif /* K, KVBYTES, KSUM_T, KSUM_WIDE */
