"""Glitch-aware gate-level toggles: timing simulation of multipliers, MACs and netlists.

The zero-delay simulator (``bitsim.simulate_gates``) changes each net at most once per vector.
With gate delays, partial products reach the adders at different times and nets switch several
times before they settle (glitches). ``simulate_timing`` counts every change of every net of a
multiplier, a MAC or a netlist without flip-flops; ``simulate_netlist_timing`` of a netlist
with flip-flops (a MAC with its accumulator register, cycle by cycle).

Sources. The nets that change at t = 0 are the operand inputs and, in a MAC or a sequential
netlist, every other input (a MAC's 'first', a clear port) and every register output (a MAC's
accumulator state, flip-flop outputs): no clock-to-Q delay. Their values in each cycle come
from the zero-delay models, which are exact for registers (a register stores its input's
settled value): the MAC model (as ``bitsim.simulate_gates``) or the cycle-by-cycle simulation
of ``bitsim.simulate_netlist``. The clock period is assumed longer than the settle time, so
every register samples a settled input and the next cycle starts from settled nets.

Time model. Time is an integer step count. For each vector, the operand inputs change at t = 0
from the previous vector's values (all nets start the first vector from the settled state of
all-0 inputs); every other net starts at its settled (zero-delay) value of the previous vector.
Each gate has a rise delay r and a fall delay f (integer steps), ``delay``:

* 'unit': every gate r = f = 1;
* a mapping gate type -> steps or (rise, fall), e.g. ``{"XOR": 2, "AND": (1, 2)}``: types
  not named get 1;
* a pair ``(rise, fall)`` of integer arrays, one element per gate of ``netlist.gates`` (in
  that order), each in [1, MAX_DELAY];
* 'liberty' (a MappedNetlist): each cell's rise and fall delays from its library's timing
  tables at its load and input slew, in steps of ``time_step`` (``bitsim.sim.liberty_delay``).

Gates internal to a library cell (``Gate.part == 'internal'``: ``bitsim.circuits.mapped``
compiles a cell's function into several primitive gates, only the gate driving the cell's
output pin carries the cell's part) have r = f = 0 whatever the form (an array must hold 0
there and only there): they settle within the time step at which an input changes, evaluated
in level order, so the cell's function reaches its delayed output as one expression, as in
``assign #(r, f) out = <cell function of the input pins>``. Their nets are not physical
wires: their changes are not counted (rise, fall and settled are 0 for them).

In each time step t the output events scheduled for t happen first, then every gate's function
g is evaluated on the nets' values at t (zero-delay gates first update their output: they
come before their readers in level order); where g changed since t - 1 to a value v, an event
"output := v" is scheduled at t + r if v = 1, t + f if v = 0 (Verilog ``assign #(r, f)``:
the delay of a change is the rise delay when the new value is 1). The vector ends when no event
is pending (the settle time: the last step at which a net changed); the next vector's inputs
are applied after that (a clock period longer than the settle time).

Semantics (``semantics``):

* 'inertial' (default; Verilog ``assign #(r, f)``, iverilog's continuous assignments and
  module paths alike): scheduling an event cancels the gate's pending ones, so a pulse of g
  shorter than the delay of its new value never reaches the output. Closed form, with v =
  g(t - 1) and d = r if v else f: out(t) = v when g held v over [t - d, t - 1], else
  out(t - 1).
* 'transport' (every change propagates with its own delay): an event deletes the gate's
  pending events scheduled at or after its own time (VHDL's ``transport`` rule, IEEE 1076
  10.5.2.2), so a change of g never overtakes a later one. Closed form: out(t) = g(t - k) for
  the smallest k >= 1 with d(g(t - k)) <= k; with r < f, out(t) = OR of g(t - r .. t - f)
  (a falling pulse shorter than f - r is swallowed, a rising one stretched), with r > f the
  AND. With r = f it is the plain delay out(t) = g(t - d). Verilog has no transport
  continuous assignment; its usual idiom, ``always @* out <= #(g ? r : f) g``, equals this
  with r = f, but with r != f lets a later change overtake an earlier one and can leave
  the output at a stale value after the inputs settled (iverilog 11 does so; checked in
  tests/sim/test_timing.py), which no gate does: so bitsim follows VHDL, checked against
  GHDL where it is installed.

With unit delay the two are the same. Results: per net, changes rising and falling counted
separately; ``settled``: the changes between the settled states (equal to the zero-delay
counts of ``bitsim.simulate_gates``); ``glitches`` = total - settled (always an even number
per net and vector). Backends: 'c' (csrc/timing.c: bit-sliced, 64, 256 or 512 vectors a word
operation by instruction set, each gate evaluated only at the steps of its event window, the
schedule built once by ``bitsim.backends.timing_plan``), 'numba' (bit-sliced, 64 vectors a
word) and 'reference' (an event queue over numpy arrays: the oracle); all give identical
results.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from bitsim._core.checks import InputError, InputTypeError, check_choice, check_int
from bitsim._core.interrupt import Workers
from bitsim._core.segments import tail_range
from bitsim.backends.dispatch import BACKENDS, select
from bitsim.backends.reference.gates import sources as ref_sources
from bitsim.backends.timing_plan import TimingProgram
from bitsim.circuits.multipliers import MultiplierCircuit, structure
from bitsim.circuits.netlist import GATE_TYPES, Netlist
from bitsim.sim import mac
from bitsim.sim.formats import IntFormat
from bitsim.sim.gates import GateToggles, Program, compile_netlist
from bitsim.sim.operands import Stream

__all__ = [
    "SEMANTICS",
    "Delay",
    "TimingToggles",
    "gate_delays",
    "simulate_netlist_timing",
    "simulate_timing",
]

SEMANTICS = ("inertial", "transport")
CHUNK = 1 << 16  # vectors per kernel call: memory does not grow with n
REFERENCE_CHUNK = 1 << 10  # the reference holds an event table of gates x steps x vectors
MAX_DELAY = 1000
_ARITY = {"NOT": 1, "BUF": 1, "MUX": 3}
MAX_SOURCES = 126  # nets changing at t = 0: the kernels read them as two buses of <= 63 bits
TRACE_BLOCK = 4096  # cycles of a sequential netlist traced at a time (every net's values)
INTERNAL = "internal"  # Gate.part of the gates inside a library cell (bitsim.circuits.mapped)
_FORMS = "'unit', a mapping gate type -> steps or (rise, fall), or a pair (rise, fall) of arrays"
Delay = Union[str, Mapping[str, Union[int, Tuple[int, int]]], Tuple[Sequence[int], Sequence[int]]]


def gate_delays(netlist: Netlist, prog: Program, delay: Delay) -> Tuple[np.ndarray, np.ndarray]:
    """(rise, fall): the integer delays (time steps) of each gate of a compiled program, in
    program order (see the module docstring for the forms of ``delay``). Gates internal to a
    library cell (part 'internal') get 0; every other gate rise, fall >= 1."""
    count = len(netlist.gates)
    internal = np.asarray([g.part == INTERNAL for g in netlist.gates], dtype=bool)
    if isinstance(delay, str):
        if delay != "unit":
            raise InputError(f"delay: expected {_FORMS}, found {delay!r}")
        rise = fall = np.where(internal, 0, 1).astype(np.int64)
    elif isinstance(delay, Mapping):
        by_type = {}
        for name, steps in delay.items():
            if name not in GATE_TYPES or name == "DFF":
                raise InputError(
                    f"delay: expected gate types among {', '.join(GATE_TYPES[:-1])}, found {name!r}"
                )
            pair = steps if isinstance(steps, tuple) else (steps, steps)
            if len(pair) != 2:
                raise InputError(
                    f"delay[{name!r}]: expected steps or (rise, fall), found {steps!r}"
                )
            by_type[name] = tuple(check_int(v, f"delay[{name!r}]", 1, MAX_DELAY) for v in pair)
        rf = [(0, 0) if i else by_type.get(g.type, (1, 1)) for g, i in zip(netlist.gates, internal)]
        rise = np.asarray([r for r, _ in rf], dtype=np.int64).reshape(count)
        fall = np.asarray([f for _, f in rf], dtype=np.int64).reshape(count)
    elif isinstance(delay, tuple) and len(delay) == 2:
        rise, fall = (_per_gate(v, k, count, internal) for k, v in zip(("rise", "fall"), delay))
    else:
        raise InputTypeError(f"delay: expected {_FORMS}, found {type(delay).__name__}")
    index = {g.out: i for i, g in enumerate(netlist.gates)}
    order = np.asarray([index[int(o)] for o in prog.out], dtype=np.int64)
    return rise[order], fall[order]


def _per_gate(values, name: str, count: int, internal: np.ndarray) -> np.ndarray:
    """One of the (rise, fall) arrays of a per-gate delay, checked."""
    arr = np.asarray(values)
    if arr.shape != (count,) or arr.dtype.kind not in "iu":
        raise InputError(
            f"delay: expected {name} as an integer array of {count} elements (one per gate of "
            f"netlist.gates), found {arr.dtype} of shape {arr.shape}"
        )
    arr = arr.astype(np.int64)
    bad = np.flatnonzero(internal & (arr != 0))
    if len(bad):
        raise InputError(
            f"delay: expected {name} 0 for gates internal to a library cell, found "
            f"{arr[bad[0]]} at gate {bad[0]}"
        )
    bad = np.flatnonzero(~internal & ((arr < 1) | (arr > MAX_DELAY)))
    if len(bad):
        raise InputError(
            f"delay: expected {name} in [1, {MAX_DELAY}] for gates that drive a physical net, "
            f"found {arr[bad[0]]} at gate {bad[0]}"
        )
    return arr


def _empty() -> np.ndarray:
    return np.zeros(0, dtype=np.uint64)


@dataclass
class TimingToggles(GateToggles):
    """Toggles of a timing simulation (``per_net``: every change, glitches included).

    Attributes beyond GateToggles: ``rise``/``fall`` (changes to 1 / to 0 per net),
    ``settled_rise``/``settled_fall`` (the same between settled states: zero-delay),
    ``settle`` (vectors by settle time: element t counts vectors whose last change was at step
    t), ``semantics``."""

    rise: np.ndarray = field(default_factory=_empty)
    fall: np.ndarray = field(default_factory=_empty)
    settled_rise: np.ndarray = field(default_factory=_empty)
    settled_fall: np.ndarray = field(default_factory=_empty)
    settle: np.ndarray = field(default_factory=_empty)
    semantics: str = "inertial"

    @property
    def settled(self) -> np.ndarray:
        """Zero-delay toggles of each net."""
        return self.settled_rise + self.settled_fall

    @property
    def glitches(self) -> np.ndarray:
        """Glitch toggles of each net: changes beyond the settled ones."""
        return self.per_net - self.settled

    def glitch_totals(self) -> Dict[str, float]:
        """Totals over every net: total, settled, glitches, rise, fall, glitch share
        (glitches / total), settle time (steps: max and mean over vectors)."""
        total = int(self.per_net.sum())
        glitches = int(self.glitches.sum())
        steps = np.arange(len(self.settle))
        return {
            "total": total,
            "settled": total - glitches,
            "glitches": glitches,
            "rise": int(self.rise.sum()),
            "fall": int(self.fall.sum()),
            "glitch_share": glitches / total if total else 0.0,
            "settle_max": int(steps[self.settle > 0].max(initial=0)),
            "settle_mean": float((steps * self.settle).sum() / max(1, self.vectors)),
        }

    def per_vector(self) -> Dict[str, float]:
        """GateToggles.per_vector (every change counted, glitches included) plus ``settled``
        (the zero-delay toggles) and ``glitches``, per vector."""
        out = super().per_vector()
        n = max(1, self.vectors)
        out["settled"] = float(self.settled.sum()) / n
        out["glitches"] = float(self.glitches.sum()) / n
        return out

    def glitches_per_part(self) -> Dict[str, int]:
        """Glitch toggles by part (gate outputs by their part)."""
        out: Dict[str, int] = {}
        g = self.glitches
        for gate in self.netlist.gates:
            part = gate.part or "logic"
            out[part] = out.get(part, 0) + int(g[gate.out])
        return out


def simulate_timing(
    circuit,
    x="uniform",
    w="uniform",
    *,
    delay: Union[Delay, str] = "unit",
    semantics: str = "inertial",
    time_step: Optional[float] = None,
    signed: Optional[bool] = None,
    x_port: str = "x",
    w_port: str = "w",
    length: Optional[int] = None,
    n: Optional[int] = None,
    seed: int = 0,
    threads: int = 1,
    backend: str = "c",
    simd: str = "auto",
) -> TimingToggles:
    """Glitch-aware toggle counts of a circuit over operand vectors.

    circuit: a MultiplierCircuit (a multiplier, or a MAC: its 'first' input and accumulator
    state come from the MAC model, as in ``bitsim.simulate_gates``, and change at t = 0 with the
    operands), a Netlist without flip-flops, or a MappedNetlist (``bitsim.circuits.mapped``);
    netlists with flip-flops: ``simulate_netlist_timing``. x, w, signed, length, n, seed as for
    ``bitsim.simulate_gates``; delay and semantics: see the module docstring; delay 'liberty'
    (a MappedNetlist): each cell's delays from its library (``bitsim.sim.liberty_delay``) in
    steps of ``time_step`` seconds (default 10 ps). Chunks of vectors run on ``threads``
    threads; results do not depend on threads or chunks. backend: 'c' (csrc/timing.c;
    ``simd``: 'auto', 'scalar', 'avx2', 'avx512'), 'numba' or 'reference'."""
    netlist, mapped = _unwrap(circuit)
    semantics = check_choice(semantics, "semantics", SEMANTICS)
    backend = check_choice(backend, "backend", BACKENDS)
    if any(g.type == "DFF" for g in netlist.gates):
        raise InputError(
            "circuit: expected a netlist without flip-flops (a MAC's accumulator as a state "
            "bus is fine), found flip-flops: use bitsim.simulate_netlist_timing"
        )
    if signed is None:
        signed = bool(getattr(circuit, "signed", False))
    prog = compile_netlist(netlist, x_port, w_port, length)
    xb, wb = len(prog.x_nets), len(prog.w_nets)
    if not (1 <= xb <= 32 and 1 <= wb <= 32):
        raise InputError(f"x_port, w_port: expected buses of 1 to 32 bits, found {xb} and {wb}")
    if set(netlist.state) - {"acc"}:
        raise InputError(
            f"circuit: expected no state bus but a MAC's 'acc', found "
            f"{', '.join(sorted(set(netlist.state) - {'acc'}))}"
        )
    rise_d, fall_d = gate_delays(netlist, prog, _resolve(delay, mapped, time_step))
    cfg, xs, ws, n, seed = mac.prepare(
        x, w, x_bits=xb, w_bits=wb, acc_bits=64, signed=signed, length=length, n=n, seed=seed
    )
    first = [prog.first_net] if prog.first_net >= 0 else []
    nets = np.concatenate([prog.x_nets, prog.w_nets, first, prog.acc_nets]).astype(np.int64)
    idle = _undriven(prog, nets)  # other input ports: 0
    nets = np.concatenate([nets, idle])
    tails = select(backend, simd).mac_tail
    state = [0, 0]  # a vector and the accumulator's exact state there (the sum before it)

    def values(start: int, count: int) -> np.ndarray:
        """The sources' values in vectors [start - 1, start + count) (the vector before start
        first; all 0 before vector 0): bool[sources, count + 1]. Called in order of start."""
        lo = max(0, start - 1)
        if len(prog.acc_nets) and lo > state[0]:
            tail, restarted = tails(cfg, xs, ws, *tail_range(cfg.length, state[0], lo))
            state[:] = lo, int(tail) + (0 if restarted else state[1])
        xv, wv, fv, av = ref_sources(prog, xs, ws, count + (start > 0), lo, state[1])
        for stream, v in ((xs, xv), (ws, wv)):
            bad = np.flatnonzero((v < stream.fmt.lo) | (v > stream.fmt.hi))
            if len(bad):  # only arrays can hold values outside the format
                raise stream.range_error(lo + int(bad[0]))
        cols = [_bit_rows(xv, xb), _bit_rows(wv, wb)]
        if first:
            cols.append(fv[None, :].astype(bool))
        cols.append(_bit_rows(av, len(prog.acc_nets)))
        cols.append(np.zeros((len(idle), len(xv)), dtype=bool))
        out = np.concatenate(cols)
        if start == 0:
            out = np.concatenate([np.zeros((len(nets), 1), dtype=bool), out], axis=1)
        return out

    chunk = _chunk(backend)
    starts = range(0, n, chunk)
    if len(nets) == xb + wb:  # a multiplier: the kernels read the operand streams themselves
        cloud = prog
        tasks = ((xs, ws, start, min(chunk, n - start)) for start in starts)
    else:
        cloud = _cloud(prog, nets)
        tasks = (_streams(cloud, values(start, min(chunk, n - start))) for start in starts)
    return _timed(
        cloud, rise_d, fall_d, semantics, tasks, threads, backend, simd,
        TimingToggles(netlist, n, _empty(), x_port, w_port, structure(_counted(circuit)), None),
    )  # fmt: skip


def simulate_netlist_timing(
    netlist,
    ports: Mapping[str, object],
    *,
    delay: Union[Delay, str] = "unit",
    semantics: str = "inertial",
    time_step: Optional[float] = None,
    signed: Union[bool, Mapping[str, bool]] = False,
    n: Optional[int] = None,
    seed: int = 0,
    clear_port: Optional[str] = None,
    length: Optional[int] = None,
    clear_latency: Optional[int] = None,
    threads: int = 1,
    backend: str = "c",
    simd: str = "auto",
) -> TimingToggles:
    """Glitch-aware toggle counts of a sequential netlist (flip-flops, feedback: a MAC with
    its accumulator register) over n clock cycles.

    Model: ``bitsim.simulate_netlist``'s cycles (ports, signed, n, seed, clear_port, length,
    clear_latency as there; the change from the reset state into cycle 0 is counted), with
    the combinational logic simulated with delays. In each cycle the flip-flops' outputs take
    their new values at t = 0 together with the input ports (no clock-to-Q delay), from the
    zero-delay cycle-by-cycle simulation (exact: the state a register stores is its input's
    settled value); then the logic settles as in ``simulate_timing``. The clock period is
    assumed longer than the settle time (``settle_max`` steps): every register samples a
    settled input. netlist: a Netlist or a MappedNetlist (delay 'liberty' as in
    ``simulate_timing``); threads, backend, simd: as there (the cycles' register states come
    from a compiled trace, or the reference's with backend 'reference')."""
    from bitsim.sim import sequential

    netlist, mapped = _unwrap(netlist)
    semantics = check_choice(semantics, "semantics", SEMANTICS)
    backend = check_choice(backend, "backend", BACKENDS)
    sprog, streams, names, n = sequential.prepare(
        netlist, ports, signed, n, seed, clear_port, length, clear_latency
    )
    clear = [sprog.clear_net] if sprog.clear_net >= 0 else []
    nets = np.concatenate([*sprog.port_nets, clear, sprog.dff_q]).astype(np.int64)
    nets = np.asarray(sorted({*nets.tolist(), *_undriven(sprog, nets).tolist()}), dtype=np.int64)
    prog = _cloud(sprog, nets)
    rise_d, fall_d = gate_delays(netlist, prog, _resolve(delay, mapped, time_step))
    for stream in streams:  # arrays: in the port's format (samplers always are)
        if stream.array is not None:
            v = stream.array[:n]
            bad = np.flatnonzero((v < stream.fmt.lo) | (v > stream.fmt.hi))
            if len(bad):
                raise stream.range_error(int(bad[0]))
    chunk = _chunk(backend)
    if backend == "reference":
        from bitsim.backends.reference.seqgates import trace
    else:
        from bitsim.backends.jit.seqgates import trace

    def tasks():
        """(start, the sources' values in cycles [start - 1, start + count)), cycle after
        cycle: each block's trace starts from the last cycle of the one before."""
        before = None
        for start in range(0, n, chunk):
            cols = []
            stop = min(n, start + chunk)
            for lo in range(start, stop, TRACE_BLOCK):
                rows = trace(sprog, streams, min(TRACE_BLOCK, stop - lo), lo, before)
                cols.append(rows[: 1 if lo == start else 0, nets])
                cols.append(rows[1:, nets])
                before = rows[-1]
            yield _streams(prog, np.ascontiguousarray(np.concatenate(cols).T))

    out = _timed(
        prog, rise_d, fall_d, semantics, tasks(), threads, backend, simd,
        TimingToggles(
            netlist, n, _empty(), names[0] if names else "", names[1] if len(names) > 1 else "",
            {"gates": netlist.count()}, n,
        ),
    )  # fmt: skip
    hidden = sorted(netlist.internal | netlist.clocks | {0, 1})
    for counts in (out.rise, out.fall, out.settled_rise, out.settled_fall):
        counts[hidden] = 0
    out.per_net = out.rise + out.fall
    return out


def _unwrap(circuit):
    """(netlist, mapped or None) of a MultiplierCircuit, Netlist or MappedNetlist."""
    from bitsim.circuits.mapped import MappedNetlist

    if isinstance(circuit, MappedNetlist):
        return circuit.netlist, circuit
    netlist = circuit.netlist if isinstance(circuit, MultiplierCircuit) else circuit
    if not isinstance(netlist, Netlist):
        raise InputTypeError(
            f"circuit: expected a MultiplierCircuit, a Netlist or a MappedNetlist, found "
            f"{type(circuit).__name__}"
        )
    return netlist, None


def _resolve(delay, mapped, time_step):
    """delay 'liberty' as per-gate (rise, fall) arrays from the library; others unchanged."""
    if not (isinstance(delay, str) and delay == "liberty"):
        if time_step is not None:
            raise InputError(f"time_step: only with delay 'liberty', found delay {delay!r}")
        return delay
    if mapped is None:
        raise InputError(
            "delay: 'liberty' needs a netlist mapped to a library (a MappedNetlist: "
            "bitsim.circuits.mapped.map_circuit or load_mapped_json)"
        )
    from bitsim.sim.liberty_delay import DEFAULT_TIME_STEP_PS, liberty_delays  # imports energy

    d = liberty_delays(mapped, DEFAULT_TIME_STEP_PS * 1e-12 if time_step is None else time_step)
    return d.rise, d.fall


def _chunk(backend: str) -> int:
    return REFERENCE_CHUNK if backend == "reference" else CHUNK


def _undriven(prog, nets: np.ndarray) -> np.ndarray:
    """The nets prog's gates read that no gate drives, but ``nets`` and the constants (input
    ports nothing drives, register outputs): sources too, so that every kernel sees them."""
    read: set = set()
    for op, a, b, c in zip(prog.op, prog.a, prog.b, prog.c):
        read.update((int(a), int(b), int(c))[: _ARITY.get(GATE_TYPES[op], 2)])
    other = read - set(prog.out.tolist()) - set(nets.tolist()) - {0, 1}
    return np.asarray(sorted(other), dtype=np.int64)


def _cloud(prog, nets: np.ndarray) -> Program:
    """The kernels' Program of a combinational cloud (prog's gates, flip-flops excluded) whose
    sources are ``nets`` (they change at t = 0), read by the kernels as two operand buses
    (x_nets, w_nets) of up to 63 bits (a lone source is paired with the constant-0 net)."""
    if len(nets) > MAX_SOURCES:
        raise InputError(
            f"circuit: expected at most {MAX_SOURCES} nets that change at t = 0 (input and "
            f"register bits), found {len(nets)}"
        )
    nets = np.concatenate([nets, np.zeros(max(0, 2 - len(nets)), dtype=np.int64)])
    half = (len(nets) + 1) // 2
    return Program(
        prog.nets, prog.op, prog.a, prog.b, prog.c, prog.out,
        x_nets=nets[:half].astype(np.int32), w_nets=nets[half:].astype(np.int32),
        acc_nets=np.zeros(0, dtype=np.int32), first_net=-1, length=None, register_depth=0,
    )  # fmt: skip


def _streams(prog, vals: np.ndarray):
    """(x, w, 1, count): a chunk's sources' values bool[sources, count + 1] (the vector
    before first) as the two operand arrays of ``prog`` (``_cloud``), for ``timing_run``."""
    xb, wb = len(prog.x_nets), len(prog.w_nets)
    if len(vals) < xb + wb:  # the constant-0 partner of a lone source
        vals = np.concatenate([vals, np.zeros((xb + wb - len(vals), vals.shape[1]), bool)])
    xs, ws = (
        Stream(name, IntFormat(bits, False), array=_words(part))
        for name, bits, part in (("x", xb, vals[:xb]), ("w", wb, vals[xb:]))
    )
    return xs, ws, 1, vals.shape[1] - 1


def _timed(prog, rise_d, fall_d, semantics, tasks, threads, backend, simd, out):
    """Run the timing kernels over ``tasks`` ((x, w, start, count) per chunk: operand streams
    of prog and the vectors to count) and fill ``out``'s counts."""
    threads = check_int(threads, "threads", 1, 1024)
    kernels = select(backend, simd)
    tp = TimingProgram(prog, rise_d, fall_d, semantics == "inertial")
    if backend == "c":
        _ = tp.plan  # built once, before the threads share it

    def run(task):
        """Counts of one chunk."""
        return kernels.timing_run(tp, *task)

    rise = np.zeros(prog.nets, dtype=np.uint64)
    fall, srise, sfall = rise.copy(), rise.copy(), rise.copy()
    settle = np.zeros(tp.horizon + 1, dtype=np.int64)
    with Workers(threads) as workers:
        for r, f, sr, sf, hist in workers.imap(run, tasks):
            rise += r
            fall += f
            srise += sr
            sfall += sf
            settle += hist
    hidden = prog.out[(rise_d == 0) & (fall_d == 0)]  # nets inside library cells
    for counts in (rise, fall, srise, sfall):
        counts[hidden] = 0
    out.per_net = rise + fall
    out.rise, out.fall, out.settled_rise, out.settled_fall = rise, fall, srise, sfall
    out.settle = settle
    out.semantics = semantics
    return out


def _words(bits: np.ndarray) -> np.ndarray:
    """bool[k <= 63, m] as m int64 values, row j bit j."""
    weights = np.uint64(1) << np.arange(len(bits), dtype=np.uint64)
    return (bits.T.astype(np.uint64) * weights).sum(axis=1, dtype=np.uint64).view(np.int64)


def _bit_rows(values: np.ndarray, bits: int) -> np.ndarray:
    """Bit j of every value (two's complement; LSB first): bool[bits, len(values)]."""
    u = values.astype(np.uint64)
    return ((u[None, :] >> np.arange(bits, dtype=np.uint64)[:, None]) & np.uint64(1)).astype(bool)


def _counted(circuit):
    """What the structure counts describe: a generated circuit, else the netlist."""
    return circuit if isinstance(circuit, MultiplierCircuit) else _unwrap(circuit)[0]
