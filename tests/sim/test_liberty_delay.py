"""Liberty gate delays (bitsim.sim.liberty_delay) against OpenSTA 2.0.17's delay calculation.

OpenSTA's ``report_dcalc -from I/A -to I/Y`` prints the delay of every transition of one timing
arc at OpenSTA's own load and input slew. bitsim's delay of a cell output (largest over its
arcs, rise and fall apart) equals the largest of OpenSTA's arc delays within 1.5 % on every
cell of an OSU 180 nm 8x8 multiplier: bitsim loads each direction with the pins' rise or fall
capacitances, as OpenSTA, but propagates slews at the larger of the two loads (energy's
slews), which accounts for the difference (measured: at most 1.04 %, mean 0.05 %).
"""

import re
import shutil
import subprocess

import numpy as np
import pytest

from bitsim._core.checks import InputError, InputTypeError
from bitsim.circuits.mapped import instance_names, map_circuit, verilog
from bitsim.circuits.multipliers import circuit
from bitsim.sim.liberty_delay import liberty_delays, output_delays
from bitsim.sim.timing import simulate_timing
from tests.verilog_timing import iverilog_counts, verilog_testbench

from util_energy import OSU018, osu018

TOLERANCE = 0.015


def opensta_delays(mapped, tmp_path):
    """(instance, output pin) -> (rise, fall): the largest of OpenSTA's report_dcalc delays
    over the output's timing arcs (s)."""
    (tmp_path / "net.v").write_text(verilog(mapped))
    lines = [f"read_liberty {OSU018}", f"read_verilog {tmp_path / 'net.v'}"]
    lines.append(f"link_design {mapped.module}")
    keys = []
    for inst, name in zip(mapped.instances, instance_names(mapped)):
        for p in inst.cell.outputs:
            for arc in p.timing:
                lines.append(
                    f"report_dcalc -from {name}/{arc.related} -to {name}/{p.name} -digits 6"
                )
                keys.append((inst.name, p.name))
    (tmp_path / "run.tcl").write_text("\n".join(lines) + "\nexit\n")
    out = subprocess.run(
        ["sta", "-no_init", "-no_splash", "-exit", str(tmp_path / "run.tcl")],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    ).stdout
    blocks = out.split("Library:")[1:]
    assert len(blocks) == len(keys), out[-2000:]
    found = {}
    for key, block in zip(keys, blocks):
        rise, fall = found.get(key, (0.0, 0.0))
        edges = re.findall(r"^\S+ [v^] -> \S+ ([v^])$", block, re.M)
        delays = [float(d) * 1e-9 for d in re.findall(r"^Delay = ([0-9.eE+-]+)$", block, re.M)]
        assert edges and len(edges) == len(delays), block
        for edge, d in zip(edges, delays):
            if edge == "^":
                rise = max(rise, d)
            else:
                fall = max(fall, d)
        found[key] = (rise, fall)
    return found


@pytest.mark.parametrize("arch", ["array"])
def test_delays_equal_opensta(arch, tmp_path):
    assert shutil.which("sta"), "OpenSTA: apt-get install opensta (.ci/run installs it)"
    mapped = map_circuit(circuit(arch, 8, 8, True), osu018())
    ours = output_delays(mapped)
    theirs = opensta_delays(mapped, tmp_path)
    assert set(ours) == set(theirs)
    rel = np.array([abs(ours[k][i] - theirs[k][i]) / theirs[k][i] for k in ours for i in (0, 1)])
    assert rel.max() < TOLERANCE, rel.max()
    assert rel.mean() < 0.002


def test_quantized_per_gate():
    mapped = map_circuit(circuit("dadda", 4, 4, False), osu018())
    secs = output_delays(mapped)
    for step in (5e-12, 10e-12, 40e-12, 1e-9):
        d = liberty_delays(mapped, step)
        driven = {}
        for inst in mapped.instances:
            for p in inst.cell.outputs:
                driven[inst.pins[p.name]] = secs[(inst.name, p.name)]
        for g, r, f in zip(mapped.netlist.gates, d.rise, d.fall):
            if g.part == "internal":
                assert r == f == 0
                continue
            want = [max(1, int(np.floor(s / step + 0.5))) for s in driven[g.out]]
            assert [r, f] == want
    coarse = liberty_delays(mapped, 1e-9)  # every delay under half a step: the minimum 1
    assert set(coarse.rise[coarse.rise > 0]) == {1}


def test_bad_inputs():
    mapped = map_circuit(circuit("array", 2, 2, False), osu018())
    for bad in (0, -1e-12, "10ps", True):
        with pytest.raises(InputError, match="time_step"):
            liberty_delays(mapped, bad)
    with pytest.raises(InputError, match="at most"):
        liberty_delays(mapped, 1e-16)
    with pytest.raises(InputTypeError, match="liberty"):
        liberty_delays(circuit("array", 2, 2, False).netlist)


@pytest.mark.parametrize("arch,signed", [("array", True), ("wallace", False)])
def test_iverilog_agrees_with_liberty_delays(arch, signed, tmp_path):
    """The quantized Liberty delays as ``assign #(r, f)`` of each cell in iverilog: every
    change of every physical net equal, rising and falling (5 ps steps: delays of 8-43 steps)."""
    mapped = map_circuit(circuit(arch, 4, 4, signed), osu018())
    d = liberty_delays(mapped, 5e-12)
    rng = np.random.default_rng(1)
    lo, hi = (-8, 8) if signed else (0, 16)
    x, w = rng.integers(lo, hi, 60), rng.integers(lo, hi, 60)
    r = simulate_timing(mapped, x, w, delay="liberty", time_step=5e-12, signed=signed)
    assert np.array_equal(
        r.rise, simulate_timing(mapped.netlist, x, w, delay=(d.rise, d.fall), signed=signed).rise
    )
    period = len(r.settle) + 5
    src = verilog_testbench(
        mapped.netlist, list(zip(d.rise, d.fall)), "inertial", "x", "w", x & 15, w & 15, period
    )
    rise, fall = iverilog_counts(tmp_path, src, mapped.netlist.nets)
    rise[:2] = fall[:2] = 0
    assert np.array_equal(rise, r.rise) and np.array_equal(fall, r.fall)
    assert r.glitches.sum() > 0 and r.glitch_totals()["settle_max"] > 20
