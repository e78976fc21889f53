# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""Private binding of csrc/timing.c: builds the plan struct from a
bitsim.backends.timing_plan.TimingProgram, releases the GIL around the kernel only, turns
status codes into exceptions."""
import numpy as np

cimport numpy as cnp
from libc.stdint cimport int32_t, int64_t, uint64_t

from bitsim._ext.c_common cimport bitsim_interrupt
from bitsim._ext.c_timing cimport bitsim_timing_plan, bitsim_timing_run, bitsim_timing_workspace_bytes
from bitsim._ext.c_operands cimport bitsim_source
from bitsim._ext._mac cimport check_status, fill_source

cnp.import_array()


def interrupt(bint on):
    """Set (True) or clear (False) this module's copy of the C core's interrupt flag."""
    bitsim_interrupt(on)


cdef cnp.ndarray i32(arr, list keep):
    a = np.ascontiguousarray(arr, dtype=np.int32)
    keep.append(a)
    return a


cdef const int32_t *p32(cnp.ndarray arr):
    return <const int32_t *>cnp.PyArray_DATA(arr)


def run(tp, xs, ws, uint64_t start, uint64_t count, int simd):
    """(rise, fall, settled_rise, settled_fall, settle) of vectors [start, start + count) of
    the operand streams xs, ws (vector start - 1 before them; all 0 when start is 0)."""
    cdef bitsim_timing_plan c
    cdef bitsim_source x, w
    cdef uint64_t bad = 0
    cdef list keep = []
    cdef int status
    prog, plan = tp.prog, tp.plan
    cdef cnp.ndarray op = i32(prog.op, keep), a = i32(prog.a, keep), b = i32(prog.b, keep)
    cdef cnp.ndarray cc = i32(prog.c, keep), out = i32(prog.out, keep)
    cdef cnp.ndarray inputs = i32(tp.inputs, keep), in_slot = i32(plan.in_slot, keep)
    cdef cnp.ndarray entries = i32(plan.entries, keep), args = i32(plan.args, keep)
    cdef cnp.ndarray last = i32(plan.last, keep)
    cdef cnp.ndarray step_at = np.ascontiguousarray(plan.step_at, dtype=np.int64)
    fill_source(&x, xs, keep)
    fill_source(&w, ws, keep)
    c.nets = prog.nets
    c.ngates = len(prog.op)
    c.op, c.a, c.b, c.c, c.out = p32(op), p32(a), p32(b), p32(cc), p32(out)
    c.x_bits, c.w_bits = len(prog.x_nets), len(prog.w_nets)
    c.inputs, c.in_slot = p32(inputs), p32(in_slot)
    c.horizon = tp.horizon
    c.slots = plan.slots
    c.step_at = <const int64_t *>cnp.PyArray_DATA(step_at)
    c.entries = p32(entries) if len(plan.entries) else NULL
    c.nargs = len(plan.args)
    c.args = p32(args) if len(plan.args) else NULL
    c.last = p32(last)
    rise = np.zeros(c.nets, dtype=np.uint64)
    fall, srise, sfall = rise.copy(), rise.copy(), rise.copy()
    settle = np.zeros(c.horizon + 1, dtype=np.int64)
    cdef uint64_t[::1] r = rise, f = fall, sr = srise, sf = sfall
    cdef int64_t[::1] st = settle
    cdef cnp.ndarray work = np.empty(bitsim_timing_workspace_bytes(&c), dtype=np.uint8)
    cdef void *wp = cnp.PyArray_DATA(work)
    with nogil:
        status = bitsim_timing_run(&c, &x, &w, start, count, simd, wp, &r[0], &f[0], &sr[0],
                                   &sf[0], &st[0], &bad)
    check_status(status, bad, xs, ws)
    return rise, fall, srise, sfall, settle
