"""Gate-level netlists: nets, gates, registers, named input and output buses.

Net 0 is constant 0 and net 1 constant 1. Gate types and their outputs (Yosys's simple cells):

    AND a&b   OR a|b   XOR a^b   NAND ~(a&b)   NOR ~(a|b)   XNOR ~(a^b)   NOT ~a   BUF a
    ANDNOT a&~b   ORNOT a|~b   MUX (c ? b : a)   DFF: q(t) = d(t-1), 0 before the first vector

Every gate and register carries a ``part`` label (partial products, reduction tree, final adder,
accumulator adder, registers, ...) so toggles can be reported per part. ``NetlistBuilder``
folds constants while building, so generated circuits contain no gate with a constant input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Set, Tuple

from bitsim._core.checks import InputError

__all__ = ["GATE_TYPES", "OPCODE", "Gate", "Netlist", "NetlistBuilder"]

GATE_TYPES = (
    "AND",
    "OR",
    "XOR",
    "NAND",
    "NOR",
    "XNOR",
    "NOT",
    "ANDNOT",
    "ORNOT",
    "MUX",
    "BUF",
    "DFF",
)
OPCODE = {t: i for i, t in enumerate(GATE_TYPES)}


@dataclass
class Gate:
    type: str
    inputs: tuple  # (a,), (a, b) or (a, b, s) for MUX
    out: int
    part: str = ""


@dataclass
class Netlist:
    """A circuit: ``nets`` nets, gates (DFFs included) and named buses (LSB first)."""

    nets: int = 2
    gates: List[Gate] = field(default_factory=list)
    inputs: Dict[str, List[int]] = field(default_factory=dict)
    outputs: Dict[str, List[int]] = field(default_factory=dict)
    names: Dict[int, str] = field(default_factory=dict)
    # state registers: their output nets are supplied by the simulator (MAC accumulator)
    state: Dict[str, List[int]] = field(default_factory=dict)
    # the nets computing each state register's next value (its D input, written at the end of
    # every cycle)
    next_state: Dict[str, List[int]] = field(default_factory=dict)
    # nets an importer adds to model a cell (a flip-flop's enable or reset path): not wires of
    # the circuit, never counted or reported
    internal: Set[int] = field(default_factory=set)
    # clock nets (the C pins of flip-flops): held at 0, never counted
    clocks: Set[int] = field(default_factory=set)
    # imported netlists: the net of each bit number of the source file (Yosys JSON)
    source_bits: Dict[int, int] = field(default_factory=dict)

    def ordered(self) -> List[Gate]:
        """Gates in an order where every input is computed first (a DFF after its d input).

        Raises InputError naming a net of a loop (loops through DFFs included: the
        vector-parallel simulator needs every register's input to come from earlier vectors
        through a loop-free path; ``has_feedback`` tells the two kinds apart)."""
        driver = {}
        for g in self.gates:
            if g.out in driver or g.out < 2:
                raise InputError(f"netlist: net {self.net_name(g.out)} has more than one driver")
            driver[g.out] = g
        sources = {
            0,
            1,
            *[n for bus in self.inputs.values() for n in bus],
            *[n for bus in self.state.values() for n in bus],
        }
        for n in sources:
            if n in driver:
                raise InputError(f"netlist: input net {self.net_name(n)} is also driven by a gate")
        state: Dict[int, int] = {}  # 1: visiting, 2: done
        order = []
        for start in self.gates:
            stack = [(start, 0)]
            while stack:
                g, i = stack.pop()
                if state.get(g.out) == 2:
                    continue
                if i == 0:
                    if state.get(g.out) == 1:
                        raise InputError(
                            f"netlist: combinational loop through net {self.net_name(g.out)}"
                        )
                    state[g.out] = 1
                if i < len(g.inputs):
                    stack.append((g, i + 1))
                    src = g.inputs[i]
                    if src in driver and state.get(src) != 2:
                        if state.get(src) == 1:
                            raise InputError(
                                f"netlist: combinational loop through net {self.net_name(src)}"
                            )
                        stack.append((driver[src], 0))
                    elif src not in driver and src not in sources:
                        raise InputError(
                            f"netlist: net {self.net_name(src)} is read but never driven"
                        )
                else:
                    state[g.out] = 2
                    order.append(g)
        return order

    def sequential_order(self) -> Tuple[List[Gate], List[Gate]]:
        """(combinational gates in an order where every input is computed first, flip-flops).

        Flip-flop outputs are sources of the combinational logic (they hold the state of the
        previous cycle), so feedback through flip-flops is allowed; a loop through gates alone
        raises InputError naming a net of it ("combinational loop")."""
        dffs = [g for g in self.gates if g.type == "DFF"]
        comb = Netlist(
            self.nets,
            [g for g in self.gates if g.type != "DFF"],
            {**self.inputs, **{f"dff {i}": [g.out] for i, g in enumerate(dffs)}},
            self.outputs,
            self.names,
            self.state,
        )
        outs = [g.out for g in dffs]
        taken = {g.out for g in comb.gates} | {n for bus in self.inputs.values() for n in bus}
        if len(set(outs)) < len(outs) or set(outs) & taken:
            dup = next(o for o in outs if outs.count(o) > 1 or o in taken)
            raise InputError(f"netlist: net {self.net_name(dup)} has more than one driver")
        order = comb.ordered()
        driven = taken | set(outs) | {0, 1}
        for g in dffs:
            if g.inputs[0] not in driven:
                raise InputError(
                    f"netlist: net {self.net_name(g.inputs[0])} is read but never driven"
                )
        return order, dffs

    def has_feedback(self) -> bool:
        """True when some flip-flop's output reaches its own input (a sequential netlist that
        the vector-parallel simulator cannot run: ``bitsim.simulate_netlist`` can)."""
        try:
            self.ordered()
        except InputError as err:
            if "combinational loop" not in str(err):
                raise
            self.sequential_order()  # raises when the loop is combinational
            return True
        return False

    def net_name(self, n: int) -> str:
        return self.names.get(n, str(n))

    def count(self) -> Dict[str, int]:
        """Gates by type: one DFF per flip-flop, the gates of its enable and reset paths (part
        'registers', added by an importer inside a flip-flop cell) left out."""
        counts: Dict[str, int] = {}
        for g in self.gates:
            if g.part == "registers" and g.type != "DFF":
                continue
            counts[g.type] = counts.get(g.type, 0) + 1
        return counts


class NetlistBuilder:
    """Builds a Netlist with constant folding and full/half adders counted by part."""

    def __init__(self):
        self.netlist = Netlist()
        self.full_adders: Dict[str, int] = {}
        self.half_adders: Dict[str, int] = {}
        self.part = ""

    def new_net(self, name: Optional[str] = None) -> int:
        n = self.netlist.nets
        self.netlist.nets += 1
        if name:
            self.netlist.names[n] = name
        return n

    def input_bus(self, name: str, bits: int) -> List[int]:
        bus = [self.new_net(f"{name}[{i}]") for i in range(bits)]
        self.netlist.inputs[name] = bus
        return bus

    def state_bus(self, name: str, bits: int) -> List[int]:
        bus = [self.new_net(f"{name}[{i}]") for i in range(bits)]
        self.netlist.state[name] = bus
        return bus

    def output_bus(self, name: str, nets: List[int]) -> None:
        self.netlist.outputs[name] = list(nets)

    def gate(self, type_: str, *inputs: int) -> int:
        folded = _fold(type_, inputs)
        if folded is not None:
            return folded if isinstance(folded, int) else self.gate(*folded)
        out = self.new_net()
        self.netlist.gates.append(Gate(type_, tuple(inputs), out, self.part))
        return out

    def dff(self, d: int, name: Optional[str] = None) -> int:
        q = self.new_net(name)
        self.netlist.gates.append(Gate("DFF", (d,), q, self.part))
        return q

    def half_adder(self, a: int, b: int):
        self.half_adders[self.part] = self.half_adders.get(self.part, 0) + 1
        return self.gate("XOR", a, b), self.gate("AND", a, b)

    def full_adder(self, a: int, b: int, c: int):
        self.full_adders[self.part] = self.full_adders.get(self.part, 0) + 1
        t = self.gate("XOR", a, b)
        return self.gate("XOR", t, c), self.gate(
            "OR", self.gate("AND", a, b), self.gate("AND", t, c)
        )


def _fold(type_, inputs):
    """A constant net or a simpler gate when an input is constant, else None."""
    if type_ == "MUX":
        a, b, s = inputs
        if s in (0, 1):
            return b if s == 1 else a
        if a == b:
            return a
        if (a, b) == (0, 1):
            return s
        if (a, b) == (1, 0):
            return ("NOT", s)
        return None
    if type_ in ("NOT", "BUF"):
        (a,) = inputs
        if a in (0, 1):
            return (1 - a) if type_ == "NOT" else a
        return a if type_ == "BUF" else None
    a, b = inputs
    if type_ == "ANDNOT":
        return _fold("AND", (a, _neg(b))) if b in (0, 1) else (0 if a == 0 else None)
    if type_ == "ORNOT":
        return _fold("OR", (a, _neg(b))) if b in (0, 1) else (1 if a == 1 else None)
    if a not in (0, 1) and b not in (0, 1):
        return None
    if a in (0, 1) and b in (0, 1):
        return {
            "AND": a & b,
            "OR": a | b,
            "XOR": a ^ b,
            "NAND": 1 - (a & b),
            "NOR": 1 - (a | b),
            "XNOR": 1 - (a ^ b),
        }[type_]
    c, x = (a, b) if a in (0, 1) else (b, a)  # c constant, x a net
    table = {
        ("AND", 0): 0,
        ("AND", 1): x,
        ("OR", 0): x,
        ("OR", 1): 1,
        ("XOR", 0): x,
        ("XOR", 1): ("NOT", x),
        ("NAND", 0): 1,
        ("NAND", 1): ("NOT", x),
        ("NOR", 0): ("NOT", x),
        ("NOR", 1): 0,
        ("XNOR", 0): ("NOT", x),
        ("XNOR", 1): x,
    }
    return table[(type_, c)]


def _neg(c):
    return 1 - c
