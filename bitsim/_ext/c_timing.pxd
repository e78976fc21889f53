# Declarations of csrc/timing.h.
from libc.stdint cimport int32_t, int64_t, uint64_t

from bitsim._ext.c_operands cimport bitsim_source

cdef extern from "timing.h" nogil:
    ctypedef struct bitsim_timing_plan:
        int nets
        int ngates
        const int32_t *op
        const int32_t *a
        const int32_t *b
        const int32_t *c
        const int32_t *out
        int x_bits, w_bits
        const int32_t *inputs
        const int32_t *in_slot
        int horizon
        int64_t slots
        const int64_t *step_at
        const int32_t *entries
        int64_t nargs
        const int32_t *args
        const int32_t *last

    size_t bitsim_timing_workspace_bytes(const bitsim_timing_plan *p)
    int bitsim_timing_run(const bitsim_timing_plan *p, const bitsim_source *x,
                          const bitsim_source *w, uint64_t start, uint64_t count, int simd,
                          void *workspace, uint64_t *rise, uint64_t *fall,
                          uint64_t *settled_rise, uint64_t *settled_fall, int64_t *settle,
                          uint64_t *bad_index)
