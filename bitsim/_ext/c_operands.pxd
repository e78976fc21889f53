# Declarations of csrc/operands.h.
from libc.stdint cimport int64_t, uint32_t, uint64_t

cdef extern from "operands.h" nogil:
    enum:
        BITSIM_INT8
        BITSIM_INT16
        BITSIM_INT32
        BITSIM_INT64
        BITSIM_UINT8
        BITSIM_UINT16
        BITSIM_UINT32
        BITSIM_UINT64
        BITSIM_SOURCE_ARRAY
        BITSIM_SOURCE_UNIFORM
        BITSIM_SOURCE_TABLE

    ctypedef struct bitsim_source:
        int kind
        int bits
        int is_signed
        const void *data
        int dtype
        uint64_t key
        int table_log2
        const uint64_t *keep
        const uint32_t *alias
        const int64_t *values
