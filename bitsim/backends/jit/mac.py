"""numba backend of the MAC bit-flip simulator: one scalar loop per MAC, 128-bit exact sums
kept as (hi: int64, lo: uint64) pairs. Same model and interface as ``bitsim._mac.run``.

numba turns mixed int64/uint64 arithmetic into float64, so every constant and operand below is
cast to the type it must have.
"""

import numpy as np
from numba import njit

from bitsim._core.rng import GOLDEN

U64 = np.uint64
I64 = np.int64
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
def _mix64(z):
    z = (z ^ (z >> U64(30))) * U64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> U64(27))) * U64(0x94D049BB133111EB)
    return z ^ (z >> U64(31))


@njit(cache=True)
def _sample(key, start, n, bits, is_signed, log2, keep, alias, values, use_table):
    out = np.empty(n, dtype=np.int64)
    shift = U64(64 - bits)
    for i in range(n):
        u = _mix64(U64(key) + (U64(start) + U64(i) + U64(1)) * U64(GOLDEN))
        if use_table:
            slot = (u >> U64(1)) >> U64(63 - log2)
            own = (u << U64(log2)) < keep[slot]
            out[i] = values[slot] if own else values[alias[slot]]
        elif is_signed:
            out[i] = I64(u) >> I64(shift)  # arithmetic shift of the reinterpreted bits
        else:
            out[i] = I64(u >> shift)
    return out


def _fetch(stream, start, n):
    if stream.array is not None:
        return stream.array[start : start + n].astype(np.int64)
    t = stream.table
    empty_u64, empty_i64 = np.zeros(1, np.uint64), np.zeros(1, np.int64)
    return _sample(
        np.uint64(stream.key),
        start,
        n,
        stream.fmt.bits,
        stream.fmt.signed,
        0 if t is None else t.log2,
        empty_u64 if t is None else t.keep,
        np.zeros(1, np.uint32) if t is None else t.alias,
        empty_i64 if t is None else t.values,
        t is not None,
    )


@njit(cache=True)
def _count(flips, site, d, index):
    while d != U64(0):
        low = d & (~d + U64(1))
        flips[site, index[(low * _DEBRUIJN) >> U64(58)]] += U64(1)
        d ^= low


@njit(cache=True)
def _less(ahi, alo, bhi, blo):
    return ahi < bhi or (ahi == bhi and alo < blo)


@njit(cache=True)
def _kernel(x, w, g, length, signed, masks, acc_bits, state, flips, stats, index):
    """MACs of one chunk. state = [reg x, reg w, reg p, reg acc, sum lo, sum hi] (uint64);
    stats = [overflows, min lo, min hi, max lo, max hi, have extremes] (uint64). signed: the
    product and accumulator are two's complement."""
    s_lo, s_hi = state[4], I64(state[5])
    sign = U64(1) << U64(63)
    for t in range(x.shape[0]):
        p_lo = U64(x[t]) * U64(w[t])  # low 64 bits of the exact product
        p_hi = I64(-1) if signed and (p_lo & sign) != U64(0) else I64(0)
        if (length != 0 and (g + t) % length == 0) or (length == 0 and g + t == 0):
            s_lo, s_hi = p_lo, p_hi
        else:
            lo = s_lo + p_lo
            s_hi = s_hi + p_hi + (I64(1) if lo < s_lo else I64(0))
            s_lo = lo
        regs = (U64(x[t]) & masks[0], U64(w[t]) & masks[1], p_lo & masks[2], s_lo & masks[3])
        for site in range(4):
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
    state[4], state[5] = s_lo, U64(s_hi)


def _to_int(lo, hi) -> int:
    return (int(np.int64(np.uint64(hi).view(np.int64))) << 64) + int(lo)


def run(cfg, xs, ws, start, count, sum_before, chunk):
    """Simulate MACs [start, start + count): (flips[4, 64], overflows, min, max, sum after)."""
    widths = [cfg.x_bits, cfg.w_bits, cfg.product_bits, cfg.acc_bits]
    masks = np.array([(1 << b) - 1 for b in widths], dtype=np.uint64)
    state = np.zeros(6, dtype=np.uint64)
    if start > 0:
        px, pw = int(_fetch(xs, start - 1, 1)[0]), int(_fetch(ws, start - 1, 1)[0])
        for site, v in enumerate((px, pw, px * pw, int(sum_before))):
            state[site] = v & int(masks[site])
        state[4] = int(sum_before) & ((1 << 64) - 1)
        state[5] = (int(sum_before) >> 64) & ((1 << 64) - 1)
    flips = np.zeros((4, 64), dtype=np.uint64)
    if count == 0:
        return flips, 0, None, None, int(sum_before) if start else 0
    stats = np.zeros(6, dtype=np.uint64)
    for g in range(start, start + count, chunk):
        m = min(chunk, start + count - g)
        _kernel(
            _fetch(xs, g, m),
            _fetch(ws, g, m),
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
        _to_int(stats[1], stats[2]),
        _to_int(stats[3], stats[4]),
        _to_int(state[4], state[5]),
    )
