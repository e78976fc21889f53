/* The evaluation core of the gate kernels, a template included by gates_kernel.h (zero-delay
 * toggles of vectors) and seqgates_kernel.h (cycles of sequential netlists), so both evaluate
 * gates with the same code. The includer defines G(name) (name suffix) and GISA (64: portable
 * C, 256: AVX2, 512: AVX-512 with VPOPCNTDQ) and undefines them after each inclusion.
 *
 * A net's value is one 512-bit vector: 512 vectors of a block (gates_kernel.h) or 512 stretches
 * (seqgates_kernel.h); GCC and Clang split it into the instruction set's registers. Gates are
 * evaluated run by run (bitsim_gate_run): one loop per opcode, so the opcode is a constant in the
 * loop and there is no dispatch per gate. */

#if !defined(G) || !defined(GISA)
#error "gates_core.h is a template: define G and GISA first (see gates.c)"
#else

/* 512-bit vectors are passed between these static functions, compiled for AVX2 or portable C
 * too: the compilers' ABI notes on that concern calls between translation units, never made. */
#if defined(__clang__)
#pragma clang diagnostic ignored "-Wpsabi"
#elif defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

typedef uint64_t G(vec) __attribute__((vector_size(64)));
typedef int64_t G(ivec) __attribute__((vector_size(64)));

/* Vectors are passed by address to these helpers (always inlined): passing 512-bit vectors
 * by value where they are not one register changes the ABI. */

/* v shifted up by one bit across its 512: bit 0 takes the top bit of prev (bit 63 of lane 7),
 * i.e. the value of the vector before the first one of v. */
static inline __attribute__((always_inline)) G(vec) G(shift1)(const G(vec) *pv,
                                                              const G(vec) *pprev)
{
    const G(vec) v = *pv, prev = *pprev;
    const G(vec) rot = BITSIM_SHUFFLE2(v, prev, G(ivec), 15, 0, 1, 2, 3, 4, 5, 6);
    return (v << 1) | (rot >> 63);
}

/* Toggle counting: G(count_add) adds the ones of *d to *sum, G(count_total) turns the sum into
 * eight 64-bit lane counts. AVX-512 counts lanes (VPOPCNTDQ) and portable C words; AVX2 counts
 * bytes (a nibble table, Mula et al. 2018) and adds them up in G(count_total): at most 31
 * G(count_add) calls per sum, so no byte overflows. */
static inline __attribute__((always_inline)) void G(count_add)(G(vec) *sum, const G(vec) *d)
{
#if GISA == 512
    *sum += (G(vec))_mm512_popcnt_epi64((__m512i)*d);
#elif GISA == 256
    const __m256i table = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1,
                                           1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
    const __m256i low = _mm256_set1_epi8(0x0f);
    int h;
    for (h = 0; h < 2; h++) {
        __m256i v, acc;
        memcpy(&v, (const char *)d + 32 * h, 32);
        memcpy(&acc, (const char *)sum + 32 * h, 32);
        acc = _mm256_add_epi8(
            acc, _mm256_add_epi8(
                     _mm256_shuffle_epi8(table, _mm256_and_si256(v, low)),
                     _mm256_shuffle_epi8(table, _mm256_and_si256(_mm256_srli_epi16(v, 4), low))));
        memcpy((char *)sum + 32 * h, &acc, 32);
    }
#else
    int k;
    for (k = 0; k < 8; k++)
        (*sum)[k] += (uint64_t)__builtin_popcountll((*d)[k]);
#endif
}

static inline __attribute__((always_inline)) G(vec) G(count_total)(const G(vec) *sum)
{
#if GISA == 256
    G(vec) total;
    int h;
    for (h = 0; h < 2; h++) {
        __m256i acc;
        memcpy(&acc, (const char *)sum + 32 * h, 32);
        acc = _mm256_sad_epu8(acc, _mm256_setzero_si256());
        memcpy((char *)&total + 32 * h, &acc, 32);
    }
    return total;
#else
    return *sum;
#endif
}

/* G(planes): bit planes of 512 bytes (byteplanes.h). */
#define BP(name) G(name)
#define BP_ISA GISA
#define BP_LANES 8
#define BP_VEC G(vec)
#include "byteplanes.h"
#undef BP
#undef BP_ISA
#undef BP_LANES
#undef BP_VEC

/* The output of a combinational gate: `op` is a constant wherever this is inlined, so each
 * loop over a run compiles to that gate's logic alone (with AVX-512 one ternary-logic
 * instruction for every 2-3 input gate). */
static inline __attribute__((always_inline)) G(vec) G(gate)(const int op, const G(vec) *pa,
                                                            const G(vec) *pb, const G(vec) *pc)
{
    const G(vec) a = *pa, b = *pb, c = *pc;
    BITSIM_GATE_RETURN(op, a, b, c);
}

/* Evaluate every combinational gate of the runs into V (one vector per net); DFF runs are
 * skipped (their outputs keep their values: the caller's registers). */
static void G(settle)(const bitsim_gate_run *runs, int nruns, const int32_t *restrict ia,
                      const int32_t *restrict ib, const int32_t *restrict ic,
                      const int32_t *restrict io, G(vec) *restrict V)
{
    int r, g;
    for (r = 0; r < nruns; r++) {
        const int end = runs[r].end;
        switch (runs[r].op) {
#define G_SETTLE_CASE(OP)                                                                     \
    case OP:                                                                                   \
        for (g = runs[r].start; g < end; g++)                                                  \
            V[io[g]] = G(gate)(OP, &V[ia[g]], &V[ib[g]], &V[ic[g]]);                              \
        break;
            BITSIM_COMB_OPS(G_SETTLE_CASE)
#undef G_SETTLE_CASE
        default: break;   /* DFF */
        }
    }
}

#endif /* G, GISA */
