"""numba backend of the MAC bit-flip simulator: one scalar loop per MAC, exact 128-bit sums
kept as (hi: int64, lo: uint64) pairs, value hi * 2**64 + lo. Same model and interface as
``bitsim._mac.run`` and ``bitsim._mac.tail``; also the kernel of ``bitsim.backends.jit.accwidth``.

Every jitted function that does 128-bit arithmetic lives in this file: numba's on-disk cache
(cache=True) is invalidated only when the file of the cached function changes, so a cached
kernel calling a helper of another file would keep running that helper's old code after an
edit.

numba turns mixed int64/uint64 arithmetic into float64, so every constant and operand below is
cast to the type it must have.
"""

import numpy as np
from numba import njit

from bitsim._core import interrupt
from bitsim.backends.jit.sampling import fetch

U64 = np.uint64
I64 = np.int64
SIGN = U64(1) << U64(63)
_DEBRUIJN = U64(0x03F79D71B4CB0A89)
_DEBRUIJN_INDEX = np.array(
    [
        0,
        1,
        48,
        2,
        57,
        49,
        28,
        3,
        61,
        58,
        50,
        42,
        38,
        29,
        17,
        4,
        62,
        55,
        59,
        36,
        53,
        51,
        43,
        22,
        45,
        39,
        33,
        30,
        24,
        18,
        12,
        5,
        63,
        47,
        56,
        27,
        60,
        41,
        37,
        16,
        54,
        35,
        52,
        21,
        44,
        32,
        23,
        11,
        46,
        26,
        40,
        15,
        34,
        20,
        31,
        10,
        25,
        14,
        19,
        9,
        13,
        8,
        7,
        6,
    ],
    dtype=np.int64,
)


@njit(cache=True)
def _product(x, w, signed):
    """x * w as (hi, lo), exact for operands of at most 32 bits: a signed product (either
    operand signed) lies in int64, an unsigned one in uint64."""
    lo = U64(x) * U64(w)  # the low 64 bits of the exact product
    hi = I64(-1) if signed and (lo & SIGN) != U64(0) else I64(0)
    return hi, lo


@njit(cache=True)
def _add(ahi, alo, bhi, blo):
    """(a + b) as (hi, lo), wrapping modulo 2**128."""
    lo = alo + blo
    return ahi + bhi + (I64(1) if lo < alo else I64(0)), lo


@njit(cache=True)
def _less(ahi, alo, bhi, blo):
    """a < b."""
    return ahi < bhi or (ahi == bhi and alo < blo)


@njit(cache=True)
def _bit_length64(v):
    """Bits of a uint64 (0 for 0)."""
    n = 0
    for shift in (32, 16, 8, 4, 2, 1):
        if v >> U64(shift) != U64(0):
            v >>= U64(shift)
            n += shift
    return n + (1 if v != U64(0) else 0)


@njit(cache=True)
def _bit_length(hi, lo):
    """Bits of a value >= 0."""
    if hi != I64(0):
        return 64 + _bit_length64(U64(hi))
    return _bit_length64(lo)


@njit(cache=True)
def _signed_width(hi, lo):
    """Smallest two's complement width that holds the value: 1 + bits of v or of -v - 1."""
    if hi < I64(0):
        hi, lo = ~hi, ~lo
    return 1 + _bit_length(hi, lo)


@njit(cache=True)
def _unsigned_width(hi, lo):
    """Smallest unsigned width (>= 1) that holds a value >= 0."""
    return max(1, _bit_length(hi, lo))


def to_int(hi, lo) -> int:
    """A (hi, lo) pair, hi given as int64 or as its uint64 bits, as a Python int."""
    h = int(hi)
    return ((h - (1 << 64) if h >= 1 << 63 else h) << 64) + int(lo)


@njit(cache=True)
def _count(flips, site, d, index):
    while d != U64(0):
        low = d & (~d + U64(1))
        flips[site, index[(low * _DEBRUIJN) >> U64(58)]] += U64(1)
        d ^= low


@njit(cache=True)
def _carries(kept, addend):
    """Carry out of each bit position of the ripple-carry adder kept + addend (bit 63: the carry
    out of a 64-bit word)."""
    total = kept + addend
    top = U64(1) << U64(63) if total < kept else U64(0)
    return ((total ^ kept ^ addend) >> U64(1)) | top


@njit(cache=True)
def _kernel(x, w, g, length, signed, masks, acc_bits, state, flips, stats, index):
    """MACs of one chunk. state = [reg x, reg w, reg p, reg acc, addend, carry, sum lo, sum hi]
    (uint64); stats = [overflows, min lo, min hi, max lo, max hi, have extremes] (uint64).
    signed: the product and accumulator are two's complement."""
    s_lo, s_hi = state[6], I64(state[7])
    sign = U64(1) << U64(63)
    for t in range(x.shape[0]):
        p_hi, p_lo = _product(x[t], w[t], signed)
        first = (length != 0 and (g + t) % length == 0) or (length == 0 and g + t == 0)
        if first:
            s_lo, s_hi = p_lo, p_hi
        else:
            s_hi, s_lo = _add(s_hi, s_lo, p_hi, p_lo)
        addend = p_lo & masks[3]  # the product, sign- or zero-extended to acc_bits
        kept = U64(0) if first else state[3]  # the adder's first input
        regs = (
            U64(x[t]) & masks[0],
            U64(w[t]) & masks[1],
            p_lo & masks[2],
            s_lo & masks[3],
            addend,
            _carries(kept, addend),
        )
        for site in range(6):
            _count(flips, site, state[site] ^ regs[site], index)
            state[site] = regs[site]
        if signed:
            fits64 = (s_hi == I64(0) and s_lo < sign) or (s_hi == I64(-1) and s_lo >= sign)
            ok = fits64 and (
                acc_bits == 64
                or (
                    I64(s_lo) >= -(I64(1) << I64(acc_bits - 1))
                    and I64(s_lo) < (I64(1) << I64(acc_bits - 1))
                )
            )
        else:
            ok = s_hi == I64(0) and (acc_bits == 64 or s_lo < (U64(1) << U64(acc_bits)))
        if not ok:
            stats[0] += U64(1)
        if stats[5] == U64(0) or _less(s_hi, s_lo, I64(stats[2]), stats[1]):
            stats[1], stats[2] = s_lo, U64(s_hi)
        if stats[5] == U64(0) or _less(I64(stats[4]), stats[3], s_hi, s_lo):
            stats[3], stats[4] = s_lo, U64(s_hi)
        stats[5] = U64(1)
    state[6], state[7] = s_lo, U64(s_hi)


def run(cfg, xs, ws, start, count, sum_before, chunk):
    """Simulate MACs [start, start + count): (flips[6, 64], overflows, min, max, sum after),
    sites as ``bitsim.sim.mac.SITES``."""
    widths = [cfg.x_bits, cfg.w_bits, cfg.product_bits, cfg.acc_bits]
    masks = np.array([(1 << b) - 1 for b in widths], dtype=np.uint64)
    state = np.zeros(8, dtype=np.uint64)
    if start > 0:  # the sites as MAC start - 1 left them
        px, pw = int(fetch(xs, start - 1, 1)[0]), int(fetch(ws, start - 1, 1)[0])
        total, p, acc_mask = int(sum_before), px * pw, int(masks[3])
        for site, v in enumerate((px, pw, p, total, p)):
            state[site] = v & int(masks[min(site, 3)])
        g = start - 1
        first = g % cfg.length == 0 if cfg.length else g == 0
        kept = 0 if first else (total - p) & acc_mask
        state[5] = _carries(U64(kept), state[4])
        state[6] = total & ((1 << 64) - 1)
        state[7] = (total >> 64) & ((1 << 64) - 1)
    flips = np.zeros((6, 64), dtype=np.uint64)
    if count == 0:
        return flips, 0, None, None, int(sum_before) if start else 0
    stats = np.zeros(6, dtype=np.uint64)
    for g in range(start, start + count, chunk):
        m = min(chunk, start + count - g)
        interrupt.check()
        _kernel(
            fetch(xs, g, m),
            fetch(ws, g, m),
            g,
            cfg.length or 0,
            cfg.acc_signed,
            masks,
            cfg.acc_bits,
            state,
            flips,
            stats,
            _DEBRUIJN_INDEX,
        )
    return (
        flips,
        int(stats[0]),
        to_int(stats[2], stats[1]),
        to_int(stats[4], stats[3]),
        to_int(state[7], state[6]),
    )


@njit(cache=True)
def _tail_chunk(x, w, g, length, signed):
    """(whether a dot product starts in MACs [g, g + len(x)), hi, lo of the sum of the products
    from the last such start to the end, or of all of them when none starts)."""
    m = x.shape[0]
    if length != 0:
        a = (length - g % length) % length  # offset of the first start in the chunk
    else:
        a = 0 if g == 0 else m
    restarted = a < m
    if restarted and length != 0:
        a += (m - 1 - a) // length * length  # the last start
    if not restarted:
        a = 0
    hi, lo = I64(0), U64(0)
    for t in range(a, m):
        p_hi, p_lo = _product(x[t], w[t], signed)
        hi, lo = _add(hi, lo, p_hi, p_lo)
    return restarted, hi, lo


def tail(cfg, xs, ws, start, count, chunk):
    """(sum of the products after the last dot-product start in MACs [start, start + count),
    whether one began); without a start, the sum of all the range's products. Exact."""
    total, restarted = 0, False
    for g in range(start, start + count, chunk):
        m = min(chunk, start + count - g)
        interrupt.check()
        r, hi, lo = _tail_chunk(
            fetch(xs, g, m), fetch(ws, g, m), g, cfg.length or 0, cfg.acc_signed
        )
        total = to_int(hi, lo) + (0 if r else total)
        restarted = restarted or bool(r)
    return total, restarted


# state words (uint64) of dot_widths_chunk: position in the current dot product, its partial
# sum, its extremes, and the extremes of every completed dot product (with a flag: any yet)
_POS, _SUM, _DMIN, _DMAX, _MIN, _MAX, _HAVE = 0, 1, 3, 5, 7, 9, 11


@njit(cache=True)
def dot_widths_chunk(x, w, length, signed, st, hist):
    """Dot products of `length` terms over one chunk of operands (a dot product may span
    chunks: its state is in st, see _POS ... _HAVE); hist[w] += 1 for each completed one whose
    partial sums all fit w bits but not w - 1 (two's complement when signed)."""
    pos = I64(st[_POS])
    s_hi, s_lo = I64(st[_SUM]), st[_SUM + 1]
    n_hi, n_lo = I64(st[_DMIN]), st[_DMIN + 1]
    x_hi, x_lo = I64(st[_DMAX]), st[_DMAX + 1]
    for t in range(x.shape[0]):
        p_hi, p_lo = _product(x[t], w[t], signed)
        if pos == 0:
            s_hi, s_lo = p_hi, p_lo
            n_hi, n_lo, x_hi, x_lo = p_hi, p_lo, p_hi, p_lo
        else:
            s_hi, s_lo = _add(s_hi, s_lo, p_hi, p_lo)
            if _less(s_hi, s_lo, n_hi, n_lo):
                n_hi, n_lo = s_hi, s_lo
            if _less(x_hi, x_lo, s_hi, s_lo):
                x_hi, x_lo = s_hi, s_lo
        pos += 1
        if pos == length:  # the dot product is complete
            if signed:
                width = max(_signed_width(n_hi, n_lo), _signed_width(x_hi, x_lo))
            else:
                width = _unsigned_width(x_hi, x_lo)
            hist[width] += U64(1)
            if st[_HAVE] == U64(0) or _less(n_hi, n_lo, I64(st[_MIN]), st[_MIN + 1]):
                st[_MIN], st[_MIN + 1] = U64(n_hi), n_lo
            if st[_HAVE] == U64(0) or _less(I64(st[_MAX]), st[_MAX + 1], x_hi, x_lo):
                st[_MAX], st[_MAX + 1] = U64(x_hi), x_lo
            st[_HAVE] = U64(1)
            pos = I64(0)
    st[_POS] = U64(pos)
    st[_SUM], st[_SUM + 1] = U64(s_hi), s_lo
    st[_DMIN], st[_DMIN + 1] = U64(n_hi), n_lo
    st[_DMAX], st[_DMAX + 1] = U64(x_hi), x_lo
