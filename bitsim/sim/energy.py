"""Energy in joules of a netlist mapped to a standard-cell library, from simulated toggles.

``simulate_energy(mapped, x, w, ...)`` runs the gate-level simulator
(``bitsim.sim.gates.simulate_gates``) on a ``bitsim.circuits.mapped.MappedNetlist`` and prices
every toggle of a physical net (a cell's output pin) with the library:

* switching: 1/2 C V^2 per toggle, C = the sum of the input-pin capacitances the net drives
  (the larger of the rise and fall sums, as OpenSTA's load), V = the library's nominal voltage.
  No wire load (the OSU libraries define none); nets of the design's input ports are driven
  from outside and not counted (as OpenSTA).
* internal, output pins: per rising (falling) toggle, the ``rise_power`` (``fall_power``) table
  of the driving cell at that load and the input slew of the related pin. Rising and falling
  toggles are told apart without a kernel change: over a run, rises - falls = v_last - v_reset
  for each net, so rises = (toggles + v_last - v_reset) / 2 (v_reset: the value before the
  first vector, v_last: after the last one, evaluated from the last register_depth + 1
  vectors). A cell with several related pins weighs their tables by activity x P(the output
  depends on the pin) (OpenSTA's findInputDuty, Power.cc), P measured on the duty window.
* internal, input pins (flip-flop D and clock pins): per transition of the pin, its table
  at the pin's slew; a clock pin rises and falls once per vector.
* leakage: ``cell_leakage_power``, or the ``leakage_power`` groups weighted by the fraction of
  the duty window their ``when`` holds.

Slews: an input port or clock has slew 0 (an ideal source, OpenSTA's default); a cell output's
rise (fall) slew is the largest of its timing arcs' ``rise_transition`` (``fall_transition``)
tables at its load and the related input's slew (same transition for positive-unate arcs, the
opposite for negative-unate, the larger of both for non-unate), as a static timing analyser
without parasitics computes it.

Duty (the fraction of vectors a net is 1, for leakage states, related-pin weights, SAIF T1 and
Tcl -duty) is measured on the first ``window`` vectors (default 16384), with the numpy
reference simulator; toggles, rises and falls are exact over the whole run.

Glitches: with a delay model (``delay``: unit, Liberty, ...), the toggles come from the
glitch-aware timing simulator (``bitsim.simulate_timing``), which counts every change of every
net, rising and falling separately; each is priced as above (the same routine, ``price``: a
glitch's rise or fall costs what a settled one does), and the dynamic energy is split into
settled (the changes between settled states, the zero-delay toggles) and glitch changes
(internal and switching each). The related-pin weights of internal energy use the activity of
every change; duty and leakage come from the settled states.

Energy per vector in joules; power at ``clock`` hertz = energy per vector x clock (+ leakage).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import numpy as np

from bitsim._core.checks import InputError, check_int
from bitsim.backends.dispatch import select
from bitsim.backends.reference.gates import evaluate, reset_state, sources
from bitsim.circuits.liberty import Cell, PowerArc, Table, ports_of
from bitsim.circuits.liberty import evaluate as eval_expr
from bitsim.circuits.mapped import Instance, MappedNetlist
from bitsim.sim import mac
from bitsim.sim.gates import GateToggles, compile_netlist, simulate_gates
from bitsim.sim.timing import TimingToggles, simulate_timing

__all__ = ["Activity", "Energy", "PinEnergy", "loads", "pin_loads", "simulate_energy", "slews"]

DEFAULT_CLOCK_HZ = 100e6
DUTY_WINDOW = 16384
KINDS = ("internal", "switching", "leakage", "total")
# of a timing run: the dynamic energy (internal + switching) of settled and of glitch changes
GLITCH_KINDS = (
    "settled",
    "glitch",
    "internal_settled",
    "internal_glitch",
    "switching_settled",
    "switching_glitch",
)


@dataclass
class Activity:
    """Per-net activity of a run: exact toggles, rises, falls; duty on the first ``window``
    vectors."""

    vectors: int
    toggles: np.ndarray
    rises: np.ndarray
    falls: np.ndarray
    duty: np.ndarray
    window: int
    values: list = field(default_factory=list, repr=False)  # nets' values in the window
    settled: Optional[Tuple[np.ndarray, np.ndarray]] = None  # timing: settled rises, falls


@dataclass
class PinEnergy:
    """Energy of one instance pin (J): per rising and falling transition, and over the run."""

    instance: str
    pin: str
    net: str
    load_f: float
    rise_j: float  # internal + switching energy per rising transition
    fall_j: float
    internal_j: float  # over the run
    switching_j: float
    toggles: int


@dataclass
class Energy:
    """Energy of a gate-level run priced with a Liberty library.

    Attributes
    ----------
    per_vector_j : dict
        Joules per vector (per MAC for a MAC): internal, switching, leakage (at ``clock_hz``),
        total; of a timing run (``delay``) also the dynamic energy (internal + switching) of
        the settled changes and of the glitches, in all and by kind (``GLITCH_KINDS``).
    power_w : dict
        Watts at ``clock_hz``, same keys.
    by_part : dict
        Joules per vector by part: the instances' parts ('registers' for flip-flops; the
        parts of a generated circuit mapped by ``map_circuit``, else 'logic') and 'clock'
        (clock-pin internal energy), leakage excluded.
    """

    mapped: MappedNetlist
    toggles: GateToggles
    activity: Activity
    clock_hz: float
    library: str
    pins: List[PinEnergy]
    per_vector_j: Dict[str, float]
    power_w: Dict[str, float]
    by_part: Dict[str, float]
    internal_input_j: float = 0.0  # of per_vector_j['internal']: input pins (D, clock)

    def to_dict(self, per_net: bool = False) -> dict:
        out = {
            "library": self.library,
            "clock_hz": self.clock_hz,
            "energy_per_vector_pj": {k: v * 1e12 for k, v in self.per_vector_j.items()},
            "power_w": dict(self.power_w),
            "energy_by_part_pj": {k: v * 1e12 for k, v in self.by_part.items()},
            "internal_input_pins_pj": self.internal_input_j * 1e12,
        }
        if per_net:
            out["per_net"] = [
                {
                    "instance": p.instance,
                    "pin": p.pin,
                    "net": p.net,
                    "load_ff": p.load_f * 1e15,
                    "toggles": p.toggles,
                    "rise_pj": p.rise_j * 1e12,
                    "fall_pj": p.fall_j * 1e12,
                }
                for p in self.pins
            ]
        return out


def simulate_energy(
    mapped: MappedNetlist,
    x="uniform",
    w="uniform",
    *,
    signed: bool = False,
    x_port: str = "x",
    w_port: str = "w",
    length: Optional[int] = None,
    n: Optional[int] = None,
    seed: int = 0,
    clock: float = DEFAULT_CLOCK_HZ,
    window: int = DUTY_WINDOW,
    threads: int = 1,
    simd: str = "auto",
    backend: str = "c",
    delay="zero",
    semantics: str = "inertial",
    time_step: Optional[float] = None,
) -> Energy:
    """Energy per vector and power at ``clock`` Hz of a mapped netlist (see the module doc).

    x, w, signed, x_port, w_port, length, n, seed, threads, simd, backend: as for
    ``bitsim.simulate_gates``. delay: 'zero' (``simulate_gates``, each net changes at most
    once a vector) or a delay model of ``bitsim.simulate_timing`` ('unit', 'liberty' with
    ``time_step`` in seconds, per-type or per-gate delays; ``semantics``): every change,
    glitches included, is priced, and ``per_vector_j`` gains the split of the dynamic energy
    into settled (the changes between settled states) and glitch changes.
    """
    if not isinstance(mapped, MappedNetlist):
        raise InputError(
            f"mapped: expected a MappedNetlist (bitsim.circuits.mapped), found "
            f"{type(mapped).__name__}"
        )
    if isinstance(clock, bool) or not isinstance(clock, (int, float)) or not clock > 0:
        raise InputError(f"clock: expected a frequency in Hz > 0, found {clock!r}")
    window = check_int(window, "window", 1)
    g: GateToggles
    if not (isinstance(delay, str) and delay == "zero"):
        g = simulate_timing(
            mapped,
            x,
            w,
            delay=delay,
            semantics=semantics,
            time_step=time_step,
            signed=signed,
            x_port=x_port,
            w_port=w_port,
            length=length,
            n=n,
            seed=seed,
            threads=threads,
            backend=backend,
            simd=simd,
        )
        act = activity(mapped, g, x, w, signed, length, seed, window, backend, simd)
        return price(mapped, g, act, float(clock))
    g = simulate_gates(
        mapped.netlist,
        x,
        w,
        signed=signed,
        x_port=x_port,
        w_port=w_port,
        length=length,
        n=n,
        seed=seed,
        threads=threads,
        simd=simd,
        backend=backend,
    )
    act = activity(mapped, g, x, w, signed, length, seed, window, backend, simd)
    return price(mapped, g, act, float(clock))


def activity(mapped, g: GateToggles, x, w, signed, length, seed, window, backend, simd):
    """Rises, falls (exact) and duty (window) of every net of a run ``g``."""
    prog = compile_netlist(mapped.netlist, g.x_port, g.w_port, length)
    n = g.vectors
    cfg, xs, ws, _, _ = mac.prepare(
        x,
        w,
        x_bits=len(prog.x_nets),
        w_bits=len(prog.w_nets),
        acc_bits=64,
        signed=signed,
        length=length,
        n=n,
        seed=seed,
    )
    reset = reset_state(prog)
    toggles = g.per_net.astype(np.int64)
    if n == 0:
        zeros = np.zeros(prog.nets, dtype=np.int64)
        return Activity(0, toggles, zeros, zeros, reset.astype(float), 0)
    m = min(n, window)
    x0, w0, first0, acc0 = sources(prog, xs, ws, m)
    vals = evaluate(prog, x0, w0, first0, acc0, before=reset)
    duty = np.array([v.mean() for v in vals])
    if isinstance(g, TimingToggles):  # every change counted, rising and falling apart
        rises = g.rise.astype(np.int64)
        settled = (g.settled_rise.astype(np.int64), g.settled_fall.astype(np.int64))
        return Activity(n, toggles, rises, toggles - rises, duty, m, vals, settled)
    start = max(0, n - prog.warmup)
    acc_before = 0
    if start and len(prog.acc_nets):
        acc_before = int(select(backend, simd).mac_tail(cfg, xs, ws, 0, start)[0])
    x1, w1, first1, acc1 = sources(prog, xs, ws, n - start, start, acc_before)
    tail = evaluate(prog, x1, w1, first1, acc1, before=reset)
    last = np.array([v[-1] for v in tail], dtype=np.int64)
    rises = (toggles + last - reset.astype(np.int64)) // 2
    return Activity(n, toggles, rises, toggles - rises, duty, m, vals)


def price(mapped: MappedNetlist, g: GateToggles, act: Activity, clock: float) -> Energy:
    """The energy of a run from its activity (see the module docstring)."""
    lib = mapped.library
    volt = lib.voltage
    nl = mapped.netlist
    load = loads(mapped)
    slew = slews(mapped, load)
    vals = act.values
    n = max(act.vectors, 1)
    pins: List[PinEnergy] = []
    part: Dict[str, float] = {i.part: 0.0 for i in mapped.instances}
    part["clock"] = 0.0
    internal = switching = internal_in = leakage = 0.0
    settled = {"internal": 0.0, "switching": 0.0}  # of a timing run: the settled changes'
    s_rises, s_falls = act.settled if act.settled is not None else (act.rises, act.falls)
    for inst in mapped.instances:
        cell = inst.cell
        where = inst.part
        for p in cell.pins.values():
            net = inst.pins[p.name]
            set_r, set_f = int(s_rises[net]), int(s_falls[net])
            if p.direction == "output":
                c = load.get(net, 0.0)
                e_sw = 0.5 * c * volt * volt
                e_r, e_f = _output_internal(inst, p.name, c, slew, act, vals)
                t, r, f = int(act.toggles[net]), int(act.rises[net]), int(act.falls[net])
                e_int = r * e_r + f * e_f
                internal += e_int
                switching += t * e_sw
                settled["internal"] += set_r * e_r + set_f * e_f
                settled["switching"] += (set_r + set_f) * e_sw
                part[where] += e_int + t * e_sw
                pins.append(
                    PinEnergy(
                        inst.name,
                        p.name,
                        nl.net_name(net),
                        c,
                        e_r + e_sw,
                        e_f + e_sw,
                        e_int,
                        t * e_sw,
                        t,
                    )
                )
            elif p.power:
                sr, sf = slew.get(net, (0.0, 0.0))
                e_r = _mean(a.rise(0.0, sr) for a in p.power if a.rise is not None)
                e_f = _mean(a.fall(0.0, sf) for a in p.power if a.fall is not None)
                if p.clock:
                    e = act.vectors * (e_r + e_f)
                    part["clock"] += e
                    settled["internal"] += e
                else:
                    e = int(act.rises[net]) * e_r + int(act.falls[net]) * e_f
                    part[where] += e
                    settled["internal"] += set_r * e_r + set_f * e_f
                internal += e
                internal_in += e
        leakage += _leakage(cell, inst, vals, act.window)
    per_vector = {
        "internal": internal / n,
        "switching": switching / n,
        "leakage": leakage / clock,
    }
    per_vector["total"] = sum(per_vector.values())
    if act.settled is not None:  # a timing run: the dynamic energy of settled and glitch changes
        per_vector["settled"] = (settled["internal"] + settled["switching"]) / n
        per_vector["glitch"] = (internal + switching) / n - per_vector["settled"]
        for kind, whole in (("internal", internal), ("switching", switching)):
            per_vector[f"{kind}_settled"] = settled[kind] / n
            per_vector[f"{kind}_glitch"] = (whole - settled[kind]) / n
    return Energy(
        mapped,
        g,
        act,
        clock,
        lib.name,
        pins,
        per_vector,
        {k: v * clock for k, v in per_vector.items()},
        {k: v / n for k, v in part.items()},
        internal_in / n,
    )


def _mean(values) -> float:
    vs = list(values)
    return sum(vs) / len(vs) if vs else 0.0


def loads(mapped: MappedNetlist) -> Dict[int, float]:
    """Load capacitance (F) of each net: max(sum of rise caps, sum of fall caps) of the input
    pins it drives (OpenSTA's load without parasitics or wire load)."""
    rise, fall = pin_loads(mapped)
    return {net: max(rise[net], fall[net]) for net in rise}


def pin_loads(mapped: MappedNetlist) -> Tuple[Dict[int, float], Dict[int, float]]:
    """(rise, fall): the sums of the rise and of the fall capacitances (F) of the input pins
    each net drives (OpenSTA's delay calculation loads a rising output with the former)."""
    rise: Dict[int, float] = {}
    fall: Dict[int, float] = {}
    for inst in mapped.instances:
        for pin, net in inst.pins.items():
            p = inst.cell.pins[pin]
            if p.direction == "input":
                rise[net] = rise.get(net, 0.0) + p.rise_capacitance
                fall[net] = fall.get(net, 0.0) + p.fall_capacitance
    return rise, fall


def slews(mapped: MappedNetlist, load: Dict[int, float]) -> Dict[int, Tuple[float, float]]:
    """Rise and fall slews (s) of every net (see the module docstring)."""
    drivers = {
        net: (inst, pin)
        for inst in mapped.instances
        for pin, net in inst.pins.items()
        if inst.cell.pins[pin].direction == "output"
    }
    clock_nets = {
        inst.pins[p.name] for inst in mapped.instances for p in inst.cell.pins.values() if p.clock
    }
    out: Dict[int, Tuple[float, float]] = {}
    for net in drivers:  # iterative depth-first: deep adder chains need no recursion
        stack = [net]
        while stack:
            cur = stack[-1]
            if cur in out:
                stack.pop()
                continue
            if cur not in drivers or cur in clock_nets:
                out[cur] = (0.0, 0.0)
                stack.pop()
                continue
            inst, pin = drivers[cur]
            arcs = [(a, inst.pins.get(a.related)) for a in inst.cell.pins[pin].timing]
            todo = [r for _, r in arcs if r is not None and r not in out and r not in stack]
            if todo:
                stack.extend(todo)
                continue
            rise = fall = 0.0
            for arc, r in arcs:
                sr, sf = out.get(r, (0.0, 0.0)) if r is not None else (0.0, 0.0)
                ins = {"positive_unate": (sr, sf), "negative_unate": (sf, sr)}.get(
                    arc.sense, (max(sr, sf), max(sr, sf))
                )
                c = load.get(cur, 0.0)
                if arc.rise_transition is not None:
                    rise = max(rise, arc.rise_transition(c, ins[0]))
                if arc.fall_transition is not None:
                    fall = max(fall, arc.fall_transition(c, ins[1]))
            out[cur] = (rise, fall)
            stack.pop()
    return out


def _output_internal(inst: Instance, pin: str, load, slew, act, vals) -> Tuple[float, float]:
    """Internal energy (J) of one rising and one falling transition of an output pin."""
    p = inst.cell.pins[pin]
    if not p.power:
        return 0.0, 0.0
    arcs: List[PowerArc] = p.power
    weights = _weights(inst, p.function, arcs, act, vals)
    sense = {a.related: a.sense for a in p.timing}
    e_r = e_f = 0.0
    for arc, wt in zip(arcs, weights):
        net = inst.pins.get(arc.related) if arc.related else None
        sr, sf = slew.get(net, (0.0, 0.0)) if net is not None else (0.0, 0.0)
        neg = sense.get(arc.related or "") == "negative_unate"
        e_r += wt * _at(arc.rise, load, sf if neg else sr)
        e_f += wt * _at(arc.fall, load, sr if neg else sf)
    return e_r, e_f


def _at(table: Optional[Table], load: float, slew: float) -> float:
    return 0.0 if table is None else table(load, slew)


def _weights(inst: Instance, func, arcs: List[PowerArc], act, vals) -> List[float]:
    """Weights of the related pins' tables: activity x P(output depends on the pin), each
    measured (OpenSTA's findInputDuty weighting); a clock related pin has weight 1."""
    cell = inst.cell
    raw = []
    m = len(vals[0]) if vals else 0
    env = {p: vals[n] for p, n in inst.pins.items() if cell.pins[p].direction == "input"}
    for arc in arcs:
        rp = cell.pins.get(arc.related or "")
        if rp is None:
            raw.append(0.0)
        elif rp.clock or func is None or arc.related not in ports_of(func):
            raw.append(1.0)
        else:
            hi = eval_expr(func, {**env, arc.related: np.ones(m, dtype=bool)}, m)
            lo = eval_expr(func, {**env, arc.related: np.zeros(m, dtype=bool)}, m)
            sens = hi != lo
            if arc.when is not None:
                sens &= eval_expr(arc.when, env, m)
            raw.append(float(act.toggles[inst.pins[arc.related]]) * float(sens.mean()))
    total = sum(raw)
    return [r / total for r in raw] if total > 0 else [1.0 / len(arcs)] * len(arcs)


def _leakage(cell: Cell, inst: Instance, vals, m: int) -> float:
    """Leakage power (W) of an instance, averaged over the window's states."""
    if not cell.leakage_states:
        return cell.leakage
    env = {p: vals[n] for p, n in inst.pins.items()}
    total, covered = 0.0, 0.0
    for when, power in cell.leakage_states:
        if when is None:
            continue
        share = float(eval_expr(when, env, m).mean()) if m else 0.0
        total += share * power
        covered += share
    default = [pw for wh, pw in cell.leakage_states if wh is None]
    rest = default[0] if default else cell.leakage
    return total + max(0.0, 1.0 - covered) * rest
