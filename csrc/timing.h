/* Glitch-aware timing simulation of combinational netlists, bit-sliced: the model of
 * bitsim/sim/timing.py (integer time steps, per-gate rise and fall delays, inertial or
 * transport semantics), executing the schedule ("plan") built by
 * bitsim/backends/timing_plan.py.
 *
 * A block of 64 x lanes consecutive vectors is simulated at once, one bit per vector. Each
 * vector starts from the previous vector's settled (zero-delay) state, its inputs change at
 * t = 0, and every value a net (or a gate function's history) takes during the vector is a
 * slot of a history buffer H. Step t evaluates the plan's entries of step t, in order:
 *
 *   BITSIM_T_DIRECT     H[dst] = op(H[a], H[b], H[c]); counts H[dst] vs H[prev]
 *   BITSIM_T_INERTIAL   H[dst] = v = g(t - 1) where g held v over its delay, else H[prev]
 *   BITSIM_T_TRANSPORT  H[dst] = g(t - k) for the smallest k with d(g(t - k)) <= k
 *   BITSIM_T_EVAL       H[dst] = op(H[a], H[b], H[c]); not counted
 *
 * (INERTIAL, TRANSPORT: g(t - 1) = op(H[args[a]], H[args[a + 1]], H[args[a + 2]]) is stored
 * in H[args[a + 3]]; args[a + k + 2] is the slot of g(t - k), k = 2 .. max(rise, fall);
 * b = rise, c = fall.) Counted entries add the rising changes of net `net` and mark the
 * vectors that changed at step t; falling changes follow (they alternate with the rising
 * ones on every net and vector): fall = rise + settled_fall - settled_rise. */
#ifndef BITSIM_TIMING_H
#define BITSIM_TIMING_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "gates.h"
#include "operands.h"

enum { BITSIM_T_DIRECT = 0, BITSIM_T_INERTIAL, BITSIM_T_TRANSPORT, BITSIM_T_EVAL };

#define BITSIM_T_FIELDS 8   /* int32 per entry: kind, op, a, b, c, prev, dst, net */
#define BITSIM_T_MAX_DELAY 1000

typedef struct {
    int nets;                              /* net 0: constant 0, net 1: constant 1 */
    int ngates;                            /* zero-delay evaluation, topological order */
    const int32_t *op, *a, *b, *c, *out;   /* opcodes of gates.h, BITSIM_G_DFF excluded */
    int x_bits, w_bits;                    /* operand buses: 1..64 bits */
    const int32_t *inputs;                 /* x's nets then w's, LSB first */
    const int32_t *in_slot;                /* each input net's slot at t = 0 */
    int horizon;                           /* steps 0 .. horizon */
    int64_t slots;                         /* H holds `slots` vectors; slot n < nets: net n
                                            * before the vector */
    const int64_t *step_at;                /* step t: entries step_at[t] .. step_at[t + 1] - 1 */
    const int32_t *entries;                /* BITSIM_T_FIELDS int32 per entry */
    int64_t nargs;
    const int32_t *args;
    const int32_t *last;                   /* each net's slot at the horizon */
} bitsim_timing_plan;

/* Bytes of workspace for a plan. */
size_t bitsim_timing_workspace_bytes(const bitsim_timing_plan *p);

/* Simulate vectors [start, start + count) of the operand streams x, w (vector start - 1, or
 * all-0 inputs when start is 0, is the vector before, whose settled state the first starts
 * from) and add to rise[net], fall[net] every rising / falling change, to settled_rise,
 * settled_fall the changes between settled states, and to settle[t] the vectors whose last
 * change was at step t (0: none but the inputs, or nothing). simd: a BITSIM_SIMD_* level
 * (AVX-512 needs VPOPCNTDQ as well). Returns BITSIM_OK, BITSIM_ERR_TIMING_PLAN,
 * BITSIM_ERR_WORKSPACE, BITSIM_ERR_SIMD, BITSIM_ERR_INTERRUPTED, or BITSIM_ERR_X_RANGE /
 * BITSIM_ERR_W_RANGE with *bad_index. */
int bitsim_timing_run(const bitsim_timing_plan *p, const bitsim_source *x,
                      const bitsim_source *w, uint64_t start, uint64_t count, int simd,
                      void *workspace, uint64_t *rise, uint64_t *fall, uint64_t *settled_rise,
                      uint64_t *settled_fall, int64_t *settle, uint64_t *bad_index);

#endif
