# Declarations of csrc/gates.h.
from libc.stdint cimport int32_t, uint64_t

from bitsim._ext.c_operands cimport bitsim_source

cdef extern from "gates.h" nogil:
    ctypedef struct bitsim_circuit:
        int nets
        int ngates
        const int32_t *op
        const int32_t *a
        const int32_t *b
        const int32_t *c
        const int32_t *out
        int x_bits, w_bits, acc_bits
        const int32_t *x_nets
        const int32_t *w_nets
        const int32_t *acc_nets
        int first_net
        uint64_t length

    size_t bitsim_gates_workspace_bytes(int nets, int ngates)
    int bitsim_gates_run(const bitsim_circuit *c, const bitsim_source *x,
                         const bitsim_source *w, uint64_t start, uint64_t warmup,
                         uint64_t count, uint64_t acc_before, int simd, void *workspace,
                         uint64_t *toggles, uint64_t *bad_index)
