"""Test helper: a sequential netlist (flip-flops, or a MAC's state bus) as a clocked Verilog
testbench with gate delays (``assign #(r, f)``), run by iverilog, counting every value change
of every net, rising and falling.

Each cycle starts with a rising clock edge: the registers load their inputs (``q <= d``) and
the driven input ports take their new values (also nonblocking, so a register fed straight
from a port samples the value before the edge); the logic then settles within the period,
which the caller chooses longer than the settle time. Before the first edge, every input and
register is 0 and the logic has settled (the reset state of ``bitsim.simulate_netlist``)."""

import numpy as np

from bitsim.circuits.netlist import Netlist
from tests.verilog_timing import _EXPR, _expressions, _pairs


def registers(netlist: Netlist):
    """(d, q) net pairs: the DFF gates, and the bits of every state bus with its '<name>_next'
    output bus."""
    pairs = [(g.inputs[0], g.out) for g in netlist.gates if g.type == "DFF"]
    for name, bus in netlist.state.items():
        pairs += list(zip(netlist.outputs[f"{name}_next"], bus))
    return pairs


def clocked_testbench(netlist: Netlist, delays, stimulus, period: int) -> str:
    """Verilog (inertial gates ``assign #(r, f)``; delays per gate of netlist.gates, DFF gates'
    entries ignored); stimulus: input port name -> per-cycle values (two's complement bit
    patterns); period: steps per cycle (even)."""
    regs = registers(netlist)
    comb = [(g, d) for g, d in zip(netlist.gates, _pairs(delays)) if g.type != "DFF"]
    sub = Netlist(netlist.nets, [g for g, _ in comb], netlist.inputs, netlist.outputs)
    cells = _expressions(sub, [d for _, d in comb], _EXPR, lambda i: f"n{i}")
    driven = {n for port in stimulus for n in netlist.inputs[port]}
    ins = sorted({n for bus in netlist.inputs.values() for n in bus} - {0, 1})
    lines = ["`timescale 1ns/1ns", "module tb;", "reg on, clk;"]
    lines.append(f"integer rise [0:{netlist.nets - 1}]; integer fall [0:{netlist.nets - 1}];")
    lines.append("integer i;")
    lines.append("wire n0 = 1'b0; wire n1 = 1'b1;")
    lines += [f"reg n{n};" for n in ins]
    lines += [f"reg n{q};" for _, q in regs]
    for g, r, f, expr in cells:
        lines.append(f"wire n{g.out}; assign #({r},{f}) n{g.out} = {expr};")
    lines += [f"always @(posedge clk) n{q} <= n{d};" for d, q in regs]
    counted = [*ins, *(q for _, q in regs), *(g.out for g, *_ in cells)]
    for n in counted:
        lines.append(
            f"always @(n{n}) if (on) begin if (n{n} === 1'b1) rise[{n}] = rise[{n}] + 1; "
            f"else fall[{n}] = fall[{n}] + 1; end"
        )
    lines.append("initial begin")
    lines.append(
        f"on = 0; clk = 0; for (i = 0; i < {netlist.nets}; i = i + 1) begin rise[i] = 0; "
        "fall[i] = 0; end"
    )
    lines += [f"n{n} = 0;" for n in ins]
    lines += [f"n{q} = 0;" for _, q in regs]
    lines.append(f"#{period} on = 1;")
    cycles = len(next(iter(stimulus.values())))
    for t in range(cycles):
        lines.append("clk = 1;")
        for port, values in stimulus.items():
            for j, n in enumerate(netlist.inputs[port]):
                if n in driven:
                    lines.append(f"n{n} <= {(int(values[t]) >> j) & 1};")
        lines.append(f"#{period // 2} clk = 0; #{period // 2};")
    lines.append(
        f'for (i = 0; i < {netlist.nets}; i = i + 1) $display("%0d %0d %0d", i, rise[i], fall[i]);'
    )
    lines.append("$finish; end")
    lines.append("endmodule")
    return "\n".join(lines) + "\n"


def bits(values, width: int) -> np.ndarray:
    """Two's complement bit patterns of int values in ``width`` bits."""
    return np.asarray(values, dtype=np.int64) & ((1 << width) - 1)
