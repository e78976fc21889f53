# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""Private binding of csrc/seqgates.c: builds the circuit struct, releases the GIL around the
kernel only, turns status codes into exceptions. Inputs are checked by bitsim.sim.sequential."""
import numpy as np

cimport numpy as cnp
from libc.stdint cimport int32_t, uint64_t
from libc.stdlib cimport free, malloc

from bitsim._ext.c_common cimport BITSIM_ERR_X_RANGE, BITSIM_OK, bitsim_interrupt
from bitsim._ext.c_operands cimport bitsim_source
from bitsim._ext.c_seqgates cimport bitsim_seq_circuit, bitsim_seq_run, bitsim_seq_workspace_bytes
from bitsim._ext._mac cimport check_status, fill_source

cnp.import_array()

LANES = 512


def interrupt(bint on):
    """Set (True) or clear (False) this module's copy of the C core's interrupt flag."""
    bitsim_interrupt(on)


cdef const int32_t *ptr(cnp.ndarray arr):
    return <const int32_t *>cnp.PyArray_DATA(arr)


def run(prog, streams, uint64_t n, bint count_first, int simd, size_t chunk):
    """Toggles of every net over cycles [0, n) (uint64[nets])."""
    cdef bitsim_seq_circuit c
    cdef list keep_alive = []
    cdef uint64_t bad = 0, passes = 0
    cdef int status, bad_port = 0, i
    cdef size_t cycles = max(64, chunk // LANES)
    cdef cnp.ndarray op = prog.op, a = prog.a, b = prog.b, cc = prog.c, out = prog.out
    cdef cnp.ndarray dq = prog.dff_q, dd = prog.dff_d
    cdef cnp.ndarray bits = np.array([len(p) for p in prog.port_nets], dtype=np.int32)
    cdef cnp.ndarray nets = np.concatenate(
        [np.zeros(0, dtype=np.int32)] + list(prog.port_nets)).astype(np.int32)
    cdef bitsim_source *src = <bitsim_source *>malloc(max(1, len(streams)) * sizeof(bitsim_source))
    if src == NULL:
        raise MemoryError()
    toggles = np.zeros(prog.nets, dtype=np.uint64)
    cdef uint64_t[::1] t = toggles
    cdef cnp.ndarray work
    cdef void *wp
    try:
        c.nets = prog.nets
        c.ngates = len(prog.op)
        c.op, c.a, c.b, c.c, c.out = ptr(op), ptr(a), ptr(b), ptr(cc), ptr(out)
        c.ndff = len(prog.dff_q)
        c.dff_q, c.dff_d = ptr(dq), ptr(dd)
        c.nports = len(streams)
        c.port_bits, c.port_nets = ptr(bits), ptr(nets)
        c.clear_net = prog.clear_net
        c.clear_period, c.clear_phase = prog.clear_period, prog.clear_phase
        for i in range(len(streams)):
            fill_source(&src[i], streams[i], keep_alive)
        work = np.empty(bitsim_seq_workspace_bytes(&c, cycles), dtype=np.uint8)
        wp = cnp.PyArray_DATA(work)
        with nogil:
            status = bitsim_seq_run(&c, src, n, count_first, cycles, simd, wp, &t[0], &passes,
                                    &bad_port, &bad)
    finally:
        free(src)
    if status == BITSIM_ERR_X_RANGE:
        raise streams[bad_port].range_error(bad)
    check_status(status, bad, None, None)
    return toggles
