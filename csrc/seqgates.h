/* Cycle-by-cycle, zero-delay toggle simulation of sequential gate-level netlists (flip-flops
 * with feedback), the model of bitsim/sim/sequential.py:
 *
 * Cycle t: every driven port takes its value of cycle t, every flip-flop output holds its D
 * input's value of cycle t - 1, the combinational gates (given in topological order, flip-flop
 * outputs and ports as sources) settle. Before cycle 0 is the reset state: ports and flip-flop
 * outputs 0, the other nets what follows. A net's toggles are the cycles whose value differs
 * from the cycle before (cycle 0: from the reset state, when count_first).
 *
 * The n cycles are cut into 512 stretches run side by side, one per bit of a 512-bit word per
 * net. Each stretch starts from the last cycle of the one before it (stretch 0 from the reset
 * state); the start states are guessed (the reset state) and the passes repeat until no start
 * state changes, so the counts are exact: pass k has the first k stretches right, and a state
 * that forgets its past (an accumulator that is cleared) converges in two passes. */
#ifndef BITSIM_SEQGATES_H
#define BITSIM_SEQGATES_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "gates.h"
#include "operands.h"

#define BITSIM_SEQ_LANES 512

typedef struct {
    int nets;                              /* net 0: constant 0, net 1: constant 1 */
    int ngates;                            /* combinational gates, topological order */
    const int32_t *op, *a, *b, *c, *out;   /* opcodes of gates.h, BITSIM_G_DFF excluded */
    int ndff;
    const int32_t *dff_q, *dff_d;          /* flip-flop k: q[k] <- d[k] at each clock edge */
    int nports;
    const int32_t *port_bits;              /* bits of port i (1..32; its source's width) */
    const int32_t *port_nets;              /* every port's nets, LSB first, one after the other */
    int clear_net;                         /* -1: none; else 1 in cycles phase + k * period */
    uint64_t clear_period, clear_phase;
} bitsim_seq_circuit;

/* Bytes of workspace for a circuit and `cycles` cycles per stretch per block. */
size_t bitsim_seq_workspace_bytes(const bitsim_seq_circuit *c, size_t cycles);

/* Simulate cycles [0, n) and store the toggles of every net in toggles[net] (count_first:
 * count the change from the reset state into cycle 0). Port values are loaded `cycles` per
 * stretch at a time. *passes: the passes made. Returns BITSIM_OK, BITSIM_ERR_CIRCUIT,
 * BITSIM_ERR_WORKSPACE, BITSIM_ERR_SIMD, or BITSIM_ERR_X_RANGE with *bad_port and *bad_index
 * (a value of port *bad_port outside its format). */
int bitsim_seq_run(const bitsim_seq_circuit *c, const bitsim_source *ports, uint64_t n,
                   int count_first, size_t cycles, int simd, void *workspace, uint64_t *toggles,
                   uint64_t *passes, int *bad_port, uint64_t *bad_index);

#endif
