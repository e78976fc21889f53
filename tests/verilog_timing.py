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


def _pairs(delays):
    """(rise, fall) per gate from ints or pairs."""
    return [(d, d) if np.ndim(d) == 0 else (int(d[0]), int(d[1])) for d in delays]


def _expressions(netlist: Netlist, delays, ops, name):
    """Expression of each gate's function; gates of delay (0, 0) (inside a library cell) are
    inlined into their readers, so a cell is one expression of its input pins."""
    inline = {}
    out = []
    for g, (r, f) in zip(netlist.gates, delays):
        names = dict(zip("abc", (inline.get(i, name(i)) for i in g.inputs)))
        expr = "(" + ops[g.type].format(**names) + ")"
        if r == 0:
            inline[g.out] = expr
        else:
            out.append((g, r, f, expr))
    return out


def verilog_testbench(netlist: Netlist, delays, semantics, x_port, w_port, xv, wv, period) -> str:
    """Verilog: inertial gates as ``assign #(r, f)``, transport as ``always @* out <= #d``
    (rise = fall only: Verilog has no transport rule for r != f); delays per gate of
    netlist.gates, ints or (rise, fall); the operand bit patterns xv, wv applied every
    ``period`` steps after a settled all-0 start."""
    delays = _pairs(delays)
    lines = ["`timescale 1ns/1ns", "module tb;", "reg on;"]
    lines.append(f"integer rise [0:{netlist.nets - 1}]; integer fall [0:{netlist.nets - 1}];")
    lines.append("integer i;")
    lines.append("wire n0 = 1'b0; wire n1 = 1'b1;")
    ins = [n for bus in netlist.inputs.values() for n in bus]
    lines += [f"reg n{n};" for n in ins]
    cells = _expressions(netlist, delays, _EXPR, lambda i: f"n{i}")
    for g, r, f, expr in cells:
        if semantics == "inertial":
            lines.append(f"wire n{g.out}; assign #({r},{f}) n{g.out} = {expr};")
        else:
            assert r == f, "Verilog has no transport continuous assignment with rise != fall"
            lines.append(f"reg n{g.out}; always @* n{g.out} <= #{r} {expr};")
    for n in [*ins, *(g.out for g, *_ in cells)]:
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


_VHDL = {
    "AND": "{a} and {b}",
    "OR": "{a} or {b}",
    "XOR": "{a} xor {b}",
    "NAND": "{a} nand {b}",
    "NOR": "{a} nor {b}",
    "XNOR": "{a} xnor {b}",
    "NOT": "not {a}",
    "ANDNOT": "{a} and not {b}",
    "ORNOT": "{a} or not {b}",
    "MUX": "({b} and {c}) or ({a} and not {c})",
    "BUF": "{a}",
}


def vhdl_testbench(netlist: Netlist, delays, x_port, w_port, xv, wv, period) -> str:
    """VHDL with transport delays: each gate a process ``out <= transport v after (r or f)``
    (IEEE 1076: a new transaction deletes the driver's ones at or after its time); same
    stimulus and counts as verilog_testbench."""
    delays = _pairs(delays)
    nets = netlist.nets
    lines = [
        "use std.textio.all;",
        "entity tb is end;",
        "architecture a of tb is",
        "signal counting, done : boolean := false;",
    ]
    lines += [f"signal n{i} : bit := '0';" for i in range(nets)]
    lines += ["begin", "n1 <= '1';"]
    cells = _expressions(netlist, delays, _VHDL, lambda i: f"n{i}")
    for g, r, f, expr in cells:
        sens = sorted(
            {
                int(s[1:])
                for s in expr.replace("(", " ").replace(")", " ").split()
                if s.startswith("n") and s[1:].isdigit()
            }
        )
        lines.append(
            f"process ({', '.join(f'n{s}' for s in sens)}) variable v : bit; begin v := {expr}; "
            f"if v = '1' then n{g.out} <= transport v after {r} ns; "
            f"else n{g.out} <= transport v after {f} ns; end if; end process;"
        )
    ins = [n for bus in netlist.inputs.values() for n in bus]
    for n in [*ins, *(g.out for g, *_ in cells)]:
        lines.append(
            f"process (n{n}, done) variable r, f : integer := 0; variable l : line; begin "
            f'if done then write(l, string\'("{n} ")); write(l, r); write(l, string\'(" ")); '
            f"write(l, f); writeline(output, l); "
            f"elsif n{n}'event and counting then if n{n} = '1' then r := r + 1; else f := f + 1; "
            "end if; end if; end process;"
        )
    lines.append("process begin")
    lines.append(f"wait for {period} ns; counting <= true;")
    for x, w in zip(xv, wv):
        for port, value in ((x_port, x), (w_port, w)):
            for j, n in enumerate(netlist.inputs[port]):
                lines.append(f"n{n} <= '{(int(value) >> j) & 1}';")
        lines.append(f"wait for {period} ns;")
    lines += ["done <= true; wait; end process;", "end;"]
    return "\n".join(lines) + "\n"


def ghdl_counts(tmp: Path, source: str, nets: int):
    """(rise, fall) per net from running the vhdl_testbench with GHDL."""
    if shutil.which("ghdl") is None:
        raise RuntimeError("GHDL is not installed (apt-get install ghdl)")
    (tmp / "tb.vhd").write_text(source)
    for step in (["-a"], ["-e"], ["-r"]):
        done = subprocess.run(
            ["ghdl", *step, "--std=08", *(["tb.vhd"] if step == ["-a"] else ["tb"])],
            cwd=tmp, check=True, capture_output=True, text=True,
        )  # fmt: skip
    return _parse(done.stdout, nets)


def _parse(out: str, nets: int):
    rise = np.zeros(nets, dtype=np.uint64)
    fall = np.zeros(nets, dtype=np.uint64)
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and all(p.isdigit() for p in parts):
            rise[int(parts[0])], fall[int(parts[0])] = int(parts[1]), int(parts[2])
    return rise, fall


def iverilog_counts(tmp: Path, source: str, nets: int):
    """(rise, fall) per net from running the verilog_testbench with iverilog/vvp."""
    if shutil.which("iverilog") is None:
        raise RuntimeError("iverilog is not installed (apt-get install iverilog)")
    (tmp / "tb.v").write_text(source)
    subprocess.run(["iverilog", "-o", str(tmp / "tb.vvp"), str(tmp / "tb.v")], check=True)
    out = subprocess.run(
        ["vvp", "-n", str(tmp / "tb.vvp")], check=True, capture_output=True, text=True
    ).stdout
    return _parse(out, nets)
