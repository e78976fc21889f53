# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""Private binding of csrc/gates.c: builds the circuit struct, releases the GIL around the
kernel only, turns status codes into exceptions. Inputs are checked by bitsim.sim.gates."""
import numpy as np

cimport numpy as cnp
from libc.stdint cimport int32_t, uint64_t

from bitsim._ext.c_common cimport bitsim_interrupt
from bitsim._ext.c_gates cimport bitsim_circuit, bitsim_gates_run, bitsim_gates_workspace_bytes
from bitsim._ext.c_operands cimport bitsim_source
from bitsim._ext._mac cimport check_status, fill_source

cnp.import_array()


def interrupt(bint on):
    """Set (True) or clear (False) this module's copy of the C core's interrupt flag."""
    bitsim_interrupt(on)


cdef const int32_t *ptr(cnp.ndarray arr):
    return <const int32_t *>cnp.PyArray_DATA(arr)


def run(prog, xs, ws, uint64_t start, uint64_t warmup, uint64_t count, acc_before, int simd):
    """Toggles of every net over vectors [start, start + count) (uint64[nets])."""
    cdef bitsim_circuit c
    cdef bitsim_source x, w
    cdef list keep_alive = []
    cdef uint64_t bad = 0, acc = acc_before & 0xFFFFFFFFFFFFFFFF
    cdef int status
    cdef cnp.ndarray op = prog.op, a = prog.a, b = prog.b, cc = prog.c, out = prog.out
    cdef cnp.ndarray xn = prog.x_nets, wn = prog.w_nets, an = prog.acc_nets
    toggles = np.zeros(prog.nets, dtype=np.uint64)
    cdef uint64_t[::1] t = toggles
    cdef cnp.ndarray work = np.empty(
        bitsim_gates_workspace_bytes(prog.nets, len(prog.op)), dtype=np.uint8)
    cdef void *wp = cnp.PyArray_DATA(work)
    c.nets = prog.nets
    c.ngates = len(prog.op)
    c.op, c.a, c.b, c.c, c.out = ptr(op), ptr(a), ptr(b), ptr(cc), ptr(out)
    c.x_bits, c.w_bits, c.acc_bits = len(prog.x_nets), len(prog.w_nets), len(prog.acc_nets)
    c.x_nets, c.w_nets = ptr(xn), ptr(wn)
    c.acc_nets = ptr(an) if len(prog.acc_nets) else NULL
    c.first_net = prog.first_net
    c.length = prog.length or 0
    fill_source(&x, xs, keep_alive)
    fill_source(&w, ws, keep_alive)
    with nogil:
        status = bitsim_gates_run(&c, &x, &w, start, warmup, count, acc, simd, wp, &t[0], &bad)
    check_status(status, bad, xs, ws)
    return toggles
