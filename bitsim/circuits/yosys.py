"""Import gate-level netlists written by Yosys (``write_json`` after ``synth -flatten`` and
``abc -g AND,NAND,OR,NOR,XOR,XNOR,ANDNOT,ORNOT,MUX``).

Supported cells: $_AND_, $_OR_, $_XOR_, $_NAND_, $_NOR_, $_XNOR_, $_NOT_, $_BUF_, $_ANDNOT_
(A & ~B), $_ORNOT_ (A | ~B), $_MUX_ (S ? B : A) and $_DFF_P_ (its clock is implicit: one
vector per cycle). Constant bits "0" and "1" become constant nets, "x" and "z" constant 0.
Every module port becomes a bus (LSB first); name the operand ports when simulating; other
inputs (a clock, say) are held at 0.
"""

from __future__ import annotations

import json
from typing import Optional

from bitsim._core.checks import InputError
from bitsim.circuits.netlist import Gate, Netlist

__all__ = ["CELLS", "PINS", "load_yosys_json"]

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
    "$_DFF_P_": "DFF",
}
PINS = {"NOT": ("A",), "BUF": ("A",), "DFF": ("D",), "MUX": ("A", "B", "S")}


def load_yosys_json(path: str, module: Optional[str] = None) -> Netlist:
    """The netlist of one module (the only one, the 'top' one, or ``module``) of a JSON file."""
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
    try:
        return _netlist(modules[module], module)
    except KeyError as err:
        raise InputError(
            f"netlist: {path}: module {module!r} is not Yosys write_json output: an entry "
            f"lacks the key {err}"
        ) from None
    except (TypeError, AttributeError, ValueError) as err:
        if isinstance(err, InputError):
            raise
        raise InputError(
            f"netlist: {path}: module {module!r} is not Yosys write_json output ({err})"
        ) from None


def _netlist(mod: dict, module: str) -> Netlist:
    nl = Netlist()
    ids = {}

    def net(bit):
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
    for name, cell in mod.get("cells", {}).items():
        kind = CELLS.get(cell["type"])
        if kind is None:
            raise InputError(
                f"netlist: unsupported cell {name!r} of type {cell['type']} in "
                f"module {module}; map it to simple gates (abc -g ...)"
            )
        conn = cell["connections"]
        pins = PINS.get(kind, ("A", "B"))
        out_pin = "Q" if kind == "DFF" else "Y"
        for pin in (*pins, out_pin):
            if pin not in conn or len(conn[pin]) != 1:
                raise InputError(
                    f"netlist: cell {name!r} ({cell['type']}) lacks a one-bit {pin} connection"
                )
        nl.gates.append(
            Gate(
                kind,
                tuple(net(conn[p][0]) for p in pins),
                net(conn[out_pin][0]),
                "registers" if kind == "DFF" else "logic",
            )
        )
    for name, info in mod.get("netnames", {}).items():
        for i, bit in enumerate(info.get("bits", [])):
            if bit in ids and ids[bit] not in nl.names:
                nl.names[ids[bit]] = f"{name}[{i}]"
    return nl
