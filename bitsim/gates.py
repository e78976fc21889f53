"""Gate-level toggle simulation of multipliers, MACs and users' netlists: the public API.

``simulate_gates(circuit, x, w, ...)`` applies operand vectors (the same arrays and seeded
samplers as ``bitsim.simulate_mac``) to a netlist, one vector per cycle, and counts the
toggles (changes between consecutive vectors, zero-delay model) of every net. Before the
first vector all inputs and registers are 0 and the other nets hold what follows from that.
A MAC circuit (``bitsim.multipliers.mac_circuit``) also gets its 'first' input (1 on the first
term of each dot product) and the state of its accumulator register (the previous partial sum,
modulo 2^acc_bits) from the same model as the register-level simulator, so its product and
accumulator nets toggle exactly as the register-level simulator's registers.

Toggles are reported per net, per gate type, per part of the circuit (partial products,
reduction tree, final adder, accumulator adder, registers) and as totals per vector:
``inputs`` (operand and control input nets), ``gates`` (every gate output, registers
included), ``outputs`` (output bus nets) and ``total`` (every net).
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Dict, Optional

import numpy as np

from bitsim import mac
from bitsim.multipliers import MultiplierCircuit
from bitsim.netlist import OPCODE, Netlist
from bitsim.operands import check_int

WARMUP_WITH_REGISTERS = 512    # vectors replayed before a segment when the netlist has DFFs


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
    has_registers: bool


def compile_netlist(netlist: Netlist, x_port: str = "x", w_port: str = "w",
                    length: Optional[int] = None) -> Program:
    """Check and flatten a netlist; the operand ports must be input buses."""
    for port, name in ((x_port, "x_port"), (w_port, "w_port")):
        if port not in netlist.inputs:
            raise ValueError(f"{name}: expected one of the input buses "
                             f"{', '.join(sorted(netlist.inputs))}, found {port!r}")
    if x_port == w_port:
        raise ValueError(f"w_port: expected a bus other than x_port, found {w_port!r}")
    gates = _levelized(netlist.ordered())
    cols = {k: np.zeros(len(gates), dtype=np.int32) for k in ("op", "a", "b", "c", "out")}
    for i, g in enumerate(gates):
        ins = list(g.inputs) + [0] * (3 - len(g.inputs))
        cols["op"][i] = OPCODE[g.type]
        cols["a"][i], cols["b"][i], cols["c"][i] = ins
        cols["out"][i] = g.out
    first = netlist.inputs.get("first", [-1])
    acc = netlist.state.get("acc", [])
    return Program(netlist.nets, **cols,
                   x_nets=np.asarray(netlist.inputs[x_port], dtype=np.int32),
                   w_nets=np.asarray(netlist.inputs[w_port], dtype=np.int32),
                   acc_nets=np.asarray(acc, dtype=np.int32), first_net=int(first[0]),
                   length=length, has_registers=any(g.type == "DFF" for g in gates))


def _levelized(order):
    """The gates by logic level, and by type within a level: still a topological order, and
    the kernel's dispatch on the gate type sees long runs of one type (no mispredictions)."""
    level = {}
    for g in order:
        level[g.out] = 1 + max((level.get(i, 0) for i in g.inputs), default=0)
    return sorted(order, key=lambda g: (level[g.out], OPCODE[g.type]))


@dataclass
class GateToggles:
    """Toggles of a gate-level simulation.

    Attributes
    ----------
    vectors : int
        Operand vectors applied (one per cycle).
    per_net : ndarray of uint64
        Toggles of each net over the run.
    """

    netlist: Netlist
    vectors: int
    per_net: np.ndarray
    x_port: str
    w_port: str

    def _sum(self, nets) -> int:
        nets = list(nets)
        return int(self.per_net[nets].sum()) if nets else 0

    def per_type(self) -> Dict[str, int]:
        out: Dict[str, int] = {}
        for g in self.netlist.gates:
            out[g.type] = out.get(g.type, 0) + int(self.per_net[g.out])
        return out

    def per_part(self) -> Dict[str, int]:
        out: Dict[str, int] = {}
        for g in self.netlist.gates:
            part = "registers" if g.type == "DFF" else (g.part or "logic")
            out[part] = out.get(part, 0) + int(self.per_net[g.out])
        for bus in self.netlist.state.values():
            out["registers"] = out.get("registers", 0) + self._sum(bus)
        return out

    def totals(self) -> Dict[str, int]:
        nl = self.netlist
        inputs = {n for bus in nl.inputs.values() for n in bus}
        return {"total": int(self.per_net.sum()), "inputs": self._sum(inputs),
                "gates": self._sum(g.out for g in nl.gates),
                "outputs": self._sum({n for bus in nl.outputs.values() for n in bus})}

    def bus(self, name: str) -> np.ndarray:
        """Toggles of each net of an input, output or state bus (LSB first)."""
        nl = self.netlist
        for buses in (nl.inputs, nl.outputs, nl.state):
            if name in buses:
                return self.per_net[buses[name]]
        raise ValueError(f"bus: expected one of {', '.join(self.bus_names())}, found {name!r}")

    def bus_names(self):
        nl = self.netlist
        return sorted({*nl.inputs, *nl.outputs, *nl.state})

    def per_vector(self) -> Dict[str, float]:
        """Totals and parts divided by the number of vectors (toggles per MAC)."""
        n = max(self.vectors, 1)
        return {k: v / n for k, v in {**self.totals(), **self.per_part()}.items()}


def simulate_gates(circuit, x="uniform", w="uniform", *, signed: Optional[bool] = None,
                   x_port: str = "x", w_port: str = "w", length: Optional[int] = None,
                   n: Optional[int] = None, seed: int = 0, threads: int = 1,
                   simd: str = "auto", backend: str = "c") -> GateToggles:
    """Toggle counts of a circuit (MultiplierCircuit or Netlist) over operand vectors.

    x, w: arrays or samplers as for ``bitsim.simulate_mac``, in the formats of the x_port and
    w_port buses (signed: two's complement; defaults to the circuit's signedness, else
    unsigned). length: dot-product length of a MAC circuit (None: one endless dot product).
    backend: 'c' (bit-sliced kernel) or 'reference' (numpy). Results do not depend on threads.
    """
    netlist = circuit.netlist if isinstance(circuit, MultiplierCircuit) else circuit
    if not isinstance(netlist, Netlist):
        raise TypeError(f"circuit: expected a MultiplierCircuit or a Netlist, found "
                        f"{type(circuit).__name__}")
    if signed is None:
        signed = bool(getattr(circuit, "signed", False))
    prog = compile_netlist(netlist, x_port, w_port, length)
    xb, wb = len(prog.x_nets), len(prog.w_nets)
    if not (1 <= xb <= 32 and 1 <= wb <= 32):
        raise ValueError(f"x_port, w_port: expected buses of 1 to 32 bits, found {xb} and {wb}")
    threads = check_int(threads, "threads", 1, 1024)
    cfg, xs, ws, n, seed = mac.prepare(x, w, x_bits=xb, w_bits=wb, acc_bits=64, signed=signed,
                                       length=length, n=n, seed=seed)
    if backend == "reference":
        from bitsim.reference.gates import toggles

        per_net = toggles(prog, xs, ws, n)
    elif backend == "c":
        per_net = _run_c(prog, cfg, xs, ws, n, threads, simd)
    else:
        raise ValueError(f"backend: expected 'c' or 'reference', found {backend!r}")
    return GateToggles(netlist, n, per_net, x_port, w_port)


def _run_c(prog, cfg, xs, ws, n, threads, simd):
    from bitsim import _gates, _mac

    if simd not in mac.SIMD_CHOICES:
        raise ValueError(f"simd: expected one of {', '.join(mac.SIMD_CHOICES)}, found {simd!r}")
    level = -1 if simd == "auto" else _mac.SIMD_LEVELS[simd]
    ranges = mac.split(n, threads if n >= threads * 4096 else 1)
    warm = WARMUP_WITH_REGISTERS if prog.has_registers else 1
    starts = [max(0, a - warm) for a, _ in ranges]
    # the accumulator state before each warm-up: exact sums of the MACs before it
    points = sorted(set(starts))
    acc_before = {0: 0}
    if len(points) > 1 and len(prog.acc_nets):
        bounds = list(zip(points, points[1:] + [n]))
        tails = [_mac.tail(cfg, xs, ws, a, b - a, -1, mac.DEFAULT_CHUNK) for a, b in bounds]
        acc_before = dict(zip(points, mac.chain(tails)))

    def run(r):
        (a, b), s = r
        return _gates.run(prog, xs, ws, a, a - s, b - a, acc_before.get(s, 0), level)

    work = list(zip(ranges, starts))
    if threads > 1 and len(work) > 1:
        with ThreadPoolExecutor(threads) as pool:
            parts = list(pool.map(run, work))
    else:
        parts = [run(r) for r in work]
    return np.sum(parts, axis=0, dtype=np.uint64)
