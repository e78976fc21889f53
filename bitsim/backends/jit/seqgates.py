"""numba backend of the sequential netlist simulator (``bitsim._seqgates.run``): 64 stretches
of the cycles side by side, one per bit of a uint64 word per net, each starting from the end
state of the stretch before it (passes repeat until every start state is exact; see
``bitsim.sim.sequential``). Same model as csrc/seqgates.h, bit for bit."""

import numpy as np
from numba import njit

from bitsim._core import interrupt
from bitsim.backends.jit.gates import _eval, _popcount
from bitsim.backends.jit.sampling import fetch
from bitsim.backends.reference.seqgates import clear_values

U64 = np.uint64
ONES = ~U64(0)
LANES = 64


@njit(cache=True)
def _cycles(op, ia, ib, ic, io, dq, dd, nets_of, vals, lane_len, t0, count_first, P, V, cnt):
    """Cycles t0 .. t0 + vals.shape[2] - 1 of every lane. nets_of[k, j]: net of bit j of source
    k (-1: none); vals[k, lane, t]: its values; P: the nets at the cycle before (updated)."""
    lanes, m = vals.shape[1], vals.shape[2]
    for t in range(m):
        V[:] = U64(0)
        V[1] = ONES
        for k in range(nets_of.shape[0]):
            for j in range(nets_of.shape[1]):
                net = nets_of[k, j]
                if net < 0:
                    continue
                word = U64(0)
                for lane in range(lanes):
                    word |= ((U64(vals[k, lane, t]) >> U64(j)) & U64(1)) << U64(lane)
                V[net] = word
        for i in range(dq.shape[0]):
            V[dq[i]] = P[dd[i]]
        _eval(op, ia, ib, ic, io, V, P, cnt, U64(0), False)
        mask = U64(0)
        for lane in range(lanes):
            if t0 + t < lane_len[lane] and (count_first or lane > 0 or t0 + t > 0):
                mask |= U64(1) << U64(lane)
        for net in range(V.shape[0]):
            cnt[net] += _popcount((V[net] ^ P[net]) & mask)
        P[:] = V


def _sources(prog, streams):
    """nets_of[k, j] (int32, -1 padded) of the driven ports and the clear port."""
    buses = [list(nets) for nets in prog.port_nets]
    if prog.clear_net >= 0:
        buses.append([prog.clear_net])
    nets_of = -np.ones((len(buses), max([1] + [len(b) for b in buses])), dtype=np.int32)
    for k, bus in enumerate(buses):
        nets_of[k, : len(bus)] = bus
    return nets_of


def _values(prog, streams, starts, lane_len, t0, m):
    """vals[k, lane, t]: source k's value in cycle t0 + t of each lane (0 past its end)."""
    k_all = len(streams) + (prog.clear_net >= 0)
    vals = np.zeros((k_all, len(starts), m), dtype=np.int64)
    for lane, (s, ln) in enumerate(zip(starts, lane_len)):
        c = max(0, min(m, ln - t0))
        if c == 0:
            continue
        for k, st in enumerate(streams):
            vals[k, lane, :c] = fetch(st, s + t0, c)
        if prog.clear_net >= 0:
            vals[-1, lane, :c] = clear_values(prog, s + t0, c)
    return vals


def _settle_reset(prog):
    V, P = np.zeros(prog.nets, dtype=U64), np.zeros(prog.nets, dtype=U64)
    V[1] = P[1] = ONES
    cnt = np.zeros(prog.nets, dtype=U64)
    _eval(prog.op, prog.a, prog.b, prog.c, prog.out, V, P, cnt, U64(0), False)
    return V


def run(prog, streams, n, count_first, chunk):
    """Toggles of every net over cycles [0, n) (uint64[prog.nets]); count_first: count the
    change from the reset state into cycle 0; port values are fetched max(64, chunk / 64)
    cycles per stretch at a time."""
    cnt = np.zeros(prog.nets, dtype=U64)
    if n == 0:
        return cnt
    stretch = -(-n // LANES)
    used = -(-n // stretch)
    starts = [lane * stretch for lane in range(LANES)]
    lane_len = np.array([max(0, min(stretch, n - s)) for s in starts], dtype=np.int64)
    reset = _settle_reset(prog)
    start = reset.copy()  # first guess: every stretch starts from the reset state
    used_mask = ONES if used == LANES else (U64(1) << U64(used)) - U64(1)
    nets_of = _sources(prog, streams)
    code = (prog.op, prog.a, prog.b, prog.c, prog.out, prog.dff_q, prog.dff_d)
    step = max(64, chunk // LANES)  # cycles per stretch per block (as the C kernel)
    V = np.zeros(prog.nets, dtype=U64)
    for _ in range(used + 1):  # pass k makes stretch k - 1 exact: used + 1 passes suffice
        cnt[:] = 0
        P = start.copy()
        for t0 in range(0, stretch, step):
            interrupt.check()
            m = min(step, stretch - t0)
            vals = _values(prog, streams, starts, lane_len, t0, m)
            _cycles(*code, nets_of, vals, lane_len, t0, count_first, P, V, cnt)
        # stretch l + 1 starts where stretch l ended; stretch 0 from the reset state
        following = (P << U64(1)) | (reset & U64(1))
        if not np.any((following ^ start) & used_mask):
            return cnt
        start = following
    raise AssertionError("sequential kernel: the stretches' start states did not converge")


@njit(cache=True)
def _trace(op, ia, ib, ic, io, dq, dd, nets_of, vals, V, out):
    """out[t + 1, net] = the net's value (0 or 1) in cycle t of vals[k, t] (source k's bits);
    V: every net (words of equal lanes) in the cycle before, updated."""
    P = V.copy()
    cnt = np.zeros(V.shape[0], dtype=U64)
    for t in range(vals.shape[1]):
        P[:] = V
        V[:] = U64(0)
        V[1] = ONES
        for k in range(nets_of.shape[0]):
            for j in range(nets_of.shape[1]):
                net = nets_of[k, j]
                if net >= 0 and (vals[k, t] >> U64(j)) & U64(1):
                    V[net] = ONES
        for i in range(dq.shape[0]):
            V[dq[i]] = P[dd[i]]
        _eval(op, ia, ib, ic, io, V, P, cnt, U64(0), False)
        for i in range(V.shape[0]):
            out[t + 1, i] = V[i] & U64(1)


def trace(prog, streams, n, start=0, before=None):
    """``bitsim.backends.reference.seqgates.trace`` (the oracle), compiled: every net's value
    in cycle start - 1 (``before``; None: the reset state) and in cycles [start, start + n),
    bool[n + 1, nets]."""
    V = _settle_reset(prog) if before is None else np.where(before, ONES, U64(0))
    nets_of = _sources(prog, streams)
    vals = np.zeros((nets_of.shape[0], n), dtype=U64)
    for k, st in enumerate(streams):
        vals[k] = fetch(st, start, n).astype(U64)
    if prog.clear_net >= 0:
        vals[-1] = clear_values(prog, start, n).astype(U64)
    out = np.zeros((n + 1, prog.nets), dtype=np.uint8)
    out[0] = V & U64(1)
    code = (prog.op, prog.a, prog.b, prog.c, prog.out, prog.dff_q, prog.dff_d)
    _trace(*code, nets_of, vals, V, out)
    return out.astype(bool)
