"""numba backend of the per-dot-product accumulator widths (``bitsim._mac.dot_widths``): exact
128-bit partial sums, bounded memory (chunks of operands; a dot product may span chunks). The
kernel is ``bitsim.backends.jit.mac.dot_widths_chunk`` (every 128-bit kernel lives in that file)."""

import numpy as np

from bitsim._core import interrupt
from bitsim.backends.jit.mac import _MAX, _MIN, dot_widths_chunk, to_int
from bitsim.backends.jit.sampling import fetch

MAX_WIDTH = 129  # bitsim.sim.accwidth.MAX_WIDTH (not imported: that module loads the C extension)


def dot_widths(cfg, xs, ws, first_dot, dots, chunk):
    """(hist[w] of the widths dot products [first_dot, first_dot + dots) need, min partial sum,
    max partial sum); hist[w] counts the dot products whose partial sums all fit a w-bit
    accumulator (two's complement when cfg.acc_signed) but not w - 1 bits. Min and max are
    None when dots == 0."""
    k = cfg.length
    if not k:
        raise ValueError("dot_widths: expected a configuration with a dot-product length")
    hist = np.zeros(MAX_WIDTH + 1, dtype=np.uint64)
    st = np.zeros(12, dtype=np.uint64)
    start, stop = first_dot * k, (first_dot + dots) * k
    for g in range(start, stop, chunk):
        m = min(chunk, stop - g)
        interrupt.check()
        dot_widths_chunk(fetch(xs, g, m), fetch(ws, g, m), k, cfg.acc_signed, st, hist)
    if dots == 0:
        return hist, None, None
    return hist, to_int(st[_MIN], st[_MIN + 1]), to_int(st[_MAX], st[_MAX + 1])
