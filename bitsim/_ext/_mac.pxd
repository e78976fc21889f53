# C-level functions of bitsim._mac shared with the other bindings.
from libc.stdint cimport uint64_t

from bitsim._ext.c_operands cimport bitsim_source

cdef void fill_source(bitsim_source *src, stream, list keep_alive) except *
cdef int check_status(int status, uint64_t bad, xs, ws) except -1
