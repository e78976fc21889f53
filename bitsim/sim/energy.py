"""Energy in joules of a netlist mapped to a standard-cell library, from simulated toggles.

``simulate_energy(mapped, x, w, ...)`` runs the gate-level simulator
(``bitsim.sim.gates.simulate_gates``) on a ``bitsim.circuits.mapped.MappedNetlist`` and prices
every toggle of a physical net (a cell's pin) with the library:

* switching: 1/2 C V^2 per toggle, C = the sum of the pin capacitances on the net (the larger
  of the rise and fall sums) plus the library's wire load (``default_wire_load``: the
  ``wire_load`` group's capacitance per unit length x its ``fanout_length`` at the net's fanout,
  as OpenSTA; none if the library names none, as OSU018), OpenSTA's load without parasitics;
  V = the library's nominal voltage. Nets of the design's input ports are driven from outside
  and not counted (as OpenSTA).
* internal energy, ``internal_model="transition"`` (default): each transition of a cell's
  output is priced once, with the ``rise_power`` table for a rise and ``fall_power`` for a fall
  (Liberty: the energy of an output transition caused by the related pin's transition), of the
  related pin that caused it, found in the simulation: the related pins that switched in the
  same vector (a clock pin switches every vector). When several did (zero delay: simultaneous),
  the transition is split equally among them; Liberty tables are characterised for one
  switching input, so that split is bitsim's convention. A ``when`` condition selects the arc
  of a related pin in the vectors where it holds. Input pins with tables (flip-flop D and clock
  pins): per rising (falling) transition of the pin, the mean of its rise (fall) tables; a
  clock pin rises and falls once per vector.
* internal energy, ``internal_model="opensta-2.0"``: OpenSTA 2.0.x's formula (Debian's 2.0.17,
  search/Power.cc findInternalPower at commit c018cb2), from bitsim's activities: per pin and
  arc, activity x duty x (rise + fall table), the activity the pin's transitions per cycle (2
  for a clock pin), the duty act(related) / act(pin) x P(the condition under which the related
  pin drives the output, inferred from the function for single-literal and/or/xor factors,
  under independence of the pins' duties), else P(when), else 1 for a clock, else 0.5; slews
  of the same transition (no unateness). OpenSTA 2.1.0 (commit 77d507d0, 2020) changed this
  to average the rise and fall energies and to normalise the related-pin weights (the current
  OpenSTA's findOutputInternalPower), which ``transition`` agrees with in the mean; this mode
  reproduces ``report_power`` of OpenSTA 2.0.17. ``opensta_pin_energy`` evaluates the current
  OpenSTA's formula (checked against OpenSTA 3.1.0's report_power: README).
* leakage: ``cell_leakage_power``, or the ``leakage_power`` groups weighted by the fraction of
  vectors their ``when`` holds.

Slews: an input port or clock has slew 0 (an ideal source, OpenSTA's default); a cell output's
rise (fall) slew is the largest of its timing arcs' ``rise_transition`` (``fall_transition``)
tables at its load and the related input's slew (same transition for positive-unate arcs, the
opposite for negative-unate, the larger of both for non-unate), as a static timing analyser
without parasitics computes it.

Exact over the whole run: toggles come from the simulation kernel; rises, falls, duties (the
fraction of vectors a net is 1: leakage states, SAIF T1, Tcl -duty), the causing related pins
and the leakage states from a second pass of the numpy reference simulator on packed 64-bit
words, ``chunk`` vectors at a time (memory bounded by ``chunk`` x the netlist's nets).

Glitches: with a delay model (``delay``: unit, Liberty, ...), the toggles come from the
glitch-aware timing simulator (``bitsim.simulate_timing``), which counts every change of every
net, rising and falling separately; each is priced by the same routine (``price``), and the
dynamic energy is split into settled (the changes between settled states, the zero-delay
toggles) and glitch changes (internal and switching each). Switching: a glitch's rise or fall
costs what a settled one does (1/2 C V^2). Internal, ``transition`` model: the settled
transitions of an output are priced by the related pins that caused them, as above (the
activity pass simulates the settled values; the timing kernels count changes per net, they do
not record which input caused each one); a glitch rise (fall) of that output is priced at the
mean internal energy of its settled rises (falls), i.e. with the related-pin weights measured
on the settled transitions (if the output never rose (fell) settled: the mean of its arcs'
rise (fall) tables, as an unattributed transition). This is an approximation: a glitch is
caused by the arrival of one input's change, and the inputs that arrive late (long paths:
carries, partial-product sums) cause more glitches than their share of the settled
transitions. ``opensta-2.0``: the activities are every change per cycle (as OpenSTA fed a VCD
with the glitches); an output's internal energy per change is the same for settled and glitch
changes. Duties and leakage come from the settled states (the activity pass).

Energy per vector in joules; power at ``clock`` hertz = energy per vector x clock (+ leakage).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

from bitsim._core.checks import InputError, check_int
from bitsim.backends.reference.gates import evaluate_words, reset_state, shift, sources
from bitsim.circuits.liberty import Cell, Expr, Pin, Table, ports_of
from bitsim.circuits.liberty import evaluate as eval_expr
from bitsim.circuits.mapped import Instance, MappedNetlist
from bitsim.sim import mac
from bitsim.sim.gates import GateToggles, compile_netlist, simulate_gates
from bitsim.sim.timing import TimingToggles, simulate_timing

__all__ = [
    "Activity",
    "Energy",
    "INTERNAL_MODELS",
    "PinEnergy",
    "loads",
    "opensta20_pin_energy",
    "opensta_pin_energy",
    "pin_loads",
    "simulate_energy",
    "slews",
]

DEFAULT_CLOCK_HZ = 100e6
CHUNK = 1 << 16
KINDS = ("internal", "switching", "leakage", "total")
INTERNAL_MODELS = ("transition", "opensta-2.0")
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
    """Per-net activity of a run, exact: toggles, rises, falls (of a timing run: every change,
    glitches included), duty (fraction of vectors at 1); ``caused[(i, pin)]``: float[arcs, 2],
    the settled rising and falling transitions of output ``pin`` of instance i attributed to
    each of its power arcs; ``states[i]``: the fraction of vectors each ``leakage_power``
    group's ``when`` of instance i holds (in the cell's order, 0 for a group without
    ``when``); ``settled``: of a timing run, the settled rises and falls per net (None for a
    zero-delay run, whose every change settles)."""

    vectors: int
    toggles: np.ndarray
    rises: np.ndarray
    falls: np.ndarray
    duty: np.ndarray
    caused: Dict[Tuple[int, str], np.ndarray] = field(default_factory=dict, repr=False)
    states: Dict[int, np.ndarray] = field(default_factory=dict, repr=False)
    unattributed: int = 0  # output transitions with no switching related pin (split evenly)
    settled: Optional[Tuple[np.ndarray, np.ndarray]] = None  # timing: settled rises, falls


@dataclass
class PinEnergy:
    """Energy of one instance pin (J): per rising and falling transition, and over the run
    (every cell output, and the input pins with internal-power tables: flip-flop D and clock
    pins, load 0, a clock pin toggling twice per vector)."""

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
    internal_model: str = "transition"

    def to_dict(self, per_net: bool = False) -> dict:
        out = {
            "library": self.library,
            "clock_hz": self.clock_hz,
            "internal_model": self.internal_model,
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
    internal_model: str = "transition",
    chunk: Optional[int] = None,
    threads: int = 1,
    simd: str = "auto",
    backend: str = "c",
    delay="zero",
    semantics: str = "inertial",
    time_step: Optional[float] = None,
) -> Energy:
    """Energy per vector and power at ``clock`` Hz of a mapped netlist (see the module doc).

    x, w, signed, x_port, w_port, length, n, seed, threads, simd, backend: as for
    ``bitsim.simulate_gates``. internal_model: 'transition' or 'opensta-2.0'. chunk: vectors
    per step of the activity pass (results do not depend on it; default: 65536, fewer for
    netlists of more than 8192 nets, so that the packed values stay under about 64 MB).
    delay: 'zero' (``simulate_gates``, each net changes at most once a vector) or a delay
    model of ``bitsim.simulate_timing`` ('unit', 'liberty' with ``time_step`` in seconds,
    per-type or per-gate delays; ``semantics``): every change, glitches included, is priced
    (see the module doc for the causing pins of glitches), and ``per_vector_j`` gains the
    split of the dynamic energy into settled (the changes between settled states) and glitch
    changes.
    """
    if not isinstance(mapped, MappedNetlist):
        raise InputError(
            f"mapped: expected a MappedNetlist (bitsim.circuits.mapped), found "
            f"{type(mapped).__name__}"
        )
    if isinstance(clock, bool) or not isinstance(clock, (int, float)) or not clock > 0:
        raise InputError(f"clock: expected a frequency in Hz > 0, found {clock!r}")
    if internal_model not in INTERNAL_MODELS:
        raise InputError(
            f"internal_model: expected one of {', '.join(INTERNAL_MODELS)}, found "
            f"{internal_model!r}"
        )
    if chunk is not None:
        chunk = check_int(chunk, "chunk", 1)
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
    else:
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
    act = activity(mapped, g, x, w, signed, length, seed, chunk)
    return price(mapped, g, act, float(clock), internal_model)


def _count(words: np.ndarray) -> int:
    """Set bits of packed words."""
    if hasattr(np, "bitwise_count"):
        return int(np.bitwise_count(words).sum())
    return int(np.unpackbits(words.view(np.uint8)).sum())  # numpy < 2.0


@dataclass
class _Output:
    """What the activity pass attributes for one output pin with power arcs."""

    key: Tuple[int, str]
    inst: Instance
    net: int
    related: List[Optional[int]]  # per distinct related pin: its net (None: every vector)
    arcs: List[Tuple[int, Optional[Expr], List[Expr]]]  # (related index, when, others' whens)


def _outputs(mapped: MappedNetlist, clock_nets) -> List[_Output]:
    out = []
    for i, inst in enumerate(mapped.instances):
        for p in inst.cell.outputs:
            if not p.power:
                continue
            names = list(dict.fromkeys(a.related for a in p.power))
            related = [
                None
                if r is None or r not in inst.pins or inst.pins[r] in clock_nets
                else inst.pins[r]
                for r in names
            ]
            arcs = []
            for a in p.power:
                others = [b.when for b in p.power if b.related == a.related and b.when is not None]
                arcs.append((names.index(a.related), a.when, others))
            out.append(_Output((i, p.name), inst, inst.pins[p.name], related, arcs))
    return out


def activity(
    mapped, g: GateToggles, x, w, signed, length, seed, chunk: Optional[int] = None
) -> Activity:
    """Rises, falls, duties, causing pins and leakage states of a run ``g``, exact (see the
    module docstring); of a timing run ``g``, its rises and falls (every change) and its
    settled ones."""
    prog = compile_netlist(mapped.netlist, g.x_port, g.w_port, length)
    n = g.vectors
    _, xs, ws, _, _ = mac.prepare(
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
    clock_nets = set(mapped.netlist.inputs.get(mapped.clock or "", []))
    outs = _outputs(mapped, clock_nets)
    leaky = [(i, inst) for i, inst in enumerate(mapped.instances) if inst.cell.leakage_states]
    needed = {nt for o in outs for nt in [o.net, *o.related] if nt is not None}
    if chunk is None:  # about 64 MB of packed values at most
        chunk = max(64, min(CHUNK, (1 << 29) // max(prog.nets, 1)) // 64 * 64)
    ones = np.zeros(prog.nets, dtype=np.int64)
    rises = np.zeros(prog.nets, dtype=np.int64)
    caused = {o.key: np.zeros((len(o.arcs), 2)) for o in outs}
    states = {i: np.zeros(len(inst.cell.leakage_states)) for i, inst in leaky}
    unattributed = 0
    prev = reset.copy()
    acc_before = 0
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        xc, wc, first, acc = sources(prog, xs, ws, m, start, acc_before)
        # the accumulator after the chunk's last vector, modulo 2^64 as ``sources`` keeps it
        acc_before = (int(xc[-1]) * int(wc[-1]) + (0 if first[-1] else int(acc[-1]))) % 2**64
        V = evaluate_words(prog, xc, wc, first, acc, prev)
        mask = np.full(len(V[0]), ~np.uint64(0))
        if m % 64:
            mask[-1] = np.uint64((1 << (m % 64)) - 1)
        T: Dict[int, np.ndarray] = {}  # toggles of the nets the attribution reads
        for nt in range(prog.nets):
            v = V[nt] & mask
            V[nt] = v
            t = (v ^ shift(v, prev[nt])) & mask
            ones[nt] += _count(v)
            rises[nt] += _count(t & v)
            if nt in needed:
                T[nt] = t
        for o in outs:
            unattributed += _attribute(o, V, T, mask, caused[o.key])
        for i, inst in leaky:
            env = {pin: V[nt] for pin, nt in inst.pins.items()}
            for k, (when, _) in enumerate(inst.cell.leakage_states):
                if when is not None:
                    states[i][k] += _count(eval_expr(when, env, len(mask), np.uint64) & mask)
        last = (m - 1) // 64, np.uint64((m - 1) % 64)
        prev = np.array([bool((v[last[0]] >> last[1]) & np.uint64(1)) for v in V])
    toggles = g.per_net.astype(np.int64)
    settled = None
    if isinstance(g, TimingToggles):  # every change counted, rising and falling apart
        settled = (g.settled_rise.astype(np.int64), g.settled_fall.astype(np.int64))
        rises = g.rise.astype(np.int64)
    norm = max(n, 1)
    return Activity(
        n,
        toggles,
        rises,
        toggles - rises,
        ones / norm if n else reset.astype(float),
        caused,
        {i: s / norm for i, s in states.items()},
        unattributed,
        settled,
    )


def _attribute(o: _Output, V, T, mask, out: np.ndarray) -> int:
    """Add the rising and falling transitions of ``o`` in one chunk to its arcs (``out``);
    return how many had no switching related pin."""
    t_out = T[o.net]
    if not t_out.any():
        return 0
    up, down = t_out & V[o.net], t_out & ~V[o.net]
    switched = [mask if nt is None else T[nt] for nt in o.related]
    planes: List[np.ndarray] = []  # bit-sliced count of the switched related pins
    for s in switched:
        carry = s
        for j in range(len(planes)):
            planes[j], carry = planes[j] ^ carry, planes[j] & carry
        planes.append(carry)
    exactly = []
    for k in range(len(switched) + 1):
        sel = mask
        for j, plane in enumerate(planes):
            sel = sel & (plane if (k >> j) & 1 else ~plane)
        exactly.append(sel)
    env = {pin: V[nt] for pin, nt in o.inst.pins.items()}
    size = len(mask)
    got = np.zeros_like(out)
    for a, (r, when, others) in enumerate(o.arcs):
        sel = switched[r]
        if when is not None:
            sel = sel & eval_expr(when, env, size, np.uint64)
        else:
            for other in others:
                sel = sel & ~eval_expr(other, env, size, np.uint64)
        for k in range(1, len(switched) + 1):
            got[a, 0] += _count(up & sel & exactly[k]) / k
            got[a, 1] += _count(down & sel & exactly[k]) / k
    # transitions no arc took (no related pin switched, or no arc's when held): evenly
    lost = np.array([_count(up), _count(down)]) - got.sum(axis=0)
    out += got + lost / len(out)
    return int(round(lost.sum()))


def price(
    mapped: MappedNetlist,
    g: GateToggles,
    act: Activity,
    clock: float,
    internal_model: str = "transition",
) -> Energy:
    """The energy of a run from its activity (see the module docstring)."""
    lib = mapped.library
    volt = lib.voltage
    nl = mapped.netlist
    load = loads(mapped)
    slew = slews(mapped, load)
    n = max(act.vectors, 1)
    clock_nets = set(nl.inputs.get(mapped.clock or "", []))

    def per_cycle(net: int) -> float:  # OpenSTA's activity: transitions per clock cycle
        return 2.0 if net in clock_nets else float(act.toggles[net]) / n

    def duty(net: int) -> float:
        return 0.5 if net in clock_nets else float(act.duty[net])

    pins: List[PinEnergy] = []
    part: Dict[str, float] = {i.part: 0.0 for i in mapped.instances}
    part["clock"] = 0.0
    internal = switching = internal_in = leakage = 0.0
    settled = {"internal": 0.0, "switching": 0.0}  # of a timing run: the settled changes'
    s_rises, s_falls = act.settled if act.settled is not None else (act.rises, act.falls)
    opensta = internal_model == "opensta-2.0"
    for idx, inst in enumerate(mapped.instances):
        cell = inst.cell
        for p in cell.pins.values():
            net = inst.pins[p.name]
            set_r, set_f = int(s_rises[net]), int(s_falls[net])
            if opensta and p.power:
                e_run = n * opensta20_pin_energy(inst, p.name, load, slew, per_cycle, duty)
            if p.direction == "output":
                c = load.get(net, 0.0)
                e_sw = 0.5 * c * volt * volt
                t = int(act.toggles[net])
                if opensta:  # every change alike: the settled ones' share of the run's energy
                    e_int = e_run if p.power else 0.0
                    e_r = e_f = e_int / t if t else 0.0
                    e_set = e_int if set_r + set_f == t else (set_r + set_f) * e_r
                else:  # settled: by their causes; glitches: at the settled mean (module doc)
                    e_set, e_r, e_f = _caused_energy(
                        inst, p, c, slew, act.caused.get((idx, p.name))
                    )
                    glitch_r = int(act.rises[net]) - set_r
                    glitch_f = int(act.falls[net]) - set_f
                    e_int = e_set + glitch_r * e_r + glitch_f * e_f
                internal += e_int
                switching += t * e_sw
                settled["internal"] += e_set
                settled["switching"] += (set_r + set_f) * e_sw
                part[inst.part] += e_int + t * e_sw
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
                t = 2 * act.vectors if p.clock else int(act.toggles[net])
                sr, sf = slew.get(net, (0.0, 0.0))
                e_r = _mean(a.rise(0.0, sr) for a in p.power if a.rise is not None)
                e_f = _mean(a.fall(0.0, sf) for a in p.power if a.fall is not None)
                if opensta:
                    e = e_run
                    e_r = e_f = e / t if t else 0.0
                    e_set = e if p.clock or set_r + set_f == t else (set_r + set_f) * e_r
                elif p.clock:
                    e = e_set = act.vectors * (e_r + e_f)
                else:
                    e = int(act.rises[net]) * e_r + int(act.falls[net]) * e_f
                    e_set = set_r * e_r + set_f * e_f
                part["clock" if p.clock else inst.part] += e
                internal += e
                internal_in += e
                settled["internal"] += e_set
                pins.append(
                    PinEnergy(inst.name, p.name, nl.net_name(net), 0.0, e_r, e_f, e, 0.0, t)
                )
        leakage += _leakage(cell, act.states.get(idx))
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
        internal_model,
    )


def loads(mapped: MappedNetlist) -> Dict[int, float]:
    """Load capacitance (F) of each net, as OpenSTA's without parasitics: max(sum of rise
    caps, sum of fall caps) of the pins on it, plus the library's wire load at the net's
    fanout (its input pins and output ports) if it names a ``default_wire_load``."""
    rise, fall = pin_loads(mapped)
    return {net: max(rise[net], fall[net]) for net in rise}


def pin_loads(mapped: MappedNetlist) -> Tuple[Dict[int, float], Dict[int, float]]:
    """(rise, fall): the sums of the rise and of the fall capacitances (F) of the pins on each
    net, each plus the library's wire load at the net's fanout (see ``loads``; OpenSTA's delay
    calculation loads a rising output with the former)."""
    rise: Dict[int, float] = {}
    fall: Dict[int, float] = {}
    fanout: Dict[int, int] = {}
    for inst in mapped.instances:
        for pin, net in inst.pins.items():
            p = inst.cell.pins[pin]
            rise[net] = rise.get(net, 0.0) + p.rise_capacitance
            fall[net] = fall.get(net, 0.0) + p.fall_capacitance
            if p.direction == "input":
                fanout[net] = fanout.get(net, 0) + 1
    for bus in mapped.netlist.outputs.values():
        for net in bus:
            fanout[net] = fanout.get(net, 0) + 1
    wire = mapped.library.wire_load
    if wire:
        for net in rise:
            c = wire(fanout.get(net, 0))
            rise[net] += c
            fall[net] += c
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


def _mean(values) -> float:
    vs = list(values)
    return sum(vs) / len(vs) if vs else 0.0


def _caused_energy(inst: Instance, p: Pin, load: float, slew, caused) -> Tuple[float, float, float]:
    """Internal energy (J) of an output pin's settled transitions over the run ('transition'
    model: by their causing arcs), and the mean per rising and per falling transition (the
    price of a glitch's: module docstring); an output that never rose (fell): the mean of its
    arcs' rise (fall) tables, as an unattributed transition."""
    if not p.power or caused is None:
        return 0.0, 0.0, 0.0
    sense = {a.related: a.sense for a in p.timing}
    total = np.zeros(2)
    each = np.zeros((len(p.power), 2))
    for a, arc in enumerate(p.power):
        net = inst.pins.get(arc.related) if arc.related else None
        sr, sf = slew.get(net, (0.0, 0.0)) if net is not None else (0.0, 0.0)
        neg = sense.get(arc.related or "") == "negative_unate"
        each[a] = _at(arc.rise, load, sf if neg else sr), _at(arc.fall, load, sr if neg else sf)
        total += caused[a] * each[a]
    count = caused.sum(axis=0)
    per = [total[k] / count[k] if count[k] else float(each[:, k].mean()) for k in (0, 1)]
    return float(total.sum()), per[0], per[1]


def _at(table: Optional[Table], load: float, slew: float) -> float:
    return 0.0 if table is None else table(load, slew)


def opensta20_pin_energy(
    inst: Instance,
    pin: str,
    load: Dict[int, float],
    slew: Dict[int, Tuple[float, float]],
    activity: Callable[[int], float],
    duty: Callable[[int], float],
) -> float:
    """Internal energy (J per clock cycle) of one pin of ``inst`` by OpenSTA 2.0.x's formula
    (search/Power.cc, Power::findInternalPower, commit c018cb2 = release 2.0.17):
    sum over the pin's power arcs of activity(pin) x d x (rise + fall table), d =
    activity(related) / activity(pin) x P(inferred when) if the function gives a condition
    (Power::inferedWhen), else P(when), else 1 if the related pin is a clock, else 0.5;
    P under independence of the pins' ``duty``; tables at the pin's load (0 for an input pin)
    and the related pin's slew of the same transition. activity(net): transitions per cycle
    (OpenSTA: 2 for a clock), duty(net): fraction of time at 1 (0.5 for a clock)."""
    cell = inst.cell
    p = cell.pins[pin]
    me = inst.pins[pin]
    c = load.get(me, 0.0) if p.direction == "output" else 0.0
    a_me = activity(me)

    def prob(e: Expr) -> float:
        return _probability(e, lambda port: duty(inst.pins[port]) if port in inst.pins else 0.0)

    total = 0.0
    for arc in p.power:
        src = arc.related or pin
        if src not in inst.pins:
            continue
        net = inst.pins[src]
        inferred = None
        if arc.related and arc.when is None and p.function is not None:
            inferred = _inferred_when(p.function, arc.related)
        if inferred is not None:
            d = activity(net) / a_me * prob(inferred) if a_me else 0.0
        elif arc.when is not None:
            d = prob(arc.when)
        elif cell.pins[src].clock:
            d = 1.0
        else:
            d = 0.5
        sr, sf = slew.get(net, (0.0, 0.0))
        total += a_me * d * (_at(arc.rise, c, sr) + _at(arc.fall, c, sf))
    return total


def opensta_pin_energy(
    inst: Instance,
    pin: str,
    load: Dict[int, float],
    slew: Dict[int, Tuple[float, float]],
    activity: Callable[[int], float],
    duty: Callable[[int], float],
) -> float:
    """Internal energy (J per clock cycle) of one pin of ``inst`` by the current OpenSTA's
    formula (power/Power.cc at commit d1b2b396, 2026-08, version 3.1.0: findOutputInternalPower
    and findInputInternalPower; the convention of OpenSTA 2.1.0, commit 77d507d0, with the
    duty of a related pin its Boolean difference). Every power arc's energy is the mean of its
    rise and fall tables. An output pin: activity(pin) x sum over arcs of w x energy, at the
    pin's load and the related pin's slew of the transition its unateness gives (the opposite
    one for negative-unate arcs), w = activity(related) x D / the sum of that over the arcs,
    D = P(the Boolean difference of the pin's function by the related pin) if the function
    has it (Power::evalDiffDuty), else P(when) if the arc has one, else 0.5 (a flip-flop's Q
    from its clock: w = 1). An input pin: activity(pin) x sum over arcs of D x energy at load
    0 and the pin's own slews, D = 1 without ``when``, P(Boolean difference of the output
    that ``when`` names by this pin) if that output's function has it, else P(when).
    Probabilities exact under independence of the pins' ``duty`` (OpenSTA's BDDs; an internal
    state such as IQ takes the duty of the output it drives). activity(net): transitions per
    cycle (2 for a clock), duty(net): fraction of time at 1 (0.5 for a clock)."""
    cell = inst.cell
    p = cell.pins[pin]
    me = inst.pins[pin]

    def prob(e: Expr) -> float:
        return _exact_probability(inst, e, duty)

    def energy(arc, c: float, sr: float, sf: float) -> float:
        tables = [t(c, s) for t, s in ((arc.rise, sr), (arc.fall, sf)) if t is not None]
        return sum(tables) / len(tables) if tables else 0.0

    if p.direction != "output":
        sr, sf = slew.get(me, (0.0, 0.0))
        total = 0.0
        for arc in p.power:
            d = 1.0
            if arc.when is not None:
                outs = [q for q in ports_of(arc.when) if cell.pins.get(q) and q != pin]
                outs = [q for q in outs if cell.pins[q].direction == "output"]
                f = cell.pins[outs[0]].function if outs else None
                d = prob(_difference(f, pin)) if f and pin in ports_of(f) else prob(arc.when)
            total += d * energy(arc, 0.0, sr, sf)
        return activity(me) * total
    c = load.get(me, 0.0)
    weights = []
    for arc in p.power:
        src = arc.related
        if src is None or src not in inst.pins:
            weights.append(0.0)
            continue
        f = p.function
        if f is not None and src in ports_of(f):
            d = prob(_difference(f, src))
        elif arc.when is not None:
            d = prob(arc.when)
        else:
            d = 0.5
        weights.append(activity(inst.pins[src]) * d)
    norm = sum(weights)
    if norm == 0.0:
        return 0.0
    sense = {a.related: a.sense for a in p.timing}
    total = 0.0
    for arc, w in zip(p.power, weights):
        if w == 0.0 or arc.related is None:
            continue
        sr, sf = slew.get(inst.pins[arc.related], (0.0, 0.0))
        if sense.get(arc.related) == "negative_unate":
            sr, sf = sf, sr
        total += w / norm * energy(arc, c, sr, sf)
    return activity(me) * total


def _difference(f: Expr, port: str) -> Expr:
    """The Boolean difference f(port = 1) xor f(port = 0)."""

    def at(e: Expr, v: int) -> Expr:
        if e == ("port", port):
            return ("const", v)
        if e[0] in ("port", "const"):
            return e
        if e[0] == "not":
            return ("not", at(e[1], v))
        return (e[0], at(e[1], v), at(e[2], v))

    return ("xor", at(f, 1), at(f, 0))


def _exact_probability(inst: Instance, e: Expr, duty: Callable[[int], float]) -> float:
    """P(e = 1) with the instance's pins independent at their duties, by enumeration (exact,
    as OpenSTA's BDD evaluation); a port that is no pin (a flip-flop's internal state) takes
    the duty of the output whose function it is."""
    names = ports_of(e)
    probs = []
    for q in names:
        if q in inst.pins:
            probs.append(duty(inst.pins[q]))
            continue
        outs = [o for o, op in inst.cell.pins.items() if op.function == ("port", q)]
        probs.append(duty(inst.pins[outs[0]]) if outs and outs[0] in inst.pins else 0.5)
    size = 1 << len(names)
    idx = np.arange(size)
    env = {q: ((idx >> k) & 1).astype(bool) for k, q in enumerate(names)}
    weight = np.ones(size)
    for k, pq in enumerate(probs):
        weight *= np.where(env[names[k]], pq, 1.0 - pq)
    return float(weight[eval_expr(e, env, size)].sum())


def _probability(e: Expr, duty: Callable[[str], float]) -> float:
    """P(e = 1) with independent ports of the given duties (OpenSTA's evalActivity duty)."""
    kind = e[0]
    if kind == "port":
        return duty(e[1])
    if kind == "const":
        return float(e[1])
    if kind == "not":
        return 1.0 - _probability(e[1], duty)
    a, b = _probability(e[1], duty), _probability(e[2], duty)
    if kind == "and":
        return a * b
    if kind == "or":
        return 1.0 - (1.0 - a) * (1.0 - b)
    return a * (1.0 - b) + b * (1.0 - a)


def _is_ref(e: Expr, port: str) -> bool:
    return e == ("port", port) or (e[0] == "not" and e[1] == ("port", port))


def _negate(e: Expr) -> Expr:
    return e[1] if e[0] == "not" else ("not", e)


def _inferred_when(f: Expr, port: str) -> Optional[Expr]:
    """OpenSTA 2.0.x's Power::inferedWhen: the condition under which ``port`` drives f, for a
    port that is f, or a literal operand of f's top and/or/xor; else None."""
    kind = f[0]
    if kind == "port":
        return ("const", 1) if f[1] == port else None
    if kind == "not":
        return _inferred_when(f[1], port)
    if kind in ("or", "xor", "and"):
        for mine, other in ((f[1], f[2]), (f[2], f[1])):
            if _is_ref(mine, port):
                return other if kind == "and" else _negate(other)
    return None


def _leakage(cell: Cell, states: Optional[np.ndarray]) -> float:
    """Leakage power (W) of an instance, averaged over its states in the run (``states``:
    the fraction of vectors each ``leakage_power`` group's ``when`` held)."""
    if not cell.leakage_states or states is None:
        return cell.leakage
    total = float(np.dot(states, [pw for _, pw in cell.leakage_states]))
    covered = float(states.sum())
    default = [pw for wh, pw in cell.leakage_states if wh is None]
    rest = default[0] if default else cell.leakage
    return total + max(0.0, 1.0 - covered) * rest
