"""The schedule of a glitch-aware timing simulation (``bitsim.sim.timing`` states the model):
event windows, the gates active at each step, and the C kernel's plan.

``TimingProgram(prog, rise, fall, inertial)`` holds a compiled combinational program with the
rise and fall delay of each gate (program order, 0 for the gates inside a library cell), the
earliest and latest step at which each net can change (its window) and, for the numba kernel,
the gates whose output can change at each step.

``TimingProgram.plan`` is what csrc/timing.c executes (built once per circuit): every value a
net takes during a vector is a *slot* of one history buffer (vectors of 64 x lanes bits),
time-major: slot n is net n's value before the vector (the previous vector's settled value),
then for each step t the nets whose window holds t. A net read at a step outside its window
reads its slot before the window (slot n) or its last slot, so reading is one precomputed
address. Gates with general delays (rise != fall, or an inertial delay > 1) also keep their
function's history g(t) over their inputs' window. Each step is a list of *entries*, evaluated
in order:

* phase 1 (read earlier steps only, sorted by kind, longest delay and gate type): ``DIRECT``
  out(t) = op(inputs at t - d) for unit delay, and for transport with rise = fall = d;
  ``INERTIAL`` and ``TRANSPORT`` out(t) from g(t - 1) .. g(t - dmax) (the closed forms of
  ``bitsim.backends.jit.timing``), computing g(t - 1) from the inputs and storing it in g's
  history; each counts out's rising changes and marks the vectors that changed;
* phase 2 (read step t, in level order): ``EVAL`` dst = op(inputs at t): the zero-delay
  gates inside library cells (not counted), and g(t) at the first steps of its window, which
  no output entry computes (t < the output's first step - 1).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, List, Tuple

import numpy as np

from bitsim.backends.reference.sampling import fetch
from bitsim.circuits.netlist import GATE_TYPES

__all__ = ["DIRECT", "EVAL", "INERTIAL", "TRANSPORT", "Plan", "TimingProgram", "operand_bits"]

# entry kinds (csrc/timing.h BITSIM_T_*)
DIRECT, INERTIAL, TRANSPORT, EVAL = range(4)
FIELDS = 8  # int32 per entry: kind, op, a, b, c, prev, dst, net
_ARITY = {"NOT": 1, "BUF": 1, "MUX": 3}


@dataclass
class Plan:
    """The C kernel's schedule (see the module docstring). ``entries``: int32 (count, 8) rows
    kind, op, a, b, c, prev, dst, net (INERTIAL, TRANSPORT: a = offset into ``args``, where
    the entry's inputs at t - 1, the slot of g(t - 1) and those of g(t - 2) .. g(t - dmax)
    are, b = rise, c = fall); ``step_at[t]:step_at[t + 1]`` the entries of step t; ``slots`` history
    vectors; ``last[n]``: net n's slot at the horizon; ``in_slot[j]``: input j's slot at t = 0."""

    slots: int
    entries: np.ndarray
    step_at: np.ndarray
    args: np.ndarray
    last: np.ndarray
    in_slot: np.ndarray


@dataclass
class TimingProgram:
    """A combinational program (``bitsim.sim.gates.Program``) with its delays and windows."""

    prog: Any  # bitsim.sim.gates.Program (a higher layer: not imported)
    rise: np.ndarray
    fall: np.ndarray
    inertial: bool
    early: np.ndarray = field(init=False)
    late: np.ndarray = field(init=False)
    horizon: int = field(init=False)
    inputs: np.ndarray = field(init=False)

    def __post_init__(self):
        p = self.prog
        big = np.iinfo(np.int64).max // 4
        early = np.full(p.nets, big, dtype=np.int64)
        late = np.full(p.nets, -big, dtype=np.int64)
        self.inputs = np.concatenate([p.x_nets, p.w_nets]).astype(np.int64)
        early[self.inputs] = late[self.inputs] = 0
        for i, ins in enumerate(self.gate_inputs()):
            early[p.out[i]] = min(early[j] for j in ins) + min(self.rise[i], self.fall[i])
            late[p.out[i]] = max(late[j] for j in ins) + max(self.rise[i], self.fall[i])
        self.early, self.late = early, late
        self.horizon = int(max(0, late.max(initial=0)))

    def gate_inputs(self) -> List[Tuple[int, ...]]:
        """The input nets of each gate (program order), by its arity."""
        p = self.prog
        return [
            tuple(int(n) for n in (a, b, c)[: _ARITY.get(GATE_TYPES[op], 2)])
            for op, a, b, c in zip(p.op, p.a, p.b, p.c)
        ]

    @cached_property
    def active(self) -> Tuple[np.ndarray, np.ndarray]:
        """(gates, starts): gates[starts[t]:starts[t + 1]] are the gates whose output can
        change at step t, in program order."""
        lists: List[List[int]] = [[] for _ in range(self.horizon + 1)]
        for i, out in enumerate(self.prog.out):
            for t in range(
                max(0, int(self.early[out])), min(self.horizon, int(self.late[out])) + 1
            ):
                lists[t].append(i)
        starts = np.zeros(self.horizon + 2, dtype=np.int64)
        starts[1:] = np.cumsum([len(x) for x in lists])
        gates = np.asarray([i for x in lists for i in x], dtype=np.int64)
        return gates, starts

    @cached_property
    def plan(self) -> Plan:
        """The C kernel's schedule (module docstring), built with array operations."""
        p, horizon = self.prog, self.horizon
        nets, steps = int(p.nets), horizon + 1
        op = np.asarray(p.op, dtype=np.int64)
        out = np.asarray(p.out, dtype=np.int64)
        ins = np.stack([p.a, p.b, p.c]).astype(np.int64)  # unused inputs read net 0
        rise, fall = self.rise.astype(np.int64), self.fall.astype(np.int64)
        zero = (rise == 0) & (fall == 0)
        direct = zero | ((rise == 1) & (fall == 1)) | ((rise == fall) & (not self.inertial))
        # windows: nets', and the g(t) histories' (general gates: their inputs' window)
        n_lo, n_hi = np.clip(self.early, 0, None), np.minimum(self.late, horizon)
        real = [_reads(GATE_TYPES[o]) for o in op]
        g_lo = np.asarray([min(self.early[ins[k, i]] for k in real[i]) for i in range(len(op))])
        g_hi = np.asarray([max(self.late[ins[k, i]] for k in real[i]) for i in range(len(op))])
        g_lo, g_hi = np.clip(g_lo, 0, None), np.minimum(g_hi, horizon)
        g_lo = np.where(direct, 1, g_lo).astype(np.int64)  # direct gates keep no history
        g_hi = np.where(direct, 0, g_hi).astype(np.int64)
        # slots, time-major: (t, kind 0: net / 1: g, id) in order, after the nets' slots n
        n_id, n_t = _pairs(n_lo, n_hi)
        g_id, g_t = _pairs(g_lo, g_hi)
        t_all = np.concatenate([n_t, g_t])
        kind = np.concatenate([np.zeros(len(n_t), np.int64), np.ones(len(g_t), np.int64)])
        order = np.lexsort((np.concatenate([n_id, g_id]), kind, t_all))
        slot = np.empty(len(t_all), dtype=np.int64)
        slot[order] = nets + np.arange(len(t_all))
        net_table = _table(nets, steps, n_id, n_t, slot[: len(n_t)], n_lo, n_hi, np.arange(nets))
        g_table = _table(len(op), steps, g_id, g_t, slot[len(n_t) :], g_lo, g_hi, out)

        def net_at(n, s):
            return np.where(s < 0, n, net_table[n, np.clip(s, 0, horizon)])

        def g_at(i, s):
            return np.where(s < 0, out[i], g_table[i, np.clip(s, 0, horizon)])

        # phase 1: each counted gate at each step of its output's window
        gi, t = _pairs(np.where(zero, 1, n_lo[out]), np.where(zero, 0, n_hi[out]))
        gen = ~direct[gi]
        d = rise[gi]  # direct: rise = fall
        kinds = np.where(gen, INERTIAL if self.inertial else TRANSPORT, DIRECT)
        dmax = np.maximum(rise[gi], fall[gi])
        width = np.where(gen, 3 + dmax, 0)
        first_arg = np.cumsum(width) - width
        abc = [np.where(gen, 0, net_at(ins[k, gi], t - d)) for k in range(3)]
        abc[0] = np.where(gen, first_arg, abc[0])
        abc[1] = np.where(gen, rise[gi], abc[1])
        abc[2] = np.where(gen, fall[gi], abc[2])
        o = out[gi]
        phase1 = np.stack([kinds, op[gi], *abc, net_at(o, t - 1), net_at(o, t), o], axis=1)
        # args of a general entry at step t: its inputs at t - 1, where g(t - 1) goes (a
        # scratch slot outside g's window), g(t - 2) .. g(t - dmax)
        scratch = nets + len(t_all)
        ai, ak = _pairs(np.zeros(len(gi), np.int64), width - 1)
        e_gi, e_t = gi[ai], t[ai]
        own = (g_lo[e_gi] <= e_t - 1) & (e_t - 1 <= g_hi[e_gi])
        args = np.select(
            [ak < 3, ak == 3],
            [
                net_at(ins[np.minimum(ak, 2), e_gi], e_t - 1),
                np.where(own, g_at(e_gi, e_t - 1), scratch),
            ],
            g_at(e_gi, e_t - (ak - 2)),
        )  # addressed by offset: entry order does not matter
        # phase 2: zero-delay gates at their output's steps; g(t) where no output entry
        # computes it (steps before the first output step - 1)
        zi, zt = _pairs(np.where(zero, n_lo[out], 1), np.where(zero, n_hi[out], 0))
        hi_, ht = _pairs(g_lo, np.minimum(g_hi, g_lo + np.minimum(rise, fall) - 2))
        ei, et = np.concatenate([zi, hi_]), np.concatenate([zt, ht])
        dst = np.concatenate([net_at(out[zi], zt), g_at(hi_, ht)])
        phase2 = np.stack(
            [np.full(len(ei), EVAL), op[ei], *(net_at(ins[k, ei], et) for k in range(3)),
             np.zeros(len(ei), np.int64), dst, out[ei]], axis=1,
        )  # fmt: skip
        # per step: phase 1 by kind, longest delay and gate type (the kernel's loops and
        # branches then see runs of one kind), then phase 2 in level order
        rows = np.concatenate([phase1, phase2])
        step = np.concatenate([t, et])
        phase = np.concatenate([np.zeros(len(t), np.int64), np.ones(len(et), np.int64)])
        gate = np.concatenate([gi, ei])
        longest = np.concatenate([np.maximum(rise[gi], fall[gi]), np.zeros(len(et), np.int64)])
        key = np.where(phase == 0, (rows[:, 0] << 24) | (longest << 4) | rows[:, 1], gate)
        entries = rows[np.lexsort((gate, key, phase, step))].astype(np.int32)
        step_at = np.zeros(steps + 1, dtype=np.int64)
        step_at[1:] = np.cumsum(np.bincount(step, minlength=steps))
        last = net_at(np.arange(nets), np.full(nets, horizon)).astype(np.int32)
        in_slot = net_at(self.inputs, np.zeros(len(self.inputs), np.int64)).astype(np.int32)
        return Plan(scratch + 1, entries, step_at, args.astype(np.int32), last, in_slot)


def _reads(gate_type: str) -> Tuple[int, ...]:
    """The inputs (0: a, 1: b, 2: c) a gate type reads."""
    return tuple(range(_ARITY.get(gate_type, 2)))


def _pairs(lo: np.ndarray, hi: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """(id, t) for every id and t in [lo[id], hi[id]] (none where lo > hi), by id then t."""
    lengths = np.maximum(hi - lo + 1, 0).astype(np.int64)
    ids = np.repeat(np.arange(len(lo), dtype=np.int64), lengths)
    starts = np.cumsum(lengths) - lengths
    t = np.arange(len(ids), dtype=np.int64) - np.repeat(starts, lengths) + np.repeat(lo, lengths)
    return ids, t.astype(np.int64)


def _table(rows, steps, ids, t, slots, lo, hi, before) -> np.ndarray:
    """table[id, s]: the slot of id's value at step s: ``before[id]`` before its window
    [lo, hi], its last slot after it."""
    pairs = np.zeros((rows, steps), dtype=np.int64)
    pairs[ids, t] = slots
    s = np.arange(steps)[None, :]
    has = (lo <= hi)[:, None]
    clamped = np.clip(np.minimum(s, hi[:, None]), 0, steps - 1)
    inside = has & (s >= lo[:, None])
    return np.where(inside, np.take_along_axis(pairs, clamped, axis=1), before[:, None])


def operand_bits(tp: TimingProgram, xs, ws, start: int, count: int):
    """(xv, wv): the bit patterns (uint64, two's complement) of vectors start - 1 .. start +
    count - 1 of the operand streams; element 0 (the vector before) is 0 when start is 0."""
    out = []
    for stream, nets in ((xs, tp.prog.x_nets), (ws, tp.prog.w_nets)):
        values = fetch(stream, max(0, start - 1), count + (start > 0))
        if start == 0:
            values = np.concatenate([[0], values])
        out.append((values & np.int64((1 << len(nets)) - 1)).astype(np.uint64))
    return out[0], out[1]
