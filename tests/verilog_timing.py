"""Test helper: a combinational netlist as a Verilog verilog_testbench with gate delays, run by
iverilog, counting every value change of every net (rising and falling)."""

import shutil
import subprocess
from pathlib import Path

import numpy as np

from bitsim.circuits.netlist import Netlist

_EXPR = {
    "AND": "{a} & {b}",
    "OR": "{a} | {b}",
    "XOR": "{a} ^ {b}",
    "NAND": "~({a} & {b})",
    "NOR": "~({a} | {b})",
    "XNOR": "~({a} ^ {b})",
    "NOT": "~{a}",
    "ANDNOT": "{a} & ~{b}",
    "ORNOT": "{a} | ~{b}",
    "MUX": "{c} ? {b} : {a}",
    "BUF": "{a}",
}


def verilog_testbench(netlist: Netlist, delays, semantics, x_port, w_port, xv, wv, period) -> str:
    """Verilog: inertial gates as ``assign #d``, transport as ``always @* out <= #d``; the
    operand bit patterns xv, wv applied every ``period`` steps after a settled all-0 start."""
    lines = ["`timescale 1ns/1ns", "module tb;", "reg on;"]
    lines.append(f"integer rise [0:{netlist.nets - 1}]; integer fall [0:{netlist.nets - 1}];")
    lines.append("integer i;")
    lines.append("wire n0 = 1'b0; wire n1 = 1'b1;")
    ins = [n for bus in netlist.inputs.values() for n in bus]
    lines += [f"reg n{n};" for n in ins]
    for g, d in zip(netlist.gates, delays):
        names = dict(zip("abc", (f"n{i}" for i in g.inputs)))
        expr = _EXPR[g.type].format(**names)
        if semantics == "inertial":
            lines.append(f"wire n{g.out}; assign #{d} n{g.out} = {expr};")
        else:
            lines.append(f"reg n{g.out}; always @* n{g.out} <= #{d} {expr};")
    for n in [*ins, *(g.out for g in netlist.gates)]:
        lines.append(
            f"always @(n{n}) if (on) begin if (n{n} === 1'b1) rise[{n}] = rise[{n}] + 1; "
            f"else fall[{n}] = fall[{n}] + 1; end"
        )
    lines.append("initial begin")
    lines.append(
        f"on = 0; for (i = 0; i < {netlist.nets}; i = i + 1) begin rise[i] = 0; fall[i] = 0; end"
    )
    lines += [f"n{n} = 0;" for n in ins]
    lines.append(f"#{period} on = 1;")
    for x, w in zip(xv, wv):
        for port, value in ((x_port, x), (w_port, w)):
            for j, n in enumerate(netlist.inputs[port]):
                lines.append(f"n{n} = {(int(value) >> j) & 1};")
        lines.append(f"#{period};")
    lines.append(
        f'for (i = 0; i < {netlist.nets}; i = i + 1) $display("%0d %0d %0d", i, rise[i], fall[i]);'
    )
    lines.append("$finish; end")
    lines.append("endmodule")
    return "\n".join(lines) + "\n"


def iverilog_counts(tmp: Path, source: str, nets: int):
    """(rise, fall) per net from running the verilog_testbench with iverilog/vvp."""
    if shutil.which("iverilog") is None:
        raise RuntimeError("iverilog is not installed (apt-get install iverilog)")
    (tmp / "tb.v").write_text(source)
    subprocess.run(["iverilog", "-o", str(tmp / "tb.vvp"), str(tmp / "tb.v")], check=True)
    out = subprocess.run(
        ["vvp", "-n", str(tmp / "tb.vvp")], check=True, capture_output=True, text=True
    ).stdout
    rise = np.zeros(nets, dtype=np.uint64)
    fall = np.zeros(nets, dtype=np.uint64)
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and all(p.isdigit() for p in parts):
            rise[int(parts[0])], fall[int(parts[0])] = int(parts[1]), int(parts[2])
    return rise, fall
