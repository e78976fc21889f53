"""Reference gate-level toggle counts: numpy boolean arrays, one element per vector."""

import numpy as np

from bitsim.backends.reference.sampling import fetch
from bitsim.circuits.netlist import GATE_TYPES

_OPS = {
    "AND": lambda a, b, s: a & b,
    "OR": lambda a, b, s: a | b,
    "XOR": lambda a, b, s: a ^ b,
    "NAND": lambda a, b, s: ~(a & b),
    "NOR": lambda a, b, s: ~(a | b),
    "XNOR": lambda a, b, s: ~(a ^ b),
    "NOT": lambda a, b, s: ~a,
    "ANDNOT": lambda a, b, s: a & ~b,
    "ORNOT": lambda a, b, s: a | ~b,
    "MUX": lambda a, b, s: (a & ~s) | (b & s),  # bitwise: bool arrays and packed words
    "BUF": lambda a, b, s: a,
}


def _bits(values, nets, V):
    u = values.astype(np.uint64)
    for j, net in enumerate(nets):
        V[net] = ((u >> np.uint64(min(j, 63))) & np.uint64(1)).astype(bool)


def evaluate(prog, x, w, first, acc, before=None):
    """Values of every net (bool arrays) for operand values x, w, first flags and accumulator
    states acc (uint64), vector by vector. A DFF's output is its input one vector earlier; at
    the first vector, its input's value in ``before`` (the nets' values at the vector before,
    indexed by net; None: a state where every net but the constant 1 is 0)."""
    m = len(x)
    if before is None:
        before = np.zeros(prog.nets, dtype=bool)
        before[1] = True
    V = [np.zeros(m, dtype=bool) for _ in range(prog.nets)]
    V[1] = np.ones(m, dtype=bool)
    _bits(x, prog.x_nets, V)
    _bits(w, prog.w_nets, V)
    _bits(acc, prog.acc_nets, V)
    if prog.first_net >= 0:
        V[prog.first_net] = first.astype(bool)
    for op, a, b, c, out in zip(prog.op, prog.a, prog.b, prog.c, prog.out):
        name = GATE_TYPES[op]
        if name == "DFF":
            V[out] = np.concatenate([[before[a]], V[a][:-1]])
        else:
            V[out] = _OPS[name](V[a], V[b], V[c])
    return V


def evaluate_words(prog, x, w, first, acc, before):
    """``evaluate`` on packed words: every net's values as uint64 words, vector i in bit
    i % 64 of word i // 64 (bits past the last vector are undefined). ``before``: the nets'
    values at the vector before the first (bool[nets])."""
    m = len(x)
    words = (m + 63) // 64
    src: dict = {}
    _bits(x, prog.x_nets, src)
    _bits(w, prog.w_nets, src)
    _bits(acc, prog.acc_nets, src)
    W = [np.zeros(words, dtype=np.uint64) for _ in range(prog.nets)]
    W[1] = ~W[1]
    for nets in (prog.x_nets, prog.w_nets, prog.acc_nets):
        for net in nets:
            W[net] = pack(src[net])
    if prog.first_net >= 0:
        W[prog.first_net] = pack(first.astype(bool))
    for op, a, b, c, out in zip(prog.op, prog.a, prog.b, prog.c, prog.out):
        name = GATE_TYPES[op]
        W[out] = shift(W[a], before[a]) if name == "DFF" else _OPS[name](W[a], W[b], W[c])
    return W


def pack(bits: np.ndarray) -> np.ndarray:
    """bool[m] -> uint64[ceil(m / 64)], element i in bit i % 64 of word i // 64."""
    b = np.packbits(bits, bitorder="little")
    b = np.concatenate([b, np.zeros(-len(b) % 8, dtype=np.uint8)])
    return b.view("<u8").astype(np.uint64)


def shift(words: np.ndarray, first) -> np.ndarray:
    """Packed values one vector later: element i becomes element i - 1, element 0 ``first``."""
    one = np.uint64(1)
    carry = np.concatenate(
        [np.array([int(bool(first))], dtype=np.uint64), words[:-1] >> np.uint64(63)]
    )
    return (words << one) | carry


def sources(prog, xs, ws, n, start=0, acc_before=0):
    """Operand values, first flags and accumulator states of vectors [start, start + n);
    acc_before: the accumulator state at vector ``start`` (the partial sum S_{start-1})."""
    x, w = fetch(xs, start, n), fetch(ws, start, n)
    idx = np.arange(start, start + n, dtype=np.int64)
    first = idx % prog.length == 0 if prog.length else idx == 0
    p = x.astype(np.uint64) * w.astype(np.uint64)
    cs = np.cumsum(p, dtype=np.uint64)  # wraps modulo 2^64, as the register does
    before = np.concatenate([np.zeros(1, dtype=np.uint64), cs[:-1]])
    pos = np.arange(n, dtype=np.int64)
    last = np.maximum.accumulate(np.where(first, pos, 0))
    restarted = np.maximum.accumulate(first) if n else first
    carried = np.uint64(acc_before % 2**64) + cs  # no restart yet in the window
    after = np.where(restarted, cs - before[last], carried)  # partial sums S_t modulo 2^64
    acc = np.concatenate([np.array([acc_before % 2**64], dtype=np.uint64), after[:-1]])
    return x, w, first, acc


def reset_state(prog):
    """Values of every net (bool[nets]) before the first vector: sources 0, DFF outputs their
    input's value in a state where every net but the constant 1 is 0, the rest what follows."""
    zeros = (np.zeros(1, dtype=t) for t in (np.int64, np.int64, bool, np.uint64))
    return np.array([v[0] for v in evaluate(prog, *zeros)], dtype=bool)


def run(prog, xs, ws, start, warmup, count, acc_before, chunk):
    """Toggles of every net over vectors [start, start + count) (uint64[nets]), the signature
    of ``bitsim._gates.run``. Vectors [0, start + count) are evaluated exactly from the reset
    state, so warmup, acc_before and chunk are not needed (and ignored)."""
    out = np.zeros(prog.nets, dtype=np.uint64)
    if count == 0:
        return out
    reset = reset_state(prog)
    x, w, first, acc = sources(prog, xs, ws, start + count)
    V = evaluate(prog, x, w, first, acc, before=reset)
    for net in range(prog.nets):
        seq = np.concatenate([[reset[net]], V[net]])
        out[net] = np.count_nonzero(seq[start + 1 :] != seq[start:-1])
    return out


def toggles(prog, xs, ws, n):
    """Toggles of every net over vectors [0, n) (uint64[nets])."""
    return run(prog, xs, ws, 0, 0, n, 0, None)
