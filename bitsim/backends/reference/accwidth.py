"""Reference of the per-dot-product accumulator widths (``bitsim._mac.dot_widths``), numpy."""

import numpy as np

from bitsim._core import interrupt
from bitsim._core.widths import MAX_WIDTH, width_for_range
from bitsim.backends.reference.sampling import fetch


def dot_widths(cfg, xs, ws, first_dot, dots, chunk):
    """(hist[w] of the widths dot products [first_dot, first_dot + dots) need, min, max)."""
    k = cfg.length
    hist = np.zeros(MAX_WIDTH + 1, dtype=np.uint64)
    lo = hi = None
    per_chunk = max(1, chunk // k)
    for d in range(first_dot, first_dot + dots, per_chunk):
        m = min(per_chunk, first_dot + dots - d)
        interrupt.check()
        x = fetch(xs, d * k, m * k).astype(object).reshape(m, k)
        w = fetch(ws, d * k, m * k).astype(object).reshape(m, k)
        sums = np.cumsum(x * w, axis=1)
        for a, b in zip(sums.min(axis=1), sums.max(axis=1)):
            hist[width_for_range(int(a), int(b), cfg.acc_signed)] += 1
            lo = int(a) if lo is None else min(lo, int(a))
            hi = int(b) if hi is None else max(hi, int(b))
    return hist, lo, hi
