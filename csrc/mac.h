/* Register-level multiply-accumulate (MAC) bit-flip simulator.
 *
 * Model (docs: README.md, "The MAC model"): each MAC loads x and w into their input registers,
 * the product register takes p = x * w (x_bits + w_bits wide, two's complement when either operand
 * is signed), and the accumulator register (acc_bits) takes acc + p modulo 2**acc_bits, or p
 * itself on the first term of a dot product, through a ripple-carry adder whose addend and carry
 * nets are counted too (sites below). All registers start at zero. The flips of a site are the
 * Hamming distances between its consecutive values.
 *
 * A run covers MACs [start, start + count) of the operand streams. Runs over adjacent ranges merge
 * exactly (counts add, extremes take min/max) when each run is given the exact partial sum the
 * accumulator held before its first MAC; bitsim_mac_tail() computes what is needed to chain them.
 * No function allocates; the caller passes a workspace of bitsim_mac_workspace_bytes(block).
 * The functions that can fail return a status code of common.h (BITSIM_OK, or BITSIM_ERR_CONFIG,
 * BITSIM_ERR_X_RANGE, BITSIM_ERR_W_RANGE, BITSIM_ERR_SIMD, BITSIM_ERR_WORKSPACE); simd is a
 * BITSIM_SIMD_* level. */
#ifndef BITSIM_MAC_H
#define BITSIM_MAC_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "operands.h"

/* Exact 128-bit partial sum: value = hi * 2**64 + lo. */
typedef struct {
    uint64_t lo;
    int64_t hi;
} bitsim_i128;

typedef struct {
    int x_bits, w_bits;        /* 1..32 */
    int acc_bits;              /* 2..64 */
    int x_signed, w_signed;
    uint64_t length;           /* dot-product length K; 0 = one endless dot product */
} bitsim_mac_config;

/* Sites whose bit flips are counted. ADDEND is the accumulator adder's second input, the
 * product sign- (signed product) or zero-extended to acc_bits; CARRY bit i is the carry out of
 * bit position i of a ripple-carry accumulator adder (the carry into bit i + 1; bit acc_bits - 1
 * is the adder's carry out), zero-delay. The adder's first input is the accumulator register, or
 * 0 on the first term of a dot product (which loads p itself), so that acc = first input +
 * addend modulo 2**acc_bits always. */
enum {
    BITSIM_SITE_X = 0,
    BITSIM_SITE_W,
    BITSIM_SITE_PRODUCT,
    BITSIM_SITE_ACC,
    BITSIM_SITE_ADDEND,
    BITSIM_SITE_CARRY,
    BITSIM_NSITES
};

typedef struct {
    uint64_t macs;
    uint64_t flips[BITSIM_NSITES][64];   /* flips per site and bit position (bit 0 = LSB) */
    uint64_t overflows;                  /* partial sums outside the accumulator's range */
    bitsim_i128 min_sum, max_sum;        /* extreme exact partial sums; valid when macs > 0 */
    bitsim_i128 sum_after;               /* exact partial sum after the last MAC of the range */
} bitsim_mac_result;

/* Non-zero when this build and CPU can run the MAC kernel at `level` (BITSIM_SIMD_*). */
int bitsim_simd_supported(int level);

/* Bytes of workspace a run with `block` MACs per internal block needs. */
size_t bitsim_mac_workspace_bytes(size_t block);

/* Simulate MACs [start, start + count). `sum_before` is the exact partial sum after MAC start - 1
 * (ignored when start == 0). Writes *out (zeroed first). */
int bitsim_mac_run(const bitsim_mac_config *cfg, const bitsim_source *x, const bitsim_source *w,
                   uint64_t start, uint64_t count, bitsim_i128 sum_before, int simd,
                   void *workspace, size_t block, bitsim_mac_result *out, uint64_t *bad_index);

/* For chaining runs: *tail = sum of the products from the last dot-product start inside
 * [start, start + count) to its end, *restarted = 1; or the sum of all its products and
 * *restarted = 0 when no dot product starts inside. */
int bitsim_mac_tail(const bitsim_mac_config *cfg, const bitsim_source *x, const bitsim_source *w,
                    uint64_t start, uint64_t count, int simd, void *workspace, size_t block,
                    bitsim_i128 *tail, int *restarted, uint64_t *bad_index);

/* Non-zero when bitsim_mac_tail() sums the products of this configuration and these operands in
 * vector lanes at `simd` (int8/int16 arrays or uniform samplers of at most 16 bits, the same kind
 * for x and w, products within 32 bits, AVX2 or AVX-512): several times the rate of the main
 * pass, so that an endless dot product gains from threads. 0 otherwise (the general pass, which
 * loads every operand into 64-bit buffers: slower than the fused main pass). */
int bitsim_mac_tail_vectorised(const bitsim_mac_config *cfg, const bitsim_source *x,
                               const bitsim_source *w, int simd);

/* Accumulator width of each of `dots` dot products (config length K > 0), starting with dot
 * product first_dot: hist[w] counts those whose partial sums all fit w bits but not w - 1 (two's
 * complement when the product is signed); *min_sum, *max_sum: extreme partial sums (valid when
 * dots > 0). */
#define BITSIM_WIDTH_BINS 130
int bitsim_dot_widths(const bitsim_mac_config *cfg, const bitsim_source *x, const bitsim_source *w,
                      uint64_t first_dot, uint64_t dots, int simd, void *workspace, size_t block,
                      uint64_t hist[BITSIM_WIDTH_BINS], bitsim_i128 *min_sum,
                      bitsim_i128 *max_sum, uint64_t *bad_index);

#endif
