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
    case BITSIM_SOURCE_UNIFORM: {
        const int sh = 64 - src->bits;
        if (src->is_signed) /* top bits, sign-extended (GCC/Clang shift arithmetically) */
            for (i = 0; i < n; i++)
                out[i] = (int64_t)bitsim_mix64(base + i * BITSIM_GOLDEN) >> sh;
        else
            for (i = 0; i < n; i++)
                out[i] = (int64_t)(bitsim_mix64(base + i * BITSIM_GOLDEN) >> sh);
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

static int K(tail)(const struct mac_plan *P, const bitsim_source *xs, const bitsim_source *ws,
                   uint64_t start, uint64_t count, const struct work *wk, i128 *tail,
                   int *restarted, uint64_t *bad)
{
    const uint64_t length = P->cfg.length;
    const size_t B = wk->block < P->block_limit ? wk->block : P->block_limit;
    int64_t *x = wk->x, *w = wk->w;
    i128 total = 0;
    uint64_t off;
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
#undef KCLAMP
#undef KLOAD_ARRAY
#undef KOUTSIDE_SIGNED
#undef KOUTSIDE_UNSIGNED
#undef KCSA

#endif /* K, KVBYTES, KSUM_T, KSUM_WIDE */
