# Declarations of csrc/seqgates.h.
from libc.stdint cimport int32_t, uint64_t

from bitsim._ext.c_operands cimport bitsim_source

cdef extern from "seqgates.h" nogil:
    ctypedef struct bitsim_seq_circuit:
        int nets
        int ngates
        const int32_t *op
        const int32_t *a
        const int32_t *b
        const int32_t *c
        const int32_t *out
        int ndff
        const int32_t *dff_q
        const int32_t *dff_d
        int nports
        const int32_t *port_bits
        const int32_t *port_nets
        int clear_net
        uint64_t clear_period, clear_phase

    size_t bitsim_seq_workspace_bytes(const bitsim_seq_circuit *c, size_t cycles)
    int bitsim_seq_run(const bitsim_seq_circuit *c, const bitsim_source *ports, uint64_t n,
                       int count_first, size_t cycles, int simd, void *workspace,
                       uint64_t *toggles, uint64_t *passes, int *bad_port, uint64_t *bad_index)
