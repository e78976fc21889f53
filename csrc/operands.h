/* Operand streams for the MAC simulator: user arrays or counter-based samplers.
 *
 * Element i of a sampled stream depends only on (key, i), never on how the stream is cut into
 * chunks or threads: u_j = mix64(key + (j + 1) * BITSIM_GOLDEN) (SplitMix64, Steele et al. 2014).
 * A uniform stream of b-bit operands packs 2**p of them into one draw (bitsim_uniform_pack: p = 3
 * for b <= 8, 2 for b <= 16, 1 for b <= 32, 0 above): element i is the top b bits of the
 * W = 64 >> p bit container c = i mod 2**p (bits [c W, c W + W)) of u_j, j = i >> p, sign-extended
 * for signed formats. Alias tables take one draw per element (u_i). The Python reference
 * (bitsim/backends/reference/sampling.py) and the numba backend compute the same values bit for
 * bit. */
#ifndef BITSIM_OPERANDS_H
#define BITSIM_OPERANDS_H

#include <stddef.h>
#include <stdint.h>

enum bitsim_dtype {
    BITSIM_INT8 = 0, BITSIM_INT16, BITSIM_INT32, BITSIM_INT64,
    BITSIM_UINT8, BITSIM_UINT16, BITSIM_UINT32, BITSIM_UINT64
};

enum bitsim_source_kind {
    BITSIM_SOURCE_ARRAY = 0,   /* data[i] of a contiguous array of `dtype` */
    BITSIM_SOURCE_UNIFORM,     /* uniform over every value of the operand format */
    BITSIM_SOURCE_TABLE        /* alias table: any distribution over a finite set of values */
};

typedef struct {
    int kind;                  /* enum bitsim_source_kind */
    int bits;                  /* operand width, 1..32 */
    int is_signed;             /* two's complement when non-zero */
    const void *data;          /* ARRAY */
    int dtype;                 /* ARRAY: enum bitsim_dtype */
    uint64_t key;              /* UNIFORM, TABLE: stream key */
    int table_log2;            /* TABLE: the table has 2**table_log2 slots, 0..63 */
    const uint64_t *keep;      /* TABLE: slot s keeps its own value when (u << table_log2) < keep[s] */
    const uint32_t *alias;     /* TABLE: ... and otherwise takes values[alias[s]] */
    const int64_t *values;     /* TABLE: value of each slot */
} bitsim_source;

#define BITSIM_GOLDEN 0x9E3779B97F4A7C15ULL

/* Elements [start, start + n) of a stream as int64 (mac.c). Returns 1 and sets *bad to the
 * index of the first array value outside the operand format, 0 otherwise. */
int bitsim_source_load(const bitsim_source *src, uint64_t start, size_t n, int64_t *out,
                       uint64_t *bad);

/* log2 of the operands of `bits` bits one draw of a uniform stream gives (see above). */
static inline int bitsim_uniform_pack(int bits)
{
    return bits <= 8 ? 3 : bits <= 16 ? 2 : bits <= 32 ? 1 : 0;
}

/* SplitMix64 output function. */
static inline uint64_t bitsim_mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

#endif
