# C-level functions of bitsim._mac shared with the other bindings.
from bitsim._ext.c_operands cimport bitsim_source

cdef void fill_source(bitsim_source *src, stream, list keep_alive) except *
