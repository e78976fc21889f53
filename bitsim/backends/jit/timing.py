"""numba glitch-aware timing simulation: bit-sliced, one uint64 word holds 64 vectors, time
stepped over the levelized event windows. Same model as ``bitsim.backends.reference.timing``
(the oracle), bit for bit, in an equivalent closed form: with g(s) a gate's function of the
nets at time s (s < 0: the previous vector's settled values) and d its delay,

* transport: out(t) = g(t - d);
* inertial: out(t) = g(t - d) where g(t - d) = g(t - d + 1) = ... = g(t - 1) (the event
  scheduled at t - d was not cancelled), else out(t - 1).

A gate's output can change only at t in [earliest, latest] (its window: the earliest and latest
times its inputs can change, plus d), so only those gates are evaluated at t.
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


@njit(cache=True)
def _word(v, first, m, bit):
    """Bit ``bit`` of values v[first .. first + 63] as one word; lanes past m repeat v[m]."""
    word = U64(0)
    for i in range(64):
        j = min(first + i, m)
        word |= ((v[j] >> U64(bit)) & U64(1)) << U64(i)
    return word


@njit(cache=True)
def run(op, ga, gb, gc, gout, delay, early, late, nets, x_nets, w_nets, horizon, inertial, xv, wv):
    """(rise, fall, settled_rise, settled_fall, settle histogram) of vectors 1..m of xv, wv
    (element 0: the vector before the first counted one); settle[t]: vectors whose last change
    was at time step t (padding lanes counted at 0)."""
    m = len(xv) - 1
    rise = np.zeros(nets, dtype=np.uint64)
    fall = np.zeros(nets, dtype=np.uint64)
    srise = np.zeros(nets, dtype=np.uint64)
    sfall = np.zeros(nets, dtype=np.uint64)
    hist = np.zeros(horizon + 1, dtype=np.int64)
    rows = horizon + 2  # row 0: previous settled state; row t + 1: time t
    val = np.zeros((rows, nets), dtype=np.uint64)
    anyc = np.zeros(rows, dtype=np.uint64)
    G = len(op)
    for first in range(0, m, 64):
        val[0, :] = U64(0)
        val[0, 1] = ONES
        for j in range(len(x_nets)):
            val[0, x_nets[j]] = _word(xv, first, m, j)
        for j in range(len(w_nets)):
            val[0, w_nets[j]] = _word(wv, first, m, j)
        for i in range(G):
            val[0, gout[i]] = _eval(op[i], val[0, ga[i]], val[0, gb[i]], val[0, gc[i]])
        anyc[:] = U64(0)
        for t in range(horizon + 1):
            r = t + 1
            val[r, :] = val[r - 1, :]
            if t == 0:
                for j in range(len(x_nets)):
                    val[1, x_nets[j]] = _word(xv, first + 1, m, j)
                for j in range(len(w_nets)):
                    val[1, w_nets[j]] = _word(wv, first + 1, m, j)
                for k in range(2):
                    ins = x_nets if k == 0 else w_nets
                    for j in range(len(ins)):
                        n = ins[j]
                        ch = val[1, n] ^ val[0, n]
                        rise[n] += _popcount(ch & val[1, n])
                        fall[n] += _popcount(ch & ~val[1, n])
                        anyc[1] |= ch
            for i in range(G):
                if t < early[i] or t > late[i]:
                    continue
                d = delay[i]
                s = max(r - d, 0)
                g = _eval(op[i], val[s, ga[i]], val[s, gb[i]], val[s, gc[i]])
                n = gout[i]
                if inertial:
                    same = ONES
                    for k in range(1, d):
                        q = max(r - d + k, 0)
                        same &= ~(g ^ _eval(op[i], val[q, ga[i]], val[q, gb[i]], val[q, gc[i]]))
                    g = (val[r - 1, n] & ~same) | (g & same)
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
