"""Reference MAC bit-flip simulator in plain numpy: the oracle of the C and numba kernels.

Same model and interface as ``bitsim._mac.run``/``tail``. Exact partial sums use int64 where
they provably fit and Python integers (object arrays) where they might not.
"""

import numpy as np

from bitsim._core import interrupt
from bitsim._core.widths import product_range
from bitsim.backends.reference.sampling import fetch

_LIMIT = 1 << 62


def _products(cfg, xs, ws, g, m, sum_before):
    """x, w and x * w for MACs [g, g + m): int64 when every partial sum fits, else object."""
    largest = max(map(abs, product_range(cfg.x_format, cfg.w_format)))
    exact = abs(sum_before) + m * largest >= _LIMIT
    x, w = fetch(xs, g, m), fetch(ws, g, m)
    if exact:
        x, w = x.astype(object), w.astype(object)
    return x, w, x * w


def _starts(cfg, g, m) -> np.ndarray:
    """True where a MAC of [g, g + m) is the first term of a dot product."""
    idx = np.arange(g, g + m, dtype=np.int64)
    return idx % cfg.length == 0 if cfg.length else idx == 0


def low_bits(values: np.ndarray, bits: int) -> np.ndarray:
    """Two's complement low ``bits`` bits of integers (int64 or Python ints) as uint64."""
    if values.dtype == object:
        return (values & ((1 << bits) - 1)).astype(np.uint64)
    return values.astype(np.uint64) & np.uint64((1 << bits) - 1)


def bit_flips(values: np.ndarray, previous: int) -> np.ndarray:
    """Flips of each bit position (64 counts) over a register's consecutive uint64 values."""
    seq = np.concatenate([np.array([previous], dtype=np.uint64), values])
    diff = (seq[1:] ^ seq[:-1]).astype("<u8")
    bits = np.unpackbits(diff.view(np.uint8).reshape(-1, 8), axis=1, bitorder="little")
    return bits.sum(axis=0, dtype=np.uint64)


def adder_carries(kept: np.ndarray, addend: np.ndarray) -> np.ndarray:
    """Carry out of each bit position of a ripple-carry adder of two uint64 words below 2**A
    (bit i: the carry into bit i + 1, from the A + 1-bit sum; bit 63 of a 64-bit adder is the
    carry out of the word, an unsigned overflow)."""
    total = kept + addend  # wraps modulo 2**64 only when A == 64
    top = (total < kept).astype(np.uint64) << np.uint64(63)
    return ((total ^ kept ^ addend) >> np.uint64(1)) | top


def _site_words(x, w, p, sums, first, acc_before, widths):
    """The six sites' register words (uint64) of a run of MACs: x, w, product, acc, addend and
    carry. The adder adds the addend (p extended to acc_bits) to the accumulator register, or to
    0 on the first term of a dot product (first); acc_before: the register before the run."""
    regs = [low_bits(v, b) for v, b in zip((x, w, p, sums), widths)]
    addend = low_bits(p, widths[3])
    before = np.concatenate([np.array([acc_before], dtype=np.uint64), regs[3][:-1]])
    kept = np.where(first, np.uint64(0), before)
    return [*regs, addend, adder_carries(kept, addend)]


def run(cfg, xs, ws, start, count, sum_before, chunk):
    """Simulate MACs [start, start + count): (flips[6, 64], overflows, min, max, sum after),
    sites as ``bitsim.sim.mac.SITES``."""
    widths = [cfg.x_bits, cfg.w_bits, cfg.product_bits, cfg.acc_bits]
    lo, hi = cfg.acc_range
    flips = np.zeros((6, 64), dtype=np.uint64)
    overflows, smin, smax = 0, None, None
    total = int(sum_before) if start > 0 else 0
    if start > 0:  # the sites as MAC start - 1 left them
        px, pw = fetch(xs, start - 1, 1).astype(object), fetch(ws, start - 1, 1).astype(object)
        first = _starts(cfg, start - 1, 1)
        acc_before = (total - int(px[0] * pw[0])) & ((1 << cfg.acc_bits) - 1)
        sums = np.array([total], dtype=object)
        words = _site_words(px, pw, px * pw, sums, first, acc_before, widths)
        prev = [int(v[0]) for v in words]
    else:
        prev = [0] * 6
    for g in range(start, start + count, chunk):
        m = min(chunk, start + count - g)
        interrupt.check()
        x, w, p = _products(cfg, xs, ws, g, m, total)
        cs = np.cumsum(p)
        before = np.concatenate([np.zeros(1, dtype=cs.dtype), cs[:-1]])
        last = np.maximum.accumulate(np.where(_starts(cfg, g, m), np.arange(m), -1))
        # exact partial sums: after the last dot-product start, or continuing the previous sum
        sums = cs + np.where(last < 0, total, -before[np.maximum(last, 0)])
        words = _site_words(x, w, p, sums, _starts(cfg, g, m), prev[3], widths)
        for site, regs in enumerate(words):
            flips[site] += bit_flips(regs, prev[site])
            prev[site] = int(regs[-1])
        overflows += int(np.count_nonzero((sums < lo) | (sums > hi)))
        cmin, cmax = int(sums.min()), int(sums.max())
        smin = cmin if smin is None else min(smin, cmin)
        smax = cmax if smax is None else max(smax, cmax)
        total = int(sums[-1])
    return flips, overflows, smin, smax, total


def tail(cfg, xs, ws, start, count, chunk):
    """(sum of the products after the last dot-product start in the range, whether one began);
    without a start, the sum of all the range's products."""
    total, restarted = 0, False
    for g in range(start, start + count, chunk):
        m = min(chunk, start + count - g)
        interrupt.check()
        p = _products(cfg, xs, ws, g, m, 0)[2].astype(object)
        starts = np.flatnonzero(_starts(cfg, g, m))
        if starts.size:
            total, restarted = int(p[starts[-1] :].sum()), True
        else:
            total += int(p.sum())
    return total, restarted
