"""Gate-level toggle simulation of multipliers, MACs and users' netlists: the public API.

``simulate_gates(circuit, x, w, ...)`` applies operand vectors (the same arrays and seeded
samplers as ``bitsim.simulate_mac``) to a netlist, one vector per cycle, and counts the toggles
(changes between consecutive vectors, zero-delay model) of every net. Before the first vector
all inputs and registers are 0 and the other nets hold what follows from that. A MAC circuit
(``bitsim.circuits.multipliers.mac_circuit``) also gets its 'first' input (1 on the first term
of each dot product) and the state of its accumulator register (the previous partial sum, modulo
2^acc_bits) from the same model as the register-level simulator, so its product and accumulator
nets toggle exactly as the register-level simulator's registers.

Toggles are reported per net, per gate type, per part of the circuit (partial products,
reduction tree, final adder, accumulator adder, registers) and as totals per vector:
``inputs`` (operand and control input nets), ``gates`` (every gate output, registers
included), ``outputs`` (output bus nets) and ``total`` (every net).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Dict, Iterator, Optional, Tuple

import numpy as np

from bitsim._core.checks import InputError, InputTypeError, check_int
from bitsim._core.interrupt import Workers
from bitsim._core.progress import progress_callback
from bitsim._core.segments import chain, ranges, segment_size, tail_range
from bitsim.backends.dispatch import select
from bitsim.circuits.multipliers import MultiplierCircuit, structure
from bitsim.circuits.netlist import OPCODE, Netlist
from bitsim.sim import mac

__all__ = [
    "GateToggles",
    "Program",
    "compile_netlist",
    "levelized",
    "scheduled",
    "simulate_gates",
]

MIN_VECTORS_PER_THREAD = 4096  # below this a run is not worth splitting
SEGMENT_GATE_VECTORS = 1 << 28  # gates x vectors per task: about a millisecond of the C kernel


@dataclass
class Program:
    """A netlist flattened for the kernels: gates in topological order as int32 arrays."""

    nets: int
    op: np.ndarray
    a: np.ndarray
    b: np.ndarray
    c: np.ndarray
    out: np.ndarray
    x_nets: np.ndarray
    w_nets: np.ndarray
    acc_nets: np.ndarray
    first_net: int
    length: Optional[int]
    register_depth: int  # most flip-flops on any path from an input: the state's memory

    @property
    def warmup(self) -> int:
        """Vectors to replay before a segment so that every net holds its true value (the
        register state, and the values of the vector before the first counted one)."""
        return self.register_depth + 1


def compile_netlist(
    netlist: Netlist, x_port: str = "x", w_port: str = "w", length: Optional[int] = None
) -> Program:
    """Check and flatten a netlist; the operand ports must be input buses."""
    for port, name in ((x_port, "x_port"), (w_port, "w_port")):
        if port not in netlist.inputs:
            raise InputError(
                f"{name}: expected one of the input buses "
                f"{', '.join(sorted(netlist.inputs))}, found {port!r}"
            )
    if x_port == w_port:
        raise InputError(f"w_port: expected a bus other than x_port, found {w_port!r}")
    try:
        order = netlist.ordered()
    except InputError:
        if netlist.has_feedback():
            raise InputError(
                "netlist: feedback through flip-flops (a sequential netlist): simulate it cycle "
                "by cycle with bitsim.simulate_netlist (bitsim gates --netlist ... --port ...)"
            ) from None
        raise
    gates = scheduled(order)
    rows = [(OPCODE[g.type], *g.inputs, *(0,) * (3 - len(g.inputs)), g.out) for g in gates]
    table = np.array(rows, dtype=np.int32).reshape(len(gates), 5)
    cols = {k: table[:, j].copy() for j, k in enumerate(("op", "a", "b", "c", "out"))}
    first = netlist.inputs.get("first", [-1])
    acc = netlist.state.get("acc", [])
    return Program(
        netlist.nets,
        **cols,
        x_nets=np.asarray(netlist.inputs[x_port], dtype=np.int32),
        w_nets=np.asarray(netlist.inputs[w_port], dtype=np.int32),
        acc_nets=np.asarray(acc, dtype=np.int32),
        first_net=int(first[0]),
        length=length,
        register_depth=_register_depth(gates),
    )


def _register_depth(gates) -> int:
    """Most DFFs on any path through the gates (in topological order); 0 without DFFs."""
    if not any(g.type == "DFF" for g in gates):
        return 0
    depth: Dict[int, int] = {}
    for g in gates:
        depth[g.out] = max((depth.get(i, 0) for i in g.inputs), default=0) + (g.type == "DFF")
    return max(depth.values(), default=0)


def levelized(order):
    """The gates by logic level, and by type within a level: still a topological order, in
    which the gates of one type in one level are consecutive: the C kernels evaluate each such
    run as one loop specialised to that type, with no dispatch per gate (csrc/gates.h)."""
    level: Dict[int, int] = {}
    for g in order:
        level[g.out] = 1 + max((level.get(i, 0) for i in g.inputs), default=0)
    return sorted(order, key=lambda g: (level[g.out], OPCODE[g.type]))


def scheduled(order):
    """The order in which the zero-delay C kernel evaluates the gates: each gate at the latest
    logic level its readers allow (as late as possible, ALAP), by type within a level, the
    previous level's last type first. Still a topological order in runs of one type (as
    ``levelized``), but a value is made shortly before it is read, so fewer values are live at
    once: the kernel keeps each live value in a slot of 512 bytes (8 blocks of 512 vectors), and
    against ``levelized`` this cuts the gate outputs' slots of the 16x16 Dadda multiplier from
    346 to 116 (173 -> 58 KiB: fewer spill from L1 to L2; the kernel 1.15-1.2x faster), of the
    8x8 Dadda from 88 to 49 and of tests/data/netlists/mult8.json from 77 to 58. Chaining the
    types across levels keeps the runs few: 115 -> 116, 58 -> 52 and 59 -> 72."""
    level: Dict[int, int] = {}  # logic level: ASAP first, then its latest (ALAP)
    for g in order:
        level[g.out] = 1 + max((level.get(i, 0) for i in g.inputs), default=0)
    latest: Dict[int, int] = {}  # a net's earliest reader's level (sinks: after the last level)
    last = max(level.values(), default=0)
    for g in reversed(order):
        lv = level[g.out] = latest.get(g.out, last + 1) - 1
        for i in g.inputs:
            if latest.get(i, last + 1) > lv:
                latest[i] = lv
    by_level: Dict[int, list] = {}
    for g in order:
        by_level.setdefault(level[g.out], []).append(g)
    out: list = []
    for lv in sorted(by_level):
        previous = out[-1].type if out else None
        out += sorted(by_level[lv], key=lambda g: (g.type != previous, OPCODE[g.type]))
    return out


@dataclass
class GateToggles:
    """Toggles of a gate-level simulation.

    Attributes
    ----------
    vectors : int
        Operand vectors applied (one per cycle).
    per_net : ndarray of uint64
        Toggles of each net over the run.
    transitions : int or None
        Changes between cycles counted (``bitsim.simulate_netlist``: n, or n - 1 when the first
        cycle is skipped); per-vector figures divide by it. None: ``vectors``.
    """

    netlist: Netlist
    vectors: int
    per_net: np.ndarray
    x_port: str
    w_port: str
    counts: Dict = field(default_factory=dict)
    transitions: Optional[int] = None

    def structure(self) -> Dict:
        """Structure counts of the circuit (``bitsim.circuits.multipliers.structure``)."""
        return self.counts

    def _sum(self, nets) -> int:
        nets = list(nets)
        return int(self.per_net[nets].sum()) if nets else 0

    def per_type(self) -> Dict[str, int]:
        out: Dict[str, int] = {}
        for g in self.netlist.gates:
            out[g.type] = out.get(g.type, 0) + int(self.per_net[g.out])
        return out

    def per_part(self) -> Dict[str, int]:
        """Toggles by part: every gate's output by its part; 'registers': flip-flop outputs
        and the bits of every state register (a MAC's accumulator) over its writes in the run,
        one per vector, the last included. A register's output repeats its next-value (D) nets
        one cycle later, so its writes toggle as those nets do over the run; its output nets,
        counted in 'total', show one write fewer (the last lands after the last vector)."""
        out: Dict[str, int] = {}
        for g in self.netlist.gates:
            part = "registers" if g.type == "DFF" else (g.part or "logic")
            out[part] = out.get(part, 0) + int(self.per_net[g.out])
        for name, bus in self.netlist.state.items():
            written = self.netlist.next_state.get(name, bus)
            out["registers"] = out.get("registers", 0) + self._sum(written)
        return out

    def totals(self) -> Dict[str, int]:
        nl = self.netlist
        inputs = {n for bus in nl.inputs.values() for n in bus}
        return {
            "total": int(self.per_net.sum()),
            "inputs": self._sum(inputs),
            "gates": self._sum(g.out for g in nl.gates),
            "outputs": self._sum({n for bus in nl.outputs.values() for n in bus}),
        }

    def bus(self, name: str) -> np.ndarray:
        """Toggles of each net of an input, output or state bus (LSB first)."""
        nl = self.netlist
        for buses in (nl.inputs, nl.outputs, nl.state):
            if name in buses:
                return self.per_net[buses[name]]
        raise InputError(f"bus: expected one of {', '.join(self.bus_names())}, found {name!r}")

    def bus_names(self):
        nl = self.netlist
        return sorted({*nl.inputs, *nl.outputs, *nl.state})

    def per_port(self) -> Dict[str, float]:
        """Toggles per vector (cycle) of every input and output port but clocks, each net of
        a port once."""
        nl = self.netlist
        n = max(self.vectors if self.transitions is None else self.transitions, 1)
        return {
            name: self._sum(set(bus)) / n
            for name, bus in {**nl.outputs, **nl.inputs}.items()
            if not set(bus) & nl.clocks
        }

    def named(self) -> Dict[str, int]:
        """Toggles of every counted net by name (constants, clocks and the nets an importer
        adds inside a cell left out)."""
        nl = self.netlist
        skip = nl.internal | nl.clocks | {0, 1}
        return {nl.net_name(n): int(self.per_net[n]) for n in range(nl.nets) if n not in skip}

    def per_vector(self) -> Dict[str, float]:
        """Totals and parts divided by the number of vectors (toggles per MAC)."""
        n = max(self.vectors if self.transitions is None else self.transitions, 1)
        return {k: v / n for k, v in {**self.totals(), **self.per_part()}.items()}


def _pairs(items: Iterator[int]) -> Iterator[Tuple[int, int]]:
    """Consecutive pairs (a, b), (b, c), ... of ``items``."""
    for previous in items:
        for item in items:
            yield previous, item
            previous = item


def simulate_gates(
    circuit,
    x="uniform",
    w="uniform",
    *,
    signed: Optional[bool] = None,
    x_port: str = "x",
    w_port: str = "w",
    length: Optional[int] = None,
    n: Optional[int] = None,
    seed: int = 0,
    threads: int = 1,
    simd: str = "auto",
    backend: str = "c",
    progress=None,
) -> GateToggles:
    """Toggle counts of a circuit (MultiplierCircuit or Netlist) over operand vectors.

    x, w: arrays or samplers as for ``bitsim.simulate_mac``, in the formats of the x_port and
    w_port buses (signed: two's complement; defaults to the circuit's signedness, else
    unsigned). length: dot-product length of a MAC circuit (None: one endless dot product).
    backend, simd, progress: as for ``bitsim.simulate_mac`` ('c': the bit-sliced kernel;
    progress counts vectors). Results do not depend on threads.
    """
    netlist = circuit.netlist if isinstance(circuit, MultiplierCircuit) else circuit
    if not isinstance(netlist, Netlist):
        raise InputTypeError(
            f"circuit: expected a MultiplierCircuit or a Netlist, found {type(circuit).__name__}"
        )
    if signed is None:
        signed = bool(getattr(circuit, "signed", False))
    kernels = select(backend, simd)
    prog = compile_netlist(netlist, x_port, w_port, length)
    xb, wb = len(prog.x_nets), len(prog.w_nets)
    if not (1 <= xb <= 32 and 1 <= wb <= 32):
        raise InputError(f"x_port, w_port: expected buses of 1 to 32 bits, found {xb} and {wb}")
    threads = check_int(threads, "threads", 1, 1024)
    report = progress_callback(progress, unit="vectors")
    cfg, xs, ws, n, seed = mac.prepare(
        x, w, x_bits=xb, w_bits=wb, acc_bits=64, signed=signed, length=length, n=n, seed=seed
    )
    size = segment_size(
        n,
        threads,
        max(MIN_VECTORS_PER_THREAD, SEGMENT_GATE_VECTORS // max(1, len(prog.op))),
        MIN_VECTORS_PER_THREAD,
    )

    def starts():
        """Where each segment's simulation begins: its warm-up before its first vector."""
        return (max(0, a - prog.warmup) for a, _ in ranges(n, size))

    def run(task):
        (a, b), s, before = task
        return kernels.gates_run(prog, xs, ws, a, a - s, b - a, before)

    per_net = np.zeros(prog.nets, dtype=np.uint64)
    with Workers(threads) as workers:
        if len(prog.acc_nets):
            # the accumulator state before each warm-up: the exact partial sum of the MACs
            # before it, from the tails of the MACs between consecutive warm-up starts
            tails = workers.imap(
                lambda r: kernels.mac_tail(cfg, xs, ws, *tail_range(cfg.length, *r)),
                _pairs(starts()),
            )
            befores: Iterator[int] = chain(tails)
        else:
            befores = itertools.repeat(0)
        parts = workers.imap(run, zip(ranges(n, size), starts(), befores))
        for (_, done), part in zip(ranges(n, size), parts):
            per_net += part
            if report is not None:
                report(done, n)
    return GateToggles(netlist, n, per_net, x_port, w_port, structure(circuit))
