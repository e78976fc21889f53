"""Liberty (``.lib``) standard-cell libraries: what gate-level energy needs of them.

``read_liberty(path)`` parses a library with the ``liberty-parser`` package (extra
``bitsim[liberty]``) and keeps, in SI units (seconds, farads, volts, watts, joules):

* units (``time_unit``, ``capacitive_load_unit``, ``voltage_unit``, ``leakage_power_unit``) and
  the nominal voltage (``nom_voltage``, else the default operating conditions' ``voltage``);
* per cell: pins (direction, ``capacitance`` / ``rise_capacitance`` / ``fall_capacitance``,
  ``clock``), output ``function``s as expression trees, ``internal_power`` groups (related pin,
  ``when``, ``rise_power`` / ``fall_power`` tables), timing arcs (related pin, ``timing_sense``,
  ``rise_transition`` / ``fall_transition`` and ``cell_rise`` / ``cell_fall`` delay tables),
  ``cell_leakage_power`` and state-dependent ``leakage_power`` groups, and ``ff`` groups (state
  variables, ``next_state``).

Internal-power table values are energies in units of capacitive_load_unit x voltage_unit^2
(Liberty's convention: pF x V^2 = pJ), as OpenSTA reads them. Tables are interpolated
bilinearly and extrapolated linearly outside their indices, as OpenSTA does.

Unsupported constructs (latches, ``statetable``, flip-flops with ``clear`` / ``preset``,
three-state pins, bus pins) raise InputError naming the cell and the attribute.

Boolean functions: ``!a`` and ``a'`` (not), ``a ^ b`` (xor), ``a & b``, ``a * b`` and ``a b``
(and), ``a | b`` and ``a + b`` (or), constants 0 and 1, parentheses; precedence from highest:
not, xor, and, or (OpenSTA's grammar). An expression is a tuple tree: ``("port", name)``,
``("const", 0|1)``, ``("not", e)``, ``("and"|"or"|"xor", e1, e2)``.
"""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, NoReturn, Optional, Tuple

import numpy as np

from bitsim._core.checks import InputError, MissingExtra

__all__ = [
    "Cell",
    "FlipFlop",
    "Library",
    "Pin",
    "PowerArc",
    "Table",
    "TimingArc",
    "WireLoad",
    "evaluate",
    "find_liberty",
    "parse_function",
    "ports_of",
    "read_liberty",
]

Expr = Tuple[Any, ...]

_SCALE = {"f": 1e-15, "p": 1e-12, "n": 1e-9, "u": 1e-6, "m": 1e-3, "": 1.0, "k": 1e3}
_LOAD_VARS = ("total_output_net_capacitance",)
_SLEW_VARS = ("input_transition_time", "input_net_transition", "related_pin_transition")


@dataclass
class Table:
    """A lookup table of one or two variables: load (F) and/or input slew (s)."""

    variables: Tuple[str, ...]  # "load" / "slew", in index order
    indices: Tuple[np.ndarray, ...]
    values: np.ndarray

    def __call__(self, load: float, slew: float) -> float:
        args = [load if v == "load" else slew for v in self.variables]
        if len(args) == 1:
            return _interp(self.indices[0], self.values.reshape(-1), args[0])
        idx0, idx1 = self.indices
        i = _bracket(idx0, args[0])
        lo = _interp(idx1, self.values[i], args[1])
        hi = _interp(idx1, self.values[i + 1], args[1])
        t = (args[0] - idx0[i]) / (idx0[i + 1] - idx0[i])
        return float(lo + t * (hi - lo))


def _bracket(index: np.ndarray, x: float) -> int:
    """Lower index of the pair of points used for x (extrapolating beyond the ends)."""
    return min(max(int(np.searchsorted(index, x)) - 1, 0), len(index) - 2)


def _interp(index: np.ndarray, values: np.ndarray, x: float) -> float:
    if len(index) == 1:
        return float(values[0])
    i = _bracket(index, x)
    t = (x - index[i]) / (index[i + 1] - index[i])
    return float(values[i] + t * (values[i + 1] - values[i]))


@dataclass
class PowerArc:
    """One ``internal_power`` group of a pin: energies (J) per rising / falling transition."""

    related: Optional[str]
    when: Optional[Expr]
    rise: Optional[Table]
    fall: Optional[Table]


@dataclass
class TimingArc:
    """Output transition times and delays (s) of one timing arc (NLDM), by output load (F)
    and input slew (s)."""

    related: str
    sense: str  # positive_unate, negative_unate or non_unate
    rise_transition: Optional[Table]
    fall_transition: Optional[Table]
    cell_rise: Optional[Table] = None  # delay to a rising output
    cell_fall: Optional[Table] = None


@dataclass
class Pin:
    name: str
    direction: str
    capacitance: float  # F
    rise_capacitance: float
    fall_capacitance: float
    clock: bool = False
    function: Optional[Expr] = None
    power: List[PowerArc] = field(default_factory=list)
    timing: List[TimingArc] = field(default_factory=list)


@dataclass
class FlipFlop:
    """An ``ff(state, state_inv)`` group: one register bit, next_state sampled every cycle."""

    state: str
    state_inv: Optional[str]
    next_state: Expr


@dataclass
class Cell:
    name: str
    pins: Dict[str, Pin]
    leakage: float  # W: cell_leakage_power (0 if absent)
    leakage_states: List[Tuple[Optional[Expr], float]]  # leakage_power groups: (when, W)
    ff: Optional[FlipFlop] = None
    area: float = 0.0
    unsupported: Optional[str] = None  # why a netlist cannot use the cell (None: it can)

    @property
    def outputs(self) -> List[Pin]:
        return [p for p in self.pins.values() if p.direction == "output"]

    @property
    def inputs(self) -> List[Pin]:
        return [p for p in self.pins.values() if p.direction == "input"]


@dataclass
class WireLoad:
    """A ``wire_load`` group: a net's wire capacitance from its fanout (OpenSTA's
    Wireload::findWireload): length = ``fanout_length`` interpolated linearly between its
    points, extrapolated with ``slope`` beyond them (not below 0); capacitance = length x
    ``capacitance`` (F per unit length). Resistance is not modelled."""

    name: str
    capacitance: float  # F per unit length
    slope: float
    fanout_length: List[Tuple[float, float]]  # (fanout, length), by fanout

    def __call__(self, fanout: float) -> float:
        """Wire capacitance (F) of a net driving ``fanout`` pins."""
        pts = self.fanout_length
        if not pts:
            return 0.0
        (f0, l0), (fm, lm) = pts[0], pts[-1]
        if fanout < f0:
            length = max(0.0, l0 - (f0 - fanout) * self.slope)
        elif fanout >= fm:
            length = lm + (fanout - fm) * self.slope
        else:
            i = max(k for k, (f, _) in enumerate(pts) if fanout >= f)
            (f1, l1), (f2, l2) = pts[i], pts[i + 1]
            length = l1 + (l2 - l1) * (fanout - f1) / (f2 - f1)
        return length * self.capacitance


@dataclass
class Library:
    """A Liberty library in SI units."""

    name: str
    path: str
    voltage: float  # V
    time_unit: float  # s
    cap_unit: float  # F
    leakage_unit: float  # W
    cells: Dict[str, Cell]
    wire_load: Optional[WireLoad] = None  # the library's default_wire_load, if it names one

    def cell(self, name: str) -> Cell:
        """A cell a netlist can use, or InputError naming the cell and the construct."""
        if name not in self.cells:
            raise InputError(f"cell: expected a cell of library {self.name}, found {name!r}")
        cell = self.cells[name]
        if cell.unsupported:
            raise InputError(cell.unsupported)
        return cell


def find_liberty(path: str) -> str:
    """``path`` itself if it exists; a bare file name is also looked up in the folders of
    $BITSIM_LIBERTY_PATH (separated by ':') and in /usr/share/qflow/tech/* (Debian's qflow-tech
    packages: ``--liberty osu018_stdcells.lib``)."""
    if os.path.exists(path) or os.sep in path:
        return path
    folders = [f for f in os.environ.get("BITSIM_LIBERTY_PATH", "").split(":") if f]
    folders += sorted(glob.glob("/usr/share/qflow/tech/*"))
    for folder in folders:
        candidate = os.path.join(folder, path)
        if os.path.exists(candidate):
            return candidate
    return path


def read_liberty(path: str) -> Library:
    """Parse a Liberty file (needs the ``liberty-parser`` package: ``bitsim[liberty]``); a
    bare file name is looked up as ``find_liberty`` says."""
    path = find_liberty(path)
    try:
        from liberty.parser import parse_liberty
    except ImportError:
        raise MissingExtra(
            "liberty: reading .lib files needs the liberty-parser package: "
            "pip install bitsim[liberty]"
        ) from None
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError as err:
        raise InputError(
            f"liberty: expected a readable Liberty file, found {path!r} ({err})"
        ) from None
    try:
        lib = parse_liberty(text)
    except Exception as err:  # the parser raises lark errors of many types
        raise InputError(
            f"liberty: {path} is not a Liberty file: {str(err).splitlines()[0]}"
        ) from None
    units = {
        "time_unit": _unit(lib, "time_unit", "s", "1ns"),
        "voltage_unit": _unit(lib, "voltage_unit", "V", "1V"),
        "leakage_power_unit": _unit(lib, "leakage_power_unit", "W", "1nW"),
    }
    cap = lib.get("capacitive_load_unit")
    if cap is None:
        cap_unit = 1e-12
    else:
        try:
            cap_unit = float(cap[0]) * _SCALE[str(cap[1]).strip('"').lower()[:-1]]
        except (KeyError, IndexError, TypeError, ValueError):
            raise InputError(
                f"liberty: capacitive_load_unit: expected (1, pf) or so, found {cap}"
            ) from None
    volt = _num(lib.get("nom_voltage"))
    if volt is None:
        conds = lib.get_groups("operating_conditions")
        volt = _num(conds[0].get("voltage")) if conds else None
    if volt is None:
        raise InputError(f"liberty: {path} states no nom_voltage nor operating_conditions voltage")
    templates = {
        str(g.args[0]): g
        for kind in ("lu_table_template", "power_lut_template")
        for g in lib.get_groups(kind)
    }
    energy = cap_unit * units["voltage_unit"] ** 2
    scales = {"cap": cap_unit, "time": units["time_unit"], "energy": energy}
    cells = {}
    for g in lib.get_groups("cell"):
        try:
            c = _cell(g, templates, scales, units["leakage_power_unit"])
        except InputError as err:  # kept: the error is raised if a netlist uses the cell
            c = Cell(str(g.args[0]).strip('"'), {}, 0.0, [], unsupported=str(err))
        cells[c.name] = c
    return Library(
        name=str(lib.args[0]) if lib.args else path,
        path=path,
        voltage=float(volt) * units["voltage_unit"],
        time_unit=units["time_unit"],
        cap_unit=cap_unit,
        leakage_unit=units["leakage_power_unit"],
        cells=cells,
        wire_load=_wire_load(lib, cap_unit),
    )


def _wire_load(lib, cap_unit: float) -> Optional[WireLoad]:
    """The ``wire_load`` group that ``default_wire_load`` names (None without one)."""
    name = _str(lib.get("default_wire_load"))
    if name is None:
        return None
    for g in lib.get_groups("wire_load"):
        if str(g.args[0]).strip('"') != name:
            continue
        points = []
        for a in g.attributes:
            if a.name == "fanout_length":
                try:
                    points.append((float(a.value[0]), float(a.value[1])))
                except (TypeError, ValueError, IndexError):
                    raise InputError(
                        f"liberty: wire_load {name}: fanout_length: expected (fanout, length), "
                        f"found {a.value!r}"
                    ) from None
        return WireLoad(
            name,
            (_num(g.get("capacitance")) or 0.0) * cap_unit,
            _num(g.get("slope")) or 0.0,
            sorted(points),
        )
    raise InputError(f"liberty: default_wire_load: expected a wire_load group, found {name!r}")


def _str(v) -> Optional[str]:
    return None if v is None else str(v).strip().strip('"')


def _num(v) -> Optional[float]:
    return None if v is None else float(_str(v) or 0)


def _unit(lib, attr: str, base: str, default: str) -> float:
    text = _str(lib.get(attr)) or default
    m = re.fullmatch(r"\s*([0-9.eE+-]*)\s*([fpnumk]?)" + base + r"\s*", text)
    if not m:
        raise InputError(f"liberty: {attr}: expected a value such as {default!r}, found {text!r}")
    return float(m.group(1) or 1) * _SCALE[m.group(2)]


def _cell(g, templates, scales, leak_unit) -> Cell:
    name = str(g.args[0]).strip('"')
    for bad in ("latch", "statetable", "bus", "bundle"):
        if g.get_groups(bad):
            raise InputError(f"liberty: cell {name}: unsupported construct {bad!r}")
    pins = {}
    for p in g.get_groups("pin"):
        pins[str(p.args[0]).strip('"')] = _pin(name, p, templates, scales)
    ff = None
    groups = g.get_groups("ff")
    if groups:
        (f,) = groups
        for bad in ("clear", "preset"):
            if f.get(bad) is not None:
                raise InputError(f"liberty: cell {name}: unsupported ff attribute {bad!r}")
        args = [str(a).strip('"') for a in f.args]
        ns = _str(f.get("next_state"))
        if ns is None:
            raise InputError(f"liberty: cell {name}: ff group without next_state")
        ff = FlipFlop(args[0], args[1] if len(args) > 1 else None, parse_function(ns, name))
    states = [
        (
            parse_function(_str(lp.get("when")) or "", name, "when") if lp.get("when") else None,
            (_num(lp.get("value")) or 0.0) * leak_unit,
        )
        for lp in g.get_groups("leakage_power")
    ]
    return Cell(
        name,
        pins,
        (_num(g.get("cell_leakage_power")) or 0.0) * leak_unit,
        states,
        ff,
        _num(g.get("area")) or 0.0,
    )


def _pin(cell: str, p, templates, scales) -> Pin:
    name = str(p.args[0]).strip('"')
    direction = _str(p.get("direction")) or ""
    if direction not in ("input", "output"):
        raise InputError(
            f"liberty: cell {cell} pin {name}: unsupported direction {direction!r} "
            "(expected input or output)"
        )
    if p.get("three_state") is not None:
        raise InputError(f"liberty: cell {cell} pin {name}: unsupported attribute 'three_state'")
    cap = (_num(p.get("capacitance")) or 0.0) * scales["cap"]
    rise = _num(p.get("rise_capacitance"))
    fall = _num(p.get("fall_capacitance"))
    func = _str(p.get("function"))
    power = [
        PowerArc(
            _str(ip.get("related_pin")),
            parse_function(_str(ip.get("when")) or "", cell, "when") if ip.get("when") else None,
            _table(ip, "rise_power", templates, scales["energy"], scales),
            _table(ip, "fall_power", templates, scales["energy"], scales),
        )
        for ip in p.get_groups("internal_power")
    ]
    timing = [
        TimingArc(
            _str(t.get("related_pin")) or "",
            _str(t.get("timing_sense")) or "non_unate",
            _table(t, "rise_transition", templates, scales["time"], scales),
            _table(t, "fall_transition", templates, scales["time"], scales),
            _table(t, "cell_rise", templates, scales["time"], scales),
            _table(t, "cell_fall", templates, scales["time"], scales),
        )
        for t in p.get_groups("timing")
        if (_str(t.get("timing_type")) or "combinational")
        in ("combinational", "rising_edge", "falling_edge")
    ]
    return Pin(
        name,
        direction,
        cap,
        cap if rise is None else rise * scales["cap"],
        cap if fall is None else fall * scales["cap"],
        _str(p.get("clock")) == "true",
        parse_function(func, cell, f"pin {name} function") if func else None,
        power,
        timing,
    )


def _table(group, kind: str, templates, unit: float, scales) -> Optional[Table]:
    found = group.get_groups(kind)
    if not found:
        return None
    t = found[0]
    tmpl = templates.get(str(t.args[0]).strip('"')) if t.args else None
    variables, indices = [], []
    for k in (1, 2):
        var = _str(tmpl.get(f"variable_{k}")) if tmpl is not None else None
        if var is None:
            break
        if var in _LOAD_VARS:
            variables.append("load")
        elif var in _SLEW_VARS:
            variables.append("slew")
        else:
            raise InputError(f"liberty: template {t.args[0]}: unsupported variable {var!r}")
        src = t if t.get(f"index_{k}") is not None or tmpl is None else tmpl
        idx = np.asarray(src.get_array(f"index_{k}"), dtype=np.float64).reshape(-1)
        indices.append(idx * (scales["cap"] if variables[-1] == "load" else scales["time"]))
    values = np.asarray(t.get_array("values"), dtype=np.float64) * unit
    if not variables:  # scalar table
        return Table(("slew",), (np.zeros(1),), values.reshape(-1)[:1])
    return Table(tuple(variables), tuple(indices), values.reshape([len(i) for i in indices]))


# -- boolean functions ---------------------------------------------------------------------

_TOKEN = re.compile(r"\s*(?:([A-Za-z_][A-Za-z0-9_.\[\]]*)|([01])|([!'^&*|+()]))")


def parse_function(text: str, cell: str, attr: str = "function") -> Expr:
    """The expression tree of a Liberty boolean expression (see the module docstring)."""
    tokens: List[str] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise InputError(
                f"liberty: cell {cell} {attr}: unexpected {text[pos:].strip()[:10]!r} in {text!r}"
            )
        tokens.append(m.group(1) or m.group(2) or m.group(3))
        pos = m.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    parser = _Parser(tokens, cell, attr, text)
    expr = parser.binary(0)
    if parser.i != len(tokens):
        raise InputError(f"liberty: cell {cell} {attr}: cannot parse {text!r}")
    return expr


_LEVELS = (("or", "|+"), ("and", "&*"), ("xor", "^"))


class _Parser:
    def __init__(self, tokens, cell, attr, text):
        self.tokens, self.i, self.cell, self.attr, self.text = tokens, 0, cell, attr, text

    def peek(self) -> Optional[str]:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def fail(self) -> NoReturn:
        raise InputError(f"liberty: cell {self.cell} {self.attr}: cannot parse {self.text!r}")

    def binary(self, level: int) -> Expr:
        if level == len(_LEVELS):
            return self.unary()
        op, chars = _LEVELS[level]
        left = self.binary(level + 1)
        while True:
            t = self.peek()
            if t is not None and t in chars:
                self.i += 1
            elif op == "and" and t is not None and (t in "!(" or t[0].isalnum() or t[0] == "_"):
                pass  # juxtaposition: implicit and
            else:
                return left
            left = (op, left, self.binary(level + 1))

    def unary(self) -> Expr:
        t = self.peek()
        if t is None:
            self.fail()
        self.i += 1
        if t == "!":
            e: Expr = ("not", self.unary())
        elif t == "(":
            e = self.binary(0)
            if self.peek() != ")":
                self.fail()
            self.i += 1
        elif t in ("0", "1"):
            e = ("const", int(t))
        elif t[0].isalpha() or t[0] == "_":
            e = ("port", t)
        else:
            self.fail()
        while self.peek() == "'":
            self.i += 1
            e = ("not", e)
        return e


def ports_of(expr: Expr) -> List[str]:
    """The port names an expression reads, in first-use order."""
    if expr[0] == "port":
        return [expr[1]]
    if expr[0] == "const":
        return []
    return list(dict.fromkeys(p for sub in expr[1:] for p in ports_of(sub)))


def evaluate(expr: Expr, env: Dict[str, np.ndarray], size: int, dtype=bool) -> np.ndarray:
    """The expression over arrays of ``size`` elements (env: port name -> array): boolean
    arrays, or packed words (``dtype=np.uint64``, bitwise: a constant 1 is all ones)."""
    kind = expr[0]
    if kind == "port":
        return env[expr[1]]
    if kind == "const":
        zeros = np.zeros(size, dtype=dtype)
        return ~zeros if expr[1] else zeros
    if kind == "not":
        return ~evaluate(expr[1], env, size, dtype)
    a, b = evaluate(expr[1], env, size, dtype), evaluate(expr[2], env, size, dtype)
    return a & b if kind == "and" else (a | b if kind == "or" else a ^ b)
