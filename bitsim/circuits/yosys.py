"""Import gate-level netlists written by Yosys (``write_json`` after ``synth -flatten`` and
``abc -g AND,NAND,OR,NOR,XOR,XNOR,ANDNOT,ORNOT,MUX``).

Supported cells: $_AND_, $_OR_, $_XOR_, $_NAND_, $_NOR_, $_XNOR_, $_NOT_, $_BUF_, $_ANDNOT_
(A & ~B), $_ORNOT_ (A | ~B), $_MUX_ (S ? B : A) and the positive-edge flip-flops of Yosys's
internal cell library (one clock; its clock is implicit: one vector per cycle):

    $_DFF_P_                  plain
    $_DFFE_PE_                enable E (polarity P or N)
    $_SDFF_PRV_               synchronous reset R (polarity P or N) to V (0 or 1)
    $_SDFFE_PRVE_             synchronous reset over enable
    $_SDFFCE_PRVE_            enable over synchronous reset (reset only when enabled)
    $_DFF_PRV_, $_DFFE_PRVE_  asynchronous reset or set R to V (with enable)

The importer maps each onto a DFF and simple gates (``_flip_flop``): the next state is
``reset ? V : enable ? D : Q``, and an asynchronous reset also forces Q while it is active
(Q(t) = R(t) ? V : q(t), q the stored value). The added nets are ``Netlist.internal``: not
wires of the circuit, never counted. Negative-edge, dual-edge, set-and-reset ($_DFFSR_*),
latch and multi-clock cells are refused. Constant bits "0" and "1" become constant nets, "x"
and "z" constant 0. Every module port becomes a bus (LSB first); flip-flop clock nets are
``Netlist.clocks`` (held at 0, never counted). ``Netlist.source_bits`` maps the file's bit
numbers to nets.
"""

from __future__ import annotations

import json
import re
from typing import Any, Callable, Dict, Optional, Tuple

from bitsim._core.checks import InputError
from bitsim.circuits.netlist import Gate, Netlist

__all__ = ["CELLS", "FLIP_FLOPS", "PINS", "load_yosys_json", "read_module", "with_ports"]

CELLS = {
    "$_AND_": "AND",
    "$_OR_": "OR",
    "$_XOR_": "XOR",
    "$_NAND_": "NAND",
    "$_NOR_": "NOR",
    "$_XNOR_": "XNOR",
    "$_NOT_": "NOT",
    "$_BUF_": "BUF",
    "$_ANDNOT_": "ANDNOT",
    "$_ORNOT_": "ORNOT",
    "$_MUX_": "MUX",
}
# Yosys flip-flop cells: kind -> (pins after C, in the order of the type's polarity letters)
FLIP_FLOPS = {
    "DFF": ("", "RV"),
    "DFFE": ("E", "RVE"),
    "SDFF": ("RV",),
    "SDFFE": ("RVE",),
    "SDFFCE": ("RVE",),
}
_FF = re.compile(r"^\$_(DFF|DFFE|SDFF|SDFFE|SDFFCE)_([PN01]+)_$")
PINS = {"NOT": ("A",), "BUF": ("A",), "MUX": ("A", "B", "S")}


def load_yosys_json(path: str, module: Optional[str] = None) -> Netlist:
    """The netlist of one module (the only one, the 'top' one, or ``module``) of a JSON file."""
    mod, name = read_module(path, module)
    try:
        return _netlist(mod, name)
    except KeyError as err:
        raise InputError(
            f"netlist: {path}: module {name!r} is not Yosys write_json output: an entry "
            f"lacks the key {err}"
        ) from None
    except (TypeError, AttributeError, ValueError) as err:
        if isinstance(err, InputError):
            raise
        raise InputError(
            f"netlist: {path}: module {name!r} is not Yosys write_json output ({err})"
        ) from None


def read_module(path: str, module: Optional[str] = None) -> Tuple[dict, str]:
    """One module (the only one, the 'top' one, or ``module``) of a Yosys JSON file, and its
    name."""
    with open(path, encoding="utf-8") as f:
        try:
            data = json.load(f)
        except json.JSONDecodeError as err:
            raise InputError(f"netlist: {path} is not JSON: {err}") from None
    modules = data.get("modules") if isinstance(data, dict) else None
    if not modules or not isinstance(modules, dict):
        raise InputError(
            f"netlist: {path} has no 'modules' mapping: is it Yosys write_json output?"
        )
    if module is None:
        tops = [
            name
            for name, m in modules.items()
            if isinstance(m, dict)
            and isinstance(m.get("attributes", {}), dict)
            and str(m.get("attributes", {}).get("top", "0")).strip("0") != ""
        ]
        if len(modules) == 1:
            module = next(iter(modules))
        elif len(tops) == 1:
            module = tops[0]
        else:
            raise InputError(
                f"module: expected one of {', '.join(sorted(modules))} "
                f"(the file has several and no single top), found none"
            )
    if module not in modules:
        raise InputError(f"module: expected one of {', '.join(sorted(modules))}, found {module!r}")
    return modules[module], module


def with_ports(mod: dict) -> Tuple[Netlist, Callable[[Any], int], Dict[Any, int]]:
    """A netlist holding a Yosys module's ports as buses (LSB first, named), and the function
    that numbers the module's bits as nets: "0", "x", "z" the constant 0, "1" the constant 1,
    every other bit a net of its own, numbered as first seen; and the bits numbered so far
    (bit -> net, filled as ``net`` is called)."""
    nl = Netlist()
    ids: Dict[Any, int] = {}

    def net(bit) -> int:
        if bit in ("0", "x", "z"):
            return 0
        if bit == "1":
            return 1
        if bit not in ids:
            ids[bit] = nl.nets
            nl.nets += 1
        return ids[bit]

    for name, port in mod.get("ports", {}).items():
        bus = [net(b) for b in port["bits"]]
        target = nl.inputs if port["direction"] == "input" else nl.outputs
        target[name] = bus
        for i, n in enumerate(bus):
            if n >= 2:
                nl.names.setdefault(n, f"{name}[{i}]")
    return nl, net, ids


def _netlist(mod: dict, module: str) -> Netlist:
    nl, net, ids = with_ports(mod)

    def new_net() -> int:
        nl.nets += 1
        nl.internal.add(nl.nets - 1)
        return nl.nets - 1

    for name, cell in mod.get("cells", {}).items():
        if _FF.match(cell["type"]):
            _flip_flop(nl, name, cell, net, new_net)
            continue
        kind = CELLS.get(cell["type"])
        if kind is None:
            raise InputError(
                f"netlist: unsupported cell {name!r} of type {cell['type']} in "
                f"module {module}; map it to simple gates (abc -g ...)"
            )
        conn = cell["connections"]
        pins = PINS.get(kind, ("A", "B"))
        _check_pins(name, cell, (*pins, "Y"))
        nl.gates.append(
            Gate(kind, tuple(net(conn[p][0]) for p in pins), net(conn["Y"][0]), "logic")
        )
    for name, info in mod.get("netnames", {}).items():
        for i, bit in enumerate(info.get("bits", [])):
            if bit in ids and ids[bit] not in nl.names:
                nl.names[ids[bit]] = f"{name}[{i}]"
    nl.source_bits = {n: b for b, n in ids.items()}
    return nl


def _check_pins(name: str, cell: dict, pins) -> None:
    for pin in pins:
        if pin not in cell["connections"] or len(cell["connections"][pin]) != 1:
            raise InputError(
                f"netlist: cell {name!r} ({cell['type']}) lacks a one-bit {pin} connection"
            )


def _flip_flop(
    nl: Netlist, name: str, cell: dict, net: Callable, new_net: Callable[[], int]
) -> None:
    """Add a Yosys flip-flop cell as a DFF and the gates of its enable and reset paths."""
    match = _FF.match(cell["type"])
    assert match is not None
    kind, letters = match.groups()
    layout = next((p for p in FLIP_FLOPS[kind] if len(p) + 1 == len(letters)), None)
    if layout is None or letters[0] != "P":
        raise InputError(
            f"netlist: unsupported cell {name!r} of type {cell['type']}: only positive-edge "
            f"flip-flops of one clock ($_DFF_P_, $_DFFE_PP_, $_SDFF_PP0_, ...) are simulated"
        )
    polarity: Dict[str, str] = dict(zip(layout, letters[1:]))
    pins = ["C", "D", "Q"] + [p for p in layout if p in "RE"]
    _check_pins(name, cell, pins)
    conn = {p: net(cell["connections"][p][0]) for p in pins}
    nl.clocks.add(conn["C"])

    def gate(kind_: str, *ins: int, out: Optional[int] = None) -> int:
        out = new_net() if out is None else out
        nl.gates.append(Gate(kind_, ins, out, "registers"))
        return out

    def force(x: int, out: Optional[int] = None) -> int:  # R active ? V : x
        r, high = conn["R"], polarity["R"] == "P"
        if polarity["V"] == "0":
            return gate("ANDNOT" if high else "AND", x, r, out=out)
        return gate("OR" if high else "ORNOT", x, r, out=out)

    def hold(x: int, q: int) -> int:  # E active ? x : q
        ins = (q, x) if polarity["E"] == "P" else (x, q)
        return gate("MUX", *ins, conn["E"])

    q = new_net() if kind in ("DFF", "DFFE") and "R" in polarity else conn["Q"]
    d = conn["D"]
    if kind == "SDFFCE":
        d = hold(force(d), q)
    else:
        d = hold(d, q) if "E" in polarity else d
        d = force(d) if "R" in polarity else d
    gate("DFF", d, out=q)
    if q != conn["Q"]:  # asynchronous reset: Q is forced while R is active
        force(q, out=conn["Q"])
