"""Reference cycle-by-cycle simulation of sequential netlists (``bitsim.sim.sequential``):
numpy boolean arrays, one element per net, the cycles one after the other."""

import numpy as np

from bitsim._core import interrupt
from bitsim.backends.reference.gates import _OPS
from bitsim.backends.reference.sampling import fetch
from bitsim.circuits.netlist import GATE_TYPES


def _settle(prog, V):
    for op, a, b, c, out in zip(prog.op, prog.a, prog.b, prog.c, prog.out):
        V[out] = _OPS[GATE_TYPES[op]](V[a], V[b], V[c])


def clear_values(prog, start, n):
    """The clear port's values in cycles [start, start + n) (int64)."""
    t = np.arange(start, start + n, dtype=np.int64) - prog.clear_phase
    return ((t >= 0) & (t % max(prog.clear_period, 1) == 0)).astype(np.int64)


def trace(prog, streams, n, start=0, before=None):
    """Values of every net in the cycle before ``start`` and in cycles [start, start + n):
    bool[n + 1, nets]. before: the nets' values in cycle start - 1 (None: the reset state,
    for start 0)."""
    out = np.zeros((n + 1, prog.nets), dtype=bool)
    V = out[0]
    if before is None:
        V[1] = True
        _settle(prog, V)
    else:
        V[:] = before
    sources = [
        (nets, fetch(s, start, n).astype(np.uint64)) for nets, s in zip(prog.port_nets, streams)
    ]
    if prog.clear_net >= 0:
        sources.append((np.array([prog.clear_net]), clear_values(prog, start, n).astype(np.uint64)))
    for t in range(n):
        if t % 4096 == 0:
            interrupt.check()
        prev, V = out[t], out[t + 1]
        V[1] = True
        for nets, values in sources:
            for j, net in enumerate(nets):
                V[net] = bool((int(values[t]) >> j) & 1)
        V[prog.dff_q] = prev[prog.dff_d]
        _settle(prog, V)
    return out


def run(prog, streams, n, count_first, chunk=None):
    """Toggles of every net over cycles [0, n) (uint64[nets]); count_first: count the change
    from the reset state into cycle 0 (chunk: unused, the signature of the other backends)."""
    values = trace(prog, streams, n)
    changes = values[1:] != values[:-1]
    if not count_first and n:
        changes[0] = False
    return changes.sum(axis=0).astype(np.uint64)
