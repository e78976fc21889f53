/* Template of the timing simulator, included by timing.c once per instruction set. The
 * includer defines T(name) (name suffix) and TLANES (64-bit words per vector: 1, 4 or 8); as
 * with PyWavelets' *.template.h, including it without them is an error, and the includer
 * undefines them after each inclusion.
 *
 * Per block of 64 x TLANES vectors: the inputs' bit planes, the settled (zero-delay) values S
 * of every net, the values before each vector (S shifted up by one vector, the previous
 * block's last vector entering at the bottom: Sp), then the plan's steps over the history H.
 * Nothing is allocated: every buffer is a piece of the caller's workspace. */

#if !defined(T) || !defined(TLANES)
#error "timing_kernel.h is a template: define T and TLANES first (see timing.c)"
#else

typedef uint64_t T(vec) __attribute__((vector_size(8 * TLANES)));
typedef int64_t T(ivec) __attribute__((vector_size(8 * TLANES)));

/* v shifted up by one vector: lane k takes the top bit of lane k - 1, lane 0 the top bit of
 * the previous block's last lane. */
static inline T(vec) T(shift1)(T(vec) v, T(vec) prev)
{
#if TLANES == 8
    const T(vec) rot = BITSIM_SHUFFLE2(v, prev, T(ivec), 15, 0, 1, 2, 3, 4, 5, 6);
#elif TLANES == 4
    const T(vec) rot = BITSIM_SHUFFLE2(v, prev, T(ivec), 7, 0, 1, 2);
#else
    const T(vec) rot = prev;
#endif
    return (v << 1) | (rot >> 63);
}

/* Lane-wise popcount (AVX2: nibble table lookup and sums of bytes, Mula et al. 2018). */
static inline T(vec) T(popcount)(T(vec) d)
{
#if TLANES == 8
    return (T(vec))_mm512_popcnt_epi64((__m512i)d);
#elif TLANES == 4
    const __m256i table = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1,
                                           1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
    const __m256i low = _mm256_set1_epi8(0x0f), v = (__m256i)d;
    const __m256i cnt = _mm256_add_epi8(
        _mm256_shuffle_epi8(table, _mm256_and_si256(v, low)),
        _mm256_shuffle_epi8(table, _mm256_and_si256(_mm256_srli_epi16(v, 4), low)));
    return (T(vec))_mm256_sad_epu8(cnt, _mm256_setzero_si256());
#else
    T(vec) pc;
    pc[0] = (uint64_t)__builtin_popcountll(d[0]);
    return pc;
#endif
}

static inline uint64_t T(sum)(T(vec) v)
{
    uint64_t s = 0;
    int k;
    for (k = 0; k < TLANES; k++)
        s += v[k];
    return s;
}

static inline __attribute__((always_inline)) T(vec)
T(gate)(int op, T(vec) a, T(vec) b, T(vec) c)
{
    BITSIM_GATE_RETURN(op, a, b, c);
}

/* T(planes): bit planes of a block from one byte of every value (byteplanes.h). */
#define BP(name) T(name)
#define BP_ISA (TLANES == 8 ? 512 : TLANES == 4 ? 256 : 64)
#define BP_LANES TLANES
#define BP_VEC T(vec)
#include "byteplanes.h"
#undef BP
#undef BP_ISA
#undef BP_LANES
#undef BP_VEC

/* Bit planes of values[0 .. 64 x TLANES) (two's complement, low `bits` bits), byte by byte. */
static void T(pack)(const int64_t *values, int bits, const int32_t *nets, T(vec) *S,
                    uint8_t *bytes)
{
    int q;
    size_t t;
    for (q = 0; 8 * q < bits; q++) {
        for (t = 0; t < 64 * TLANES; t++)
            bytes[t] = (uint8_t)((uint64_t)values[t] >> (8 * q));
        T(planes)(bytes, bits - 8 * q < 8 ? bits - 8 * q : 8, nets + 8 * q, S, 1);
    }
}

/* The settled values S of a block whose operands are wk->xv, wk->wv [0 .. m) (the lanes
 * beyond m repeat the last vector). */
static void T(settle)(const bitsim_timing_plan *p, size_t m, const struct timing_work *wk,
                      T(vec) *S)
{
    const T(vec) zero = {0};
    size_t t;
    int g;
    for (t = m; t < 64 * TLANES; t++) {
        wk->xv[t] = wk->xv[m - 1];
        wk->wv[t] = wk->wv[m - 1];
    }
    T(pack)(wk->xv, p->x_bits, p->inputs, S, wk->bytes);
    T(pack)(wk->wv, p->w_bits, p->inputs + p->x_bits, S, wk->bytes);
    S[0] = zero;
    S[1] = ~zero;
    for (g = 0; g < p->ngates; g++)
        S[p->out[g]] = T(gate)(p->op[g], S[p->a[g]], S[p->b[g]], S[p->c[g]]);
}

/* One step: the plan's entries of step t over H. Returns the vectors that changed. */
static inline T(vec) T(step)(const bitsim_timing_plan *p, int t, T(vec) *restrict H,
                             T(vec) *restrict cnt, T(vec) acc)
{
    const int32_t *e = p->entries + (size_t)BITSIM_T_FIELDS * (size_t)p->step_at[t];
    const int32_t *end = p->entries + (size_t)BITSIM_T_FIELDS * (size_t)p->step_at[t + 1];
    const T(vec) zero = {0}, ones = ~zero;
    for (; e < end; e += BITSIM_T_FIELDS) {
        T(vec) r, ch;
        switch (e[0]) {
        case BITSIM_T_DIRECT:
            r = T(gate)(e[1], H[e[2]], H[e[3]], H[e[4]]);
            break;
        case BITSIM_T_EVAL:
            H[e[6]] = T(gate)(e[1], H[e[2]], H[e[3]], H[e[4]]);
            continue;
        case BITSIM_T_INERTIAL: {
            /* v = g(t - 1) where g held v over [t - d(v), t - 1], else out(t - 1) */
            const int32_t *g = p->args + e[2];
            const int32_t dr = e[3], df = e[4], d = dr > df ? dr : df;
            const T(vec) v = T(gate)(e[1], H[g[0]], H[g[1]], H[g[2]]);
            T(vec) held1 = ones, held0 = ones, ok;
            int32_t k;
            H[g[3]] = v;
            for (k = 2; k <= d; k++) {
                const T(vec) same = ~(v ^ H[g[k + 2]]);
                if (k <= dr)
                    held1 &= same;
                if (k <= df)
                    held0 &= same;
            }
            ok = (v & held1) | (~v & held0);
            r = (v & ok) | (H[e[5]] & ~ok);
            break;
        }
        default: {   /* BITSIM_T_TRANSPORT: g(t - k), smallest k with d(g(t - k)) <= k */
            const int32_t *g = p->args + e[2];
            const int32_t dr = e[3], df = e[4];
            const int32_t d = dr > df ? dr : df, dmin = dr < df ? dr : df;
            const T(vec) v = T(gate)(e[1], H[g[0]], H[g[1]], H[g[2]]);
            int32_t k;
            H[g[3]] = v;
            r = d == 1 ? v : H[g[d + 2]];
            for (k = d - 1; k >= dmin; k--) {
                const T(vec) gk = k == 1 ? v : H[g[k + 2]];
                const T(vec) ok = (dr <= k ? gk : zero) | (df <= k ? ~gk : zero);
                r = (gk & ok) | (r & ~ok);
            }
            break;
        }
        }
        ch = r ^ H[e[5]];
        H[e[6]] = r;
        cnt[e[7]] += T(popcount)(ch & r);
        acc |= ch;
    }
    return acc;
}

static int T(run)(const bitsim_timing_plan *p, const bitsim_source *x, const bitsim_source *w,
                  uint64_t start, uint64_t count, const struct timing_work *wk, uint64_t *rise,
                  uint64_t *fall, uint64_t *settled_rise, uint64_t *settled_fall,
                  int64_t *settle, uint64_t *bad)
{
    const size_t block = 64 * TLANES;
    T(vec) *S = (T(vec) *)wk->S, *Sp = (T(vec) *)wk->Sp, *H = (T(vec) *)wk->H;
    T(vec) *cnt = (T(vec) *)wk->cnt, *sr = (T(vec) *)wk->srise, *sf = (T(vec) *)wk->sfall;
    T(vec) *anyc = (T(vec) *)wk->anyc;
    const int inputs = p->x_bits + p->w_bits;
    const T(vec) zero = {0};
    uint64_t off;
    int n, t, j;

    for (n = 0; n < p->nets; n++)
        cnt[n] = sr[n] = sf[n] = zero;
    wk->xv[0] = wk->wv[0] = 0;   /* the vector before, in every lane */
    if (start > 0 && bitsim_source_load(x, start - 1, 1, wk->xv, bad))
        return BITSIM_ERR_X_RANGE;
    if (start > 0 && bitsim_source_load(w, start - 1, 1, wk->wv, bad))
        return BITSIM_ERR_W_RANGE;
    T(settle)(p, 1, wk, Sp);
    for (off = 0; off < count; off += block) {
        const size_t m = (size_t)(count - off < block ? count - off : block);
        T(vec) *tmp, acc = zero, seen = zero;
        if (bitsim_interrupted())
            return BITSIM_ERR_INTERRUPTED;
        if (bitsim_source_load(x, start + off, m, wk->xv, bad))
            return BITSIM_ERR_X_RANGE;
        if (bitsim_source_load(w, start + off, m, wk->wv, bad))
            return BITSIM_ERR_W_RANGE;
        T(settle)(p, m, wk, S);
        for (n = 0; n < p->nets; n++)
            H[n] = T(shift1)(S[n], Sp[n]);
        for (j = 0; j < inputs; j++) {   /* the inputs change at t = 0 */
            const int32_t net = p->inputs[j];
            const T(vec) v = S[net], ch = v ^ H[net];
            H[p->in_slot[j]] = v;
            cnt[net] += T(popcount)(ch & v);
            acc |= ch;
        }
        for (t = 0; t <= p->horizon; t++) {
            anyc[t] = T(step)(p, t, H, cnt, acc);
            acc = zero;
        }
        for (n = 0; n < p->nets; n++) {
            const T(vec) v = H[p->last[n]], ch = v ^ H[n];
            sr[n] += T(popcount)(ch & v);
            sf[n] += T(popcount)(ch & ~v);
        }
        for (t = p->horizon; t >= 0; t--) {   /* settle time: the last step with a change */
            const T(vec) fresh = anyc[t] & ~seen;
            settle[t] += (int64_t)T(sum)(T(popcount)(fresh));
            seen |= fresh;
        }
        settle[0] += (int64_t)m - (int64_t)T(sum)(T(popcount)(seen));
        tmp = Sp;   /* this block's settled values become the previous ones */
        Sp = S;
        S = tmp;
    }
    for (n = 0; n < p->nets; n++) {
        const uint64_t r = T(sum)(cnt[n]), s1 = T(sum)(sr[n]), s0 = T(sum)(sf[n]);
        rise[n] += r;
        fall[n] += r + s0 - s1;   /* changes alternate: falls - rises = settled difference */
        settled_rise[n] += s1;
        settled_fall[n] += s0;
    }
    return BITSIM_OK;
}

#endif /* T, TLANES */
