"""Cycle-by-cycle toggle simulation of sequential netlists (flip-flops with feedback): the
public API ``simulate_netlist``.

The model (every backend, bit for bit; tested against Verilator on the Yosys netlists of
``tests/data/netlists``):

* one clock, positive-edge flip-flops. Cycle t: every driven input port takes its value of cycle
  t, every flip-flop output Q holds the value its D input had in cycle t - 1, and the
  combinational logic settles (zero delay). The rising edge at the end of cycle t stores D.
* the reset state, "cycle -1": every input port and flip-flop output 0 and the combinational
  nets what follows from that. Q in cycle 0 is what D held in the reset state (0 in any design
  whose next state is 0 when inputs and state are 0, as every MAC's is).
* toggles of a net: the cycles t in [0, n) where its value differs from cycle t - 1. With
  ``first_cycle="reset"`` (the default) the change from the reset state into cycle 0 counts;
  with ``"skip"`` it does not (n - 1 transitions are counted).
* clock nets (C pins of flip-flops) are held at 0 and never counted; undriven input ports are 0;
  nets an importer adds inside a flip-flop cell (``Netlist.internal``) are not counted. Port
  bits that share one net are one net, counted once.

A port is driven per cycle by a sampler or an array (as the operands of ``simulate_mac``, in the
port's width and signedness; 1-bit ports are unsigned control bits unless ``signed`` names
them; the i-th port of ``ports`` draws stream i of ``seed``), or by the dot-product
structure: ``clear_port`` is 1 in the cycles t = L + kK (k = 0, 1, ...), K the dot-product
``length`` and L the design's operand latency (``operand_latency``: flip-flops between the
operand ports and the registers the clear port controls; ``clear_latency`` overrides it). In
an accumulator with a synchronous clear that loads the first product of each dot product
instead of adding it, this starts a new dot product every K operands, the first with the
operands of cycle 0.

The kernels run 512 (C) or 64 (numba) independent stretches of the cycles side by side, one per
bit of a word, each starting from the final state of the stretch before it; a stretch's start
state is guessed, then the passes repeat until every stretch starts from its predecessor's true
end state (two passes when the state forgets its past, e.g. an accumulator cleared more often
than once per stretch; at most one pass more than there are stretches). The counts are exact
whatever the number of stretches: the reference simulates the cycles one by one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Union

import numpy as np

from bitsim._core.checks import (
    InputError,
    InputTypeError,
    check_choice,
    check_count,
    check_int,
    check_seed,
)
from bitsim._core.interrupt import Workers, result
from bitsim.backends.dispatch import select
from bitsim.circuits.netlist import OPCODE, Netlist
from bitsim.sim.formats import IntFormat
from bitsim.sim.gates import GateToggles, levelized
from bitsim.sim.operands import Stream, make_stream

__all__ = ["FIRST_CYCLE", "SeqProgram", "compile_sequential", "operand_latency", "simulate_netlist"]

FIRST_CYCLE = ("reset", "skip")
MAX_PORT_BITS = 32


@dataclass
class SeqProgram:
    """A sequential netlist flattened for the kernels (int32 arrays).

    Combinational gates in topological order (flip-flop outputs are sources); flip-flop k
    stores net ``dff_d[k]`` into net ``dff_q[k]``; ``port_nets[i]`` are the nets of driven port
    i (LSB first, from ``streams[i]``); ``clear_net`` (-1: none) is 1 in cycles
    ``clear_phase + k * clear_period``."""

    nets: int
    op: np.ndarray
    a: np.ndarray
    b: np.ndarray
    c: np.ndarray
    out: np.ndarray
    dff_q: np.ndarray
    dff_d: np.ndarray
    port_nets: List[np.ndarray]
    clear_net: int = -1
    clear_period: int = 0
    clear_phase: int = 0


def compile_sequential(netlist: Netlist, ports: List[str]) -> SeqProgram:
    """Check and flatten a netlist whose listed input ports are driven (a combinational loop
    is an InputError naming one of its nets)."""
    comb, dffs = netlist.sequential_order()
    gates = levelized(comb)
    cols = {k: np.zeros(len(gates), dtype=np.int32) for k in ("op", "a", "b", "c", "out")}
    for i, g in enumerate(gates):
        ins = list(g.inputs) + [0] * (3 - len(g.inputs))
        cols["op"][i] = OPCODE[g.type]
        cols["a"][i], cols["b"][i], cols["c"][i] = ins
        cols["out"][i] = g.out
    return SeqProgram(
        netlist.nets,
        cols["op"],
        cols["a"],
        cols["b"],
        cols["c"],
        cols["out"],
        dff_q=np.array([g.out for g in dffs], dtype=np.int32),
        dff_d=np.array([g.inputs[0] for g in dffs], dtype=np.int32),
        port_nets=[np.asarray(netlist.inputs[p], dtype=np.int32) for p in ports],
    )


def operand_latency(netlist: Netlist, operand_ports: List[str], clear_port: str) -> int:
    """Cycles from an operand port to the registers the clear port controls: the fewest
    flip-flops on a path from an operand port to the D input of a flip-flop whose D input
    depends combinationally on the clear port."""
    comb, dffs = netlist.sequential_order()
    fanout: Dict[int, List[int]] = {}
    for g in comb:
        for i in set(g.inputs):
            fanout.setdefault(i, []).append(g.out)

    def closure(nets):
        seen, todo = set(nets), list(nets)
        while todo:
            for o in fanout.get(todo.pop(), []):
                if o not in seen:
                    seen.add(o)
                    todo.append(o)
        return seen

    controlled = closure(netlist.inputs[clear_port])
    targets = {g.inputs[0] for g in dffs if g.inputs[0] in controlled}
    if not targets:
        raise InputError(
            f"clear_port: expected a port that controls flip-flops, found {clear_port!r} "
            f"(no flip-flop input depends on it)"
        )
    level = closure([n for p in operand_ports for n in netlist.inputs[p]])
    reached = set(level)
    for latency in range(len(dffs) + 1):
        if level & targets:
            return latency
        level = closure({g.out for g in dffs if g.inputs[0] in level} - reached)
        reached |= level
    raise InputError(
        f"clear_port: no path from the operand ports {', '.join(operand_ports)} to the "
        f"registers {clear_port!r} controls; give clear_latency"
    )


def simulate_netlist(
    netlist: Netlist,
    ports: Mapping[str, object],
    *,
    signed: Union[bool, Mapping[str, bool]] = False,
    n: Optional[int] = None,
    seed: int = 0,
    clear_port: Optional[str] = None,
    length: Optional[int] = None,
    clear_latency: Optional[int] = None,
    first_cycle: str = "reset",
    backend: str = "c",
    simd: str = "auto",
) -> GateToggles:
    """Toggle counts of a sequential (or combinational) netlist over n clock cycles.

    ports: input port name -> values per cycle (an array of integers, a ``.npy`` file's array,
    or a sampler as for ``bitsim.simulate_mac``); signed: the ports' arithmetic, per port, or one
    for every port of two bits or more (1-bit ports are then unsigned control bits); a port's
    values must lie in its format. n: cycles (default: the arrays' common
    length). clear_port, length, clear_latency: drive a clear port from the dot-product
    structure (module docstring). first_cycle: 'reset' (count the change from the reset state
    into cycle 0) or 'skip'. Returns a GateToggles (``transitions``: the cycle changes counted).
    """
    check_choice(first_cycle, "first_cycle", FIRST_CYCLE)
    kernels = select(backend, simd)
    prog, streams, names, n = prepare(
        netlist, ports, signed, n, seed, clear_port, length, clear_latency
    )
    with Workers(1) as workers:  # the kernel runs on a worker: Ctrl-C stops it (interrupt)
        future = workers.submit(kernels.seq_run, prog, streams, n, first_cycle == "reset")
        per_net = result(future)
    per_net[sorted(netlist.internal | netlist.clocks | {0, 1})] = 0
    transitions = n if first_cycle == "reset" else max(n - 1, 0)
    return GateToggles(
        netlist,
        n,
        per_net,
        names[0] if names else "",
        names[1] if len(names) > 1 else "",
        {"gates": netlist.count()},
        transitions=transitions,
    )


def prepare(netlist, ports, signed, n, seed, clear_port, length, clear_latency):
    """(SeqProgram, streams, driven port names, cycles) of simulate_netlist's arguments,
    checked."""
    if not isinstance(netlist, Netlist):
        raise InputTypeError(f"netlist: expected a Netlist, found {type(netlist).__name__}")
    if not isinstance(ports, Mapping):
        raise InputTypeError(
            f"ports: expected a mapping of port names, found {type(ports).__name__}"
        )
    seed = check_seed(seed)
    names = list(ports)
    clock_ports = {p for p, bus in netlist.inputs.items() if set(bus) & netlist.clocks}
    for p in names + ([clear_port] if clear_port is not None else []):
        if p not in netlist.inputs or p in clock_ports:
            raise InputError(
                f"port: expected one of the input ports "
                f"{', '.join(sorted(set(netlist.inputs) - clock_ports))}, found {p!r}"
            )
    if clear_port in ports:
        raise InputError(f"clear_port: {clear_port!r} is also given a stimulus in ports")
    streams: List[Stream] = []
    for i, p in enumerate(names):
        bits = len(netlist.inputs[p])
        if not 1 <= bits <= MAX_PORT_BITS:
            raise InputError(
                f"port {p}: expected a port of 1 to {MAX_PORT_BITS} bits, found {bits}"
            )
        if isinstance(signed, Mapping):
            is_signed = bool(signed.get(p, False))
        else:  # a 1-bit port (a clear, an enable) is a control bit: unsigned
            is_signed = bool(signed) and bits > 1
        streams.append(make_stream(ports[p], p, IntFormat(bits, is_signed), seed, i))
    n = _cycles(streams, n)
    prog = compile_sequential(netlist, names)
    if clear_port is not None:
        if length is None:
            raise InputError("length: expected the dot-product length with clear_port, found None")
        period = check_int(length, "length", 1)
        if clear_latency is None:
            clear_latency = operand_latency(netlist, names, clear_port)
        phase = check_count(clear_latency, "clear_latency")
        if len(netlist.inputs[clear_port]) != 1:
            raise InputError(f"clear_port: expected a 1-bit port, found {clear_port!r}")
        prog.clear_net, prog.clear_period, prog.clear_phase = (
            netlist.inputs[clear_port][0],
            period,
            phase,
        )
    return prog, streams, names, n


def _cycles(streams: List[Stream], n) -> int:
    lengths = {s.name: s.length for s in streams if s.length is not None}
    if len(set(lengths.values())) > 1:
        found = ", ".join(f"{k}: {v}" for k, v in lengths.items())
        raise InputError(f"ports: expected arrays of equal length, found {found}")
    if n is None:
        if not lengths:
            raise InputError(
                "n: expected the number of cycles when no port has an array, found None"
            )
        return next(iter(lengths.values()))
    n = check_count(n, "n")
    longest = max(lengths.values(), default=n)
    if n > longest:
        raise InputError(f"n: expected at most {longest} (the port arrays' length), found {n}")
    return n
