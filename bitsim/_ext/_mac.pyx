# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""Private binding of csrc/mac.c: builds the C structs, releases the GIL around the kernel only,
and turns status codes into exceptions. Inputs are validated by
bitsim.sim and bitsim.backends.dispatch before they get here."""
import numpy as np

cimport numpy as cnp
from libc.stdint cimport int64_t, uint32_t, uint64_t

from bitsim._core.interrupt import Interrupted

from bitsim._ext.c_common cimport (
    BITSIM_ERR_INTERRUPTED, BITSIM_ERR_W_RANGE, BITSIM_ERR_X_RANGE, BITSIM_NSTATUS, BITSIM_OK, BITSIM_SIMD_AUTO,
    BITSIM_SIMD_AVX2, BITSIM_SIMD_AVX512, BITSIM_SIMD_SCALAR, bitsim_compiler, bitsim_interrupt,
    bitsim_status_message)
from bitsim._ext.c_mac cimport (
    BITSIM_NSITES, BITSIM_WIDTH_BINS, bitsim_dot_widths, bitsim_i128, bitsim_mac_config, bitsim_mac_result,
    bitsim_mac_run, bitsim_mac_tail, bitsim_mac_tail_vectorised, bitsim_mac_workspace_bytes,
    bitsim_simd_supported)
from bitsim._ext.c_operands cimport (
    BITSIM_INT8, BITSIM_INT16, BITSIM_INT32, BITSIM_INT64, BITSIM_SOURCE_ARRAY,
    BITSIM_SOURCE_TABLE, BITSIM_SOURCE_UNIFORM, BITSIM_UINT8, BITSIM_UINT16, BITSIM_UINT32,
    BITSIM_UINT64, bitsim_source)

cnp.import_array()

SIMD_LEVELS = {"scalar": BITSIM_SIMD_SCALAR, "avx2": BITSIM_SIMD_AVX2,
               "avx512": BITSIM_SIMD_AVX512}
SIMD_AUTO = BITSIM_SIMD_AUTO   # the best level this CPU and build support

# The compiler that built the C core: "gcc X.Y.Z" or "clang X.Y.Z".
COMPILER = bitsim_compiler().decode("ascii")

_DTYPES = {
    np.dtype(np.int8): BITSIM_INT8, np.dtype(np.int16): BITSIM_INT16,
    np.dtype(np.int32): BITSIM_INT32, np.dtype(np.int64): BITSIM_INT64,
    np.dtype(np.uint8): BITSIM_UINT8, np.dtype(np.uint16): BITSIM_UINT16,
    np.dtype(np.uint32): BITSIM_UINT32, np.dtype(np.uint64): BITSIM_UINT64,
}


def interrupt(bint on):
    """Set (True) or clear (False) this module's copy of the C core's interrupt flag."""
    bitsim_interrupt(on)


def simd_supported(level):
    """True when this build and CPU run the kernel with ``level`` ('scalar', 'avx2', 'avx512')."""
    return bool(bitsim_simd_supported(SIMD_LEVELS[level]))


cdef bitsim_mac_config make_config(cfg):
    cdef bitsim_mac_config c
    c.x_bits = cfg.x_bits
    c.w_bits = cfg.w_bits
    c.acc_bits = cfg.acc_bits
    c.x_signed = cfg.x_signed
    c.w_signed = cfg.w_signed
    c.length = cfg.length or 0
    return c


cdef void fill_source(bitsim_source *src, stream, list keep_alive) except *:
    cdef cnp.ndarray arr
    src.bits = stream.fmt.bits
    src.is_signed = stream.fmt.signed
    src.key = stream.key
    src.data = NULL
    src.keep = NULL
    src.alias = NULL
    src.values = NULL
    src.table_log2 = 0
    src.dtype = 0
    if stream.array is not None:
        arr = stream.array
        src.kind = BITSIM_SOURCE_ARRAY
        src.dtype = _DTYPES[arr.dtype]
        src.data = cnp.PyArray_DATA(arr)
        keep_alive.append(arr)
    elif stream.table is None:
        src.kind = BITSIM_SOURCE_UNIFORM
    else:
        src.kind = BITSIM_SOURCE_TABLE
        src.table_log2 = stream.table.log2
        arr = stream.table.keep
        src.keep = <const uint64_t *>cnp.PyArray_DATA(arr)
        keep_alive.append(arr)
        arr = stream.table.alias
        src.alias = <const uint32_t *>cnp.PyArray_DATA(arr)
        keep_alive.append(arr)
        arr = stream.table.values
        src.values = <const int64_t *>cnp.PyArray_DATA(arr)
        keep_alive.append(arr)


cdef object from_pair(bitsim_i128 v):
    return (<object>v.hi << 64) + <object>v.lo


cdef bitsim_i128 to_pair(object v):
    cdef bitsim_i128 p
    p.lo = v & 0xFFFFFFFFFFFFFFFF
    p.hi = v >> 64
    return p


cdef int check_status(int status, uint64_t bad, xs, ws) except -1:
    """Raise what a status code of the C core means: the operand stream's range error for a
    value outside its format (at index bad), ValueError with the code's message otherwise."""
    if status == BITSIM_OK:
        return 0
    if status == BITSIM_ERR_X_RANGE:
        raise xs.range_error(bad)
    if status == BITSIM_ERR_W_RANGE:
        raise ws.range_error(bad)
    if status == BITSIM_ERR_INTERRUPTED:
        raise Interrupted()
    message = bitsim_status_message(status).decode("ascii")
    if not 0 <= status < BITSIM_NSTATUS:
        message = f"{message} {status}"
    raise ValueError(message)


cdef class _Call:
    """The C structs of one kernel call: configuration, operand sources and workspace (the
    arrays they point into are kept alive here)."""
    cdef bitsim_mac_config c
    cdef bitsim_source x, w
    cdef list keep_alive
    cdef cnp.ndarray work
    cdef void *wp

    def __cinit__(self, cfg, xs, ws, size_t block):
        self.c = make_config(cfg)
        self.keep_alive = []
        self.work = np.empty(bitsim_mac_workspace_bytes(block), dtype=np.uint8)
        self.wp = cnp.PyArray_DATA(self.work)
        fill_source(&self.x, xs, self.keep_alive)
        fill_source(&self.w, ws, self.keep_alive)


def run(cfg, xs, ws, uint64_t start, uint64_t count, sum_before, int simd, size_t block):
    """Simulate MACs [start, start + count).

    Returns (flips[6, 64] uint64 (sites as bitsim.sim.mac.SITES), overflows, min partial sum, max partial sum, sum after)."""
    cdef _Call k = _Call(cfg, xs, ws, block)
    cdef bitsim_mac_result res
    cdef bitsim_i128 before = to_pair(sum_before)
    cdef uint64_t bad = 0
    cdef int status
    with nogil:
        status = bitsim_mac_run(&k.c, &k.x, &k.w, start, count, before, simd, k.wp, block,
                                &res, &bad)
    check_status(status, bad, xs, ws)
    flips = np.empty((BITSIM_NSITES, 64), dtype=np.uint64)
    cdef uint64_t[:, ::1] f = flips
    cdef int i, j
    for i in range(BITSIM_NSITES):
        for j in range(64):
            f[i, j] = res.flips[i][j]
    if count == 0:
        return flips, 0, None, None, sum_before
    return (flips, int(res.overflows), from_pair(res.min_sum), from_pair(res.max_sum),
            from_pair(res.sum_after))


def tail(cfg, xs, ws, uint64_t start, uint64_t count, int simd, size_t block):
    """(sum of the products after the last dot-product start in the range, whether one started)."""
    cdef _Call k = _Call(cfg, xs, ws, block)
    cdef bitsim_i128 total
    cdef int restarted = 0
    cdef uint64_t bad = 0
    cdef int status
    with nogil:
        status = bitsim_mac_tail(&k.c, &k.x, &k.w, start, count, simd, k.wp, block, &total,
                                 &restarted, &bad)
    check_status(status, bad, xs, ws)
    return from_pair(total), bool(restarted)


def tail_vectorised(cfg, xs, ws, int simd):
    """True when ``tail`` sums these operands' products in vector lanes (csrc/mac.h)."""
    cdef _Call k = _Call(cfg, xs, ws, 1)
    return bool(bitsim_mac_tail_vectorised(&k.c, &k.x, &k.w, simd))


def dot_widths(cfg, xs, ws, uint64_t first_dot, uint64_t dots, int simd, size_t block):
    """(hist[w] of accumulator widths needed per dot product, min partial sum, max)."""
    cdef _Call k = _Call(cfg, xs, ws, block)
    cdef bitsim_i128 lo, hi
    cdef uint64_t bad = 0
    cdef int status
    hist = np.zeros(BITSIM_WIDTH_BINS, dtype=np.uint64)
    cdef uint64_t[::1] h = hist
    with nogil:
        status = bitsim_dot_widths(&k.c, &k.x, &k.w, first_dot, dots, simd, k.wp, block, &h[0],
                                   &lo, &hi, &bad)
    check_status(status, bad, xs, ws)
    if dots == 0:
        return hist, None, None
    return hist, from_pair(lo), from_pair(hi)
