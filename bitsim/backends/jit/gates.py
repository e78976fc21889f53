"""numba backend of the gate-level toggle simulator (``bitsim._gates.run``): bit-sliced, one
uint64 word per net holds 64 consecutive vectors, gates evaluated in the program's
(topological) order. Same model as csrc/gates.h, bit for bit:

* the run simulates vectors [start - warmup, start + count) and counts the toggles of the last
  ``count``; it begins in the reset state: every source net (operands, 'first', accumulator
  state) is 0 and every other net holds what follows from that. A DFF's output is its input
  one vector earlier; in the reset state it is its input's value in a notional earlier state
  where every net but the constant 1 is 0 (so 0, except for a DFF of net 1), and at the first
  simulated vector it is its input's reset value.
* a MAC circuit's 'first' net is 1 on the first term of each dot product (prog.length terms;
  None: one endless product, whose first term is vector 0) and its accumulator state nets hold
  the previous partial sum modulo 2^64 (low bits): ``acc_before`` before the first simulated
  vector (0 when that is vector 0).
"""

import numpy as np
from numba import njit

from bitsim._core import interrupt
from bitsim.backends.jit.sampling import fetch

U64 = np.uint64
I64 = np.int64
ONES = ~U64(0)
BLOCK = 64  # vectors per word
# opcodes: bitsim.circuits.netlist.GATE_TYPES (not imported: keep this module a leaf)
_AND, _OR, _XOR, _NAND, _NOR, _XNOR, _NOT, _ANDNOT, _ORNOT, _MUX, _BUF, _DFF = range(12)


@njit(cache=True)
def _popcount(v):
    v = v - ((v >> U64(1)) & U64(0x5555555555555555))
    v = (v & U64(0x3333333333333333)) + ((v >> U64(2)) & U64(0x3333333333333333))
    v = (v + (v >> U64(4))) & U64(0x0F0F0F0F0F0F0F0F)
    return (v * U64(0x0101010101010101)) >> U64(56)


@njit(cache=True)
def _shift1(v, prev):
    """v shifted up by one vector; vector 0 takes the last vector of the previous word."""
    return (v << U64(1)) | (prev >> U64(63))


@njit(cache=True)
def _eval(op, ia, ib, ic, io, V, P, cnt, mask, count):
    """Evaluate every gate of a block into V (P: the previous block); with count, add each
    output's toggles at the vectors of mask to cnt."""
    for g in range(op.shape[0]):
        a = V[ia[g]]
        b = V[ib[g]]
        k = op[g]
        if k == _AND:
            r = a & b
        elif k == _OR:
            r = a | b
        elif k == _XOR:
            r = a ^ b
        elif k == _NAND:
            r = ~(a & b)
        elif k == _NOR:
            r = ~(a | b)
        elif k == _XNOR:
            r = ~(a ^ b)
        elif k == _NOT:
            r = ~a
        elif k == _ANDNOT:
            r = a & ~b
        elif k == _ORNOT:
            r = a | ~b
        elif k == _MUX:
            s = V[ic[g]]
            r = (a & ~s) | (b & s)
        elif k == _DFF:
            r = _shift1(a, P[ia[g]])
        else:  # BUF
            r = a
        o = io[g]
        if count:
            cnt[o] += _popcount((r ^ _shift1(r, P[o])) & mask)
        V[o] = r


@njit(cache=True)
def _reset(op, ia, ib, ic, io, V, P, cnt):
    """The reset state into P (every vector) and V."""
    V[:] = U64(0)
    P[:] = U64(0)
    V[1] = ONES
    P[1] = ONES
    _eval(op, ia, ib, ic, io, V, P, cnt, U64(0), False)
    for net in range(V.shape[0]):
        P[net] = ONES if (V[net] & U64(1)) != U64(0) else U64(0)
    V[:] = P


@njit(cache=True)
def _pack(values, n, bits, nets, V):
    """Bit j of values[t] (t < n) as bit t of V[nets[j]], j < bits; the other bits 0."""
    for j in range(bits):
        word = U64(0)
        for t in range(n):
            word |= ((U64(values[t]) >> U64(j)) & U64(1)) << U64(t)
        V[nets[j]] = word


@njit(cache=True)
def _count_bus(nets, V, P, cnt, mask):
    for j in range(nets.shape[0]):
        v = V[nets[j]]
        cnt[nets[j]] += _popcount((v ^ _shift1(v, P[nets[j]])) & mask)


@njit(cache=True)
def _chunk(
    op,
    ia,
    ib,
    ic,
    io,
    x_nets,
    w_nets,
    acc_nets,
    first_net,
    length,
    x,
    w,
    g,
    off,
    warmup,
    V,
    P,
    cnt,
    acc_state,
    first,
    acc,
):
    """Vectors g .. g + len(x) - 1, the first of them `off` vectors after the run's first
    vector (the first `warmup` of the run are not counted). acc_state[0]: the partial sum
    modulo 2^64 before vector g; first, acc: scratch of BLOCK words."""
    m = x.shape[0]
    mac = first_net >= 0 or acc_nets.shape[0] > 0
    s = acc_state[0]
    for b0 in range(0, m, BLOCK):
        n = min(BLOCK, m - b0)
        xb, wb = x[b0 : b0 + n], w[b0 : b0 + n]
        _pack(xb, n, x_nets.shape[0], x_nets, V)
        _pack(wb, n, w_nets.shape[0], w_nets, V)
        if mac:
            for t in range(n):
                i = g + b0 + t
                starts = i % length == 0 if length != 0 else i == 0
                p = U64(xb[t]) * U64(wb[t])
                first[t] = U64(1) if starts else U64(0)
                acc[t] = s
                s = p if starts else s + p
            if first_net >= 0:
                word = U64(0)
                for t in range(n):
                    word |= first[t] << U64(t)
                V[first_net] = word
            _pack(acc, n, acc_nets.shape[0], acc_nets, V)
        # count only vectors >= warmup (of the run) and < n (of the block)
        lo = off + b0
        mask = ONES if n == BLOCK else (U64(1) << U64(n)) - U64(1)
        if lo < warmup:
            mask = U64(0) if warmup >= lo + BLOCK else mask & (ONES << U64(warmup - lo))
        _count_bus(x_nets, V, P, cnt, mask)
        _count_bus(w_nets, V, P, cnt, mask)
        _count_bus(acc_nets, V, P, cnt, mask)
        if first_net >= 0:
            cnt[first_net] += _popcount((V[first_net] ^ _shift1(V[first_net], P[first_net])) & mask)
        _eval(op, ia, ib, ic, io, V, P, cnt, mask, mask != U64(0))
        P[:] = V  # this block becomes the previous one
    acc_state[0] = s


def run(prog, xs, ws, start, warmup, count, acc_before, chunk):
    """Toggles of every net over vectors [start, start + count) (uint64[prog.nets]).

    The simulation begins in the reset state at vector start - warmup (warmup <= start); the
    warm-up vectors are simulated, not counted. acc_before: the partial sum (any integer; taken
    modulo 2^64) the accumulator state nets hold at vector start - warmup, ignored when that is
    vector 0. Operands are fetched `chunk` vectors at a time (rounded to whole words)."""
    if not 0 <= warmup <= start:
        raise ValueError(f"warmup: expected an integer in [0, start = {start}], found {warmup}")
    cnt = np.zeros(prog.nets, dtype=np.uint64)
    if count == 0:
        return cnt
    first_vector, total = start - warmup, warmup + count
    acc_state = np.array(
        [0 if first_vector == 0 else int(acc_before) & ((1 << 64) - 1)], dtype=np.uint64
    )
    code = (prog.op, prog.a, prog.b, prog.c, prog.out)
    V, P = np.zeros(prog.nets, dtype=np.uint64), np.zeros(prog.nets, dtype=np.uint64)
    _reset(*code, V, P, cnt)
    first, acc = np.zeros(BLOCK, dtype=np.uint64), np.zeros(BLOCK, dtype=np.uint64)
    step = max(BLOCK, chunk // BLOCK * BLOCK)  # only the run's last block may be partial
    for off in range(0, total, step):
        m = min(step, total - off)
        interrupt.check()
        g = first_vector + off
        _chunk(
            *code,
            prog.x_nets,
            prog.w_nets,
            prog.acc_nets,
            prog.first_net,
            prog.length or 0,
            fetch(xs, g, m),
            fetch(ws, g, m),
            g,
            off,
            warmup,
            V,
            P,
            cnt,
            acc_state,
            first,
            acc,
        )
    return cnt
