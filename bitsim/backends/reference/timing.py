"""Reference glitch-aware timing simulation: an event queue per gate, numpy boolean arrays with
one element per vector (all vectors at once). The oracle of ``bitsim.backends.jit.timing``.

Model (``bitsim.sim.timing`` documents it): every vector's inputs change at t = 0 from the
previous vector's values (all 0 before the first), every net starting from its settled
(zero-delay) value. In each time step t, first the output events scheduled for t fire, then
every gate's function g is evaluated in level order on the nets' values at t: a zero-delay gate
(rise = fall = 0) sets its output at once; for the others, where g differs from its value at
t - 1, an event "output := g" is scheduled at t + d, d the rise delay where g = 1, the fall
delay where g = 0. Inertial: scheduling an event cancels the gate's pending ones. Transport:
scheduling an event deletes the gate's pending events at or after its time. An event that sets
the value the output already has is no change. Every change of every net is counted, rising
and falling separately.
"""

import numpy as np

from bitsim.backends.reference.gates import _OPS
from bitsim.circuits.netlist import GATE_TYPES


def _inputs(values, nets, val):
    u = values.astype(np.uint64)
    for j, net in enumerate(nets):
        val[net] = ((u >> np.uint64(j)) & np.uint64(1)).astype(bool)


def _settled(prog, x, w, m):
    val = [np.zeros(m, dtype=bool) for _ in range(prog.nets)]
    val[1] = np.ones(m, dtype=bool)
    _inputs(x, prog.x_nets, val)
    _inputs(w, prog.w_nets, val)
    for op, a, b, c, out in zip(prog.op, prog.a, prog.b, prog.c, prog.out):
        val[out] = _OPS[GATE_TYPES[op]](val[a], val[b], val[c])
    return val


def run(prog, rise_d, fall_d, horizon, inertial, xv, wv):
    """(rise, fall, settled_rise, settled_fall, settle) of vectors 1..m of xv, wv (uint64
    operand bits; element 0 is the vector before the first counted one). rise, fall: changes
    of every net (uint64 per net); settle: int64 per vector, the last time step at which a net
    changed (0: only the inputs, or nothing)."""
    m = len(xv) - 1
    prev = _settled(prog, xv[:-1], wv[:-1], m)
    cur_in = _settled(prog, xv[1:], wv[1:], m)
    val = [v.copy() for v in prev]
    rise = np.zeros(prog.nets, dtype=np.uint64)
    fall = np.zeros(prog.nets, dtype=np.uint64)
    settle = np.zeros(m, dtype=np.int64)

    def change(net, new, t):
        moved = new != val[net]
        rise[net] += np.uint64(np.count_nonzero(moved & new))
        fall[net] += np.uint64(np.count_nonzero(moved & ~new))
        settle[moved] = t
        val[net] = new

    for net in [*prog.x_nets, *prog.w_nets]:
        change(net, cur_in[net], 0)
    gates = list(zip(prog.op, prog.a, prog.b, prog.c, prog.out, rise_d, fall_d))
    depth = horizon + int(max([*rise_d, *fall_d], default=1)) + 2
    flag = [np.zeros((depth, m), dtype=bool) for _ in gates]
    value = [np.zeros((depth, m), dtype=bool) for _ in gates]
    g_before = [prev[out] for *_, out, _, _ in gates]
    for t in range(horizon + 1):
        for i, (*_, out, _, _) in enumerate(gates):
            fire = flag[i][t]
            if fire.any():
                change(out, np.where(fire, value[i][t], val[out]), t)
        for i, (op, a, b, c, out, r, f) in enumerate(gates):
            g = _OPS[GATE_TYPES[op]](val[a], val[b], val[c])
            if r == 0:  # inside a library cell: settles within the step
                change(out, g, t)
                continue
            moved = g != g_before[i]
            g_before[i] = g
            for lanes, d in ((moved & g, r), (moved & ~g, f)):
                if lanes.any():
                    flag[i][t + 1 if inertial else t + d :] &= ~lanes
                    flag[i][t + d] |= lanes
                    value[i][t + d] = np.where(lanes, g, value[i][t + d])
    assert not any(f[horizon + 1 :].any() for f in flag), "events beyond the horizon"
    settled_rise = np.zeros(prog.nets, dtype=np.uint64)
    settled_fall = np.zeros(prog.nets, dtype=np.uint64)
    for net in range(prog.nets):
        moved = val[net] != prev[net]
        settled_rise[net] = np.count_nonzero(moved & val[net])
        settled_fall[net] = np.count_nonzero(moved & ~val[net])
    return rise, fall, settled_rise, settled_fall, settle


def simulate(tp, xv, wv):
    """(rise, fall, settled_rise, settled_fall, settle histogram) of vectors 1 .. len(xv) - 1
    for a ``bitsim.backends.timing_plan.TimingProgram`` (same results as the other backends)."""
    r, f, sr, sf, last = run(tp.prog, tp.rise, tp.fall, tp.horizon, tp.inertial, xv, wv)
    return r, f, sr, sf, np.bincount(last, minlength=tp.horizon + 1)
