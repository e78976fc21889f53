/* Bit-sliced, zero-delay toggle simulation of gate-level netlists.
 *
 * Vector t of the operand streams is bit t of every net's words: a block of 512 consecutive
 * vectors is evaluated with one 512-bit operation per gate (one AVX-512 register, two AVX2 ones
 * or eight 64-bit words), several blocks per visit to a gate (gates_kernel.h). The toggles of a
 * net are the Hamming distance between its values at consecutive vectors (across blocks too),
 * counted with popcount; before the first vector every source net and register is 0 and the
 * other nets hold the values that follow from that.
 *
 * Sources: the operand buses x and w (values from bitsim_source streams), an optional 'first'
 * net (1 on the first term of each dot product of `length` terms; 0: one endless product) and
 * an optional state bus 'acc' holding the previous partial sum modulo 2^64 (the accumulator
 * register of a MAC, whose next value the circuit computes). Gates are given in topological
 * order; a DFF gate's output is its input delayed by one vector. */
#ifndef BITSIM_GATES_H
#define BITSIM_GATES_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "operands.h"

enum {
    BITSIM_G_AND = 0, BITSIM_G_OR, BITSIM_G_XOR, BITSIM_G_NAND, BITSIM_G_NOR, BITSIM_G_XNOR,
    BITSIM_G_NOT, BITSIM_G_ANDNOT, BITSIM_G_ORNOT, BITSIM_G_MUX, BITSIM_G_BUF, BITSIM_G_DFF
};

/* X(op) for every combinational opcode (all but DFF): the cases of the kernels' switches. */
#define BITSIM_COMB_OPS(X)                                                                     \
    X(BITSIM_G_AND) X(BITSIM_G_OR) X(BITSIM_G_XOR) X(BITSIM_G_NAND) X(BITSIM_G_NOR)              \
    X(BITSIM_G_XNOR) X(BITSIM_G_NOT) X(BITSIM_G_ANDNOT) X(BITSIM_G_ORNOT) X(BITSIM_G_MUX)        \
    X(BITSIM_G_BUF)

/* Return the function of combinational gate `op` on a, b, c (vectors of any width): the one
 * definition of the gates that every kernel's always-inline evaluator expands. */
#define BITSIM_GATE_RETURN(op, a, b, c)                                                         \
    switch (op) {                                                                              \
    case BITSIM_G_AND: return (a) & (b);                                                       \
    case BITSIM_G_OR: return (a) | (b);                                                        \
    case BITSIM_G_XOR: return (a) ^ (b);                                                       \
    case BITSIM_G_NAND: return ~((a) & (b));                                                   \
    case BITSIM_G_NOR: return ~((a) | (b));                                                    \
    case BITSIM_G_XNOR: return ~((a) ^ (b));                                                   \
    case BITSIM_G_NOT: return ~(a);                                                            \
    case BITSIM_G_ANDNOT: return (a) & ~(b);                                                   \
    case BITSIM_G_ORNOT: return (a) | ~(b);                                                    \
    case BITSIM_G_MUX: return ((a) & ~(c)) | ((b) & (c));                                      \
    default: return (a); /* BUF */                                                             \
    }

/* A run of consecutive gates with one opcode: gates [start, end). The kernels evaluate a run
 * as one loop specialised to its opcode, so they dispatch once per run, not once per gate;
 * bitsim.sim.gates orders the gates by logic level and by opcode within a level (levelized, or
 * scheduled: each gate at its latest level, for fewer live values), so a run is every gate of
 * one type in one level, or two adjacent levels. */
typedef struct {
    int32_t op, start, end;
} bitsim_gate_run;

/* The runs of op[0..n) into runs (room for n); returns how many. */
int bitsim_gate_runs(const int32_t *op, int n, bitsim_gate_run *runs);

typedef struct {
    int nets;                    /* net 0: constant 0, net 1: constant 1 */
    int ngates;
    const int32_t *op, *a, *b, *c, *out;   /* gate g: out[g] = op(a[g], b[g], c[g]) */
    int x_bits, w_bits, acc_bits;
    const int32_t *x_nets, *w_nets;        /* operand bus nets, LSB first */
    const int32_t *acc_nets;               /* state bus (NULL: none) */
    int first_net;                         /* -1: none */
    uint64_t length;                       /* dot-product length for first/acc; 0: endless */
} bitsim_circuit;

/* Bytes of workspace for a circuit of `nets` nets and `ngates` gates. */
size_t bitsim_gates_workspace_bytes(int nets, int ngates);

/* Simulate vectors [start - warmup, start + count) and add the toggles of every net over the
 * last `count` vectors to toggles[net]. acc_before: the partial sum modulo 2^64 before vector
 * start - warmup (ignored when that is 0). simd: a BITSIM_SIMD_* level (AVX-512 needs
 * VPOPCNTDQ as well). Returns a status code of common.h: BITSIM_OK, BITSIM_ERR_CIRCUIT (also
 * when a gate reads a net before the gate driving it),
 * BITSIM_ERR_WORKSPACE, BITSIM_ERR_WARMUP (warmup > start), BITSIM_ERR_SIMD, or
 * BITSIM_ERR_X_RANGE / BITSIM_ERR_W_RANGE with *bad_index. */
int bitsim_gates_run(const bitsim_circuit *c, const bitsim_source *x, const bitsim_source *w,
                     uint64_t start, uint64_t warmup, uint64_t count, uint64_t acc_before,
                     int simd, void *workspace, uint64_t *toggles, uint64_t *bad_index);

#endif
