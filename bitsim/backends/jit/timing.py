"""numba glitch-aware timing simulation: bit-sliced, one uint64 word holds 64 vectors, time
stepped over the levelized event windows. Same model as ``bitsim.backends.reference.timing``
(the oracle), bit for bit, in an equivalent closed form: with g(s) a gate's function of the
nets at time s (s < 0: the previous vector's settled values), r and f its rise and fall delays
and d(v) = r if v else f,

* zero delay (r = f = 0, inside a library cell): out(t) = g(t), gates in level order;
* inertial: out(t) = v = g(t - 1) where g held v over [t - d(v), t - 1], else out(t - 1);
* transport: out(t) = g(t - k) for the smallest k >= 1 with d(g(t - k)) <= k.

A gate's output can change only at t in [earliest, latest] (its window: the earliest and latest
times its inputs can change, plus min(r, f) and max(r, f)), so only those gates are evaluated
at t (``active``).
"""

import numpy as np
from numba import njit

from bitsim.backends.jit.gates import _popcount

U64 = np.uint64
ONES = ~U64(0)
_AND, _OR, _XOR, _NAND, _NOR, _XNOR, _NOT, _ANDNOT, _ORNOT, _MUX, _BUF = range(11)


@njit(cache=True, inline="always")
def _eval(op, a, b, c):
    if op == _AND:
        return a & b
    if op == _OR:
        return a | b
    if op == _XOR:
        return a ^ b
    if op == _NAND:
        return ~(a & b)
    if op == _NOR:
        return ~(a | b)
    if op == _XNOR:
        return ~(a ^ b)
    if op == _NOT:
        return ~a
    if op == _ANDNOT:
        return a & ~b
    if op == _ORNOT:
        return a | ~b
    if op == _MUX:
        return (a & ~c) | (b & c)
    return a


@njit(cache=True, inline="always")
def _at(op, ga, gb, gc, val, row, i):
    """Gate i's function of the nets at ``row`` (row 0: the previous settled state)."""
    row = max(row, 0)
    return _eval(op[i], val[row, ga[i]], val[row, gb[i]], val[row, gc[i]])


@njit(cache=True, nogil=True)
def run(
    op, ga, gb, gc, gout, rise_d, fall_d, active, active_at, nets, inputs, horizon, inertial,
    prev_words, cur_words,
):  # fmt: skip
    """(rise, fall, settled_rise, settled_fall, settle histogram) of the vectors packed in
    prev_words / cur_words (input net j's values at the vector before and at each vector, 64
    vectors a word; padding lanes equal in both). active[active_at[t]:active_at[t + 1]]: the
    gates whose output can change at step t, in level order; settle[t]: vectors whose last
    change was at step t (padding lanes counted at 0)."""
    words = cur_words.shape[1]
    rise = np.zeros(nets, dtype=np.uint64)
    fall = np.zeros(nets, dtype=np.uint64)
    srise = np.zeros(nets, dtype=np.uint64)
    sfall = np.zeros(nets, dtype=np.uint64)
    hist = np.zeros(horizon + 1, dtype=np.int64)
    rows = horizon + 2  # row 0: previous settled state; row t + 1: time t
    val = np.zeros((rows, nets), dtype=np.uint64)
    anyc = np.zeros(rows, dtype=np.uint64)
    for w in range(words):
        val[0, :] = U64(0)
        val[0, 1] = ONES
        for j in range(len(inputs)):
            val[0, inputs[j]] = prev_words[j, w]
        for i in range(len(op)):
            val[0, gout[i]] = _at(op, ga, gb, gc, val, 0, i)
        anyc[:] = U64(0)
        for t in range(horizon + 1):
            r = t + 1
            val[r, :] = val[r - 1, :]
            if t == 0:
                for j in range(len(inputs)):
                    n = inputs[j]
                    v = cur_words[j, w]
                    val[1, n] = v
                    ch = v ^ val[0, n]
                    rise[n] += _popcount(ch & v)
                    fall[n] += _popcount(ch & ~v)
                    anyc[1] |= ch
            for q in range(active_at[t], active_at[t + 1]):
                i = active[q]
                dr, df = rise_d[i], fall_d[i]
                n = gout[i]
                if dr == 0:
                    g = _at(op, ga, gb, gc, val, r, i)
                elif inertial:
                    v = _at(op, ga, gb, gc, val, r - 1, i)
                    held1 = ONES  # g = v over [t - r, t - 1]
                    held0 = ONES  # over [t - f, t - 1]
                    for k in range(2, max(dr, df) + 1):
                        same = ~(v ^ _at(op, ga, gb, gc, val, r - k, i))
                        if k <= dr:
                            held1 &= same
                        if k <= df:
                            held0 &= same
                    ok = (v & held1) | (~v & held0)
                    g = (v & ok) | (val[r - 1, n] & ~ok)
                else:
                    dmax, dmin = max(dr, df), min(dr, df)
                    g = _at(op, ga, gb, gc, val, r - dmax, i)
                    for k in range(dmax - 1, dmin - 1, -1):
                        gk = _at(op, ga, gb, gc, val, r - k, i)
                        ok = (gk if dr <= k else U64(0)) | (~gk if df <= k else U64(0))
                        g = (gk & ok) | (g & ~ok)
                val[r, n] = g
                ch = g ^ val[r - 1, n]
                if ch:
                    rise[n] += _popcount(ch & g)
                    fall[n] += _popcount(ch & ~g)
                    anyc[r] |= ch
        for n in range(nets):
            ch = val[rows - 1, n] ^ val[0, n]
            srise[n] += _popcount(ch & val[rows - 1, n])
            sfall[n] += _popcount(ch & ~val[rows - 1, n])
        seen = U64(0)
        for r in range(rows - 1, 0, -1):
            new = anyc[r] & ~seen
            hist[r - 1] += _popcount(new)
            seen |= new
        hist[0] += 64 - _popcount(seen)
    return rise, fall, srise, sfall, hist


def simulate(tp, xv, wv):
    """(rise, fall, settled_rise, settled_fall, settle) of vectors 1 .. len(xv) - 1 of the
    operand bit patterns xv, wv (uint64; element 0: the vector before) for a
    ``bitsim.backends.timing_plan.TimingProgram``."""
    prog = tp.prog
    xb, wb = len(prog.x_nets), len(prog.w_nets)
    pad = -(len(xv) - 1) % 64  # padding lanes repeat the last vector: no change
    xp = np.concatenate([xv, xv[-1:].repeat(pad)])
    wp = np.concatenate([wv, wv[-1:].repeat(pad)])
    prev = np.concatenate([_pack(xp[:-1], xb), _pack(wp[:-1], wb)])
    cur = np.concatenate([_pack(xp[1:], xb), _pack(wp[1:], wb)])
    active, active_at = tp.active
    r, f, sr, sf, hist = run(
        prog.op, prog.a, prog.b, prog.c, prog.out, tp.rise, tp.fall, active, active_at,
        prog.nets, tp.inputs, tp.horizon, tp.inertial, prev, cur,
    )  # fmt: skip
    hist[0] -= pad
    return r, f, sr, sf, hist


def _pack(values: np.ndarray, bits: int) -> np.ndarray:
    """Bit j of every value, 64 values a uint64 word (LSB: the first): shape (bits, words); the
    values' count must be a multiple of 64."""
    planes = ((values[None, :] >> np.arange(bits, dtype=np.uint64)[:, None]) & U64(1)).astype(
        np.uint8
    )
    return np.packbits(planes, axis=1, bitorder="little").view("<u8").reshape(bits, -1)
