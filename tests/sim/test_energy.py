"""Energy of mapped netlists: rises and falls, the energy sum, errors, the CLI, exports."""

import json
import re
import shutil

import numpy as np
import pytest

from bitsim._core.checks import InputError
from bitsim.backends.reference.gates import evaluate, reset_state, sources
from bitsim.circuits.liberty import read_liberty
from bitsim.circuits.mapped import load_mapped_json, map_circuit
from bitsim.circuits.multipliers import circuit
from bitsim.cli import main
from bitsim.sim import mac
from bitsim.sim.energy import simulate_energy
from bitsim.sim.gates import compile_netlist

from util import run_yosys
from util_energy import OSU018, approx, osu018


def direct_activity(mapped, n, length, signed, seed):
    """Rises, duties, causing pins and leakage states counted vector by vector in plain
    Python on the reference's values (equal split among the related pins that switched)."""
    prog = compile_netlist(mapped.netlist, "x", "w", length)
    _, xs, ws, _, _ = mac.prepare(
        "uniform",
        "uniform",
        x_bits=4,
        w_bits=4,
        acc_bits=64,
        signed=signed,
        length=length,
        n=n,
        seed=seed,
    )
    reset = reset_state(prog)
    V = evaluate(prog, *sources(prog, xs, ws, n), before=reset)
    seq = np.vstack([np.concatenate([[reset[i]], V[i]]) for i in range(prog.nets)])
    rises = np.count_nonzero(~seq[:, :-1] & seq[:, 1:], axis=1)
    clock = set(mapped.netlist.inputs.get(mapped.clock or "", []))
    caused = {}
    for i, inst in enumerate(mapped.instances):
        for p in inst.cell.outputs:
            if not p.power:
                continue
            assert all(a.when is None for a in p.power)
            out = np.zeros((len(p.power), 2))
            o = seq[inst.pins[p.name]]
            for t in range(n):
                if o[t] == o[t + 1]:
                    continue
                switched = [
                    a.related
                    for a in p.power
                    if inst.pins[a.related] in clock
                    or seq[inst.pins[a.related], t] != seq[inst.pins[a.related], t + 1]
                ]
                for a, arc in enumerate(p.power):
                    if arc.related in switched:
                        out[a, 0 if o[t + 1] else 1] += 1 / len(switched)
            caused[(i, p.name)] = out
    return rises, seq[:, 1:].mean(axis=1), caused


@pytest.mark.parametrize("length, n, threads", [(None, 2001, 1), (7, 1999, 2), (16, 3, 1)])
def test_activity_equals_a_direct_count(length, n, threads):
    """Rises, duties and the pins that caused each output transition, over the whole run,
    equal a vector-by-vector count; chunks of 64 and 100 vectors (runs cross chunk borders,
    the accumulator's state carried over) give the same as one chunk."""
    mapped = map_circuit(circuit("array", 4, 4, True, 10), osu018())
    rises, duty, caused = direct_activity(mapped, n, length, True, 5)
    for chunk in (64, 100, 1 << 16):
        e = simulate_energy(
            mapped, signed=True, length=length, n=n, seed=5, threads=threads, chunk=chunk
        )
        act = e.activity
        assert np.array_equal(act.rises, rises)
        assert np.array_equal(act.rises + act.falls, act.toggles)
        np.testing.assert_allclose(act.duty, duty, rtol=0, atol=1e-12)
        assert act.caused.keys() == caused.keys() and act.unattributed == 0
        for key, got in act.caused.items():
            np.testing.assert_allclose(got, caused[key], rtol=0, atol=1e-9)
            net = mapped.instances[key[0]].pins[key[1]]
            assert got[:, 0].sum() == pytest.approx(act.rises[net])


def test_energy_is_the_sum_of_the_pins_and_scales_with_the_clock():
    mapped = map_circuit(circuit("dadda", 4, 4, False), osu018())
    e1 = simulate_energy(mapped, n=4000, clock=1e8)
    e2 = simulate_energy(mapped, n=4000, clock=2e8)
    n = e1.activity.vectors
    assert e1.per_vector_j["switching"] == approx(sum(p.switching_j for p in e1.pins) / n)
    assert e1.per_vector_j["internal"] == approx(sum(p.internal_j for p in e1.pins) / n)
    assert e1.power_w["internal"] * 2 == approx(e2.power_w["internal"])
    assert e1.power_w["leakage"] == approx(e2.power_w["leakage"])
    leak = sum(i.cell.leakage for i in mapped.instances)
    assert e1.power_w["leakage"] == approx(leak)
    assert e1.per_vector_j["total"] == approx(
        sum(e1.per_vector_j[k] for k in ("internal", "switching", "leakage"))
    )
    with pytest.raises(InputError, match="clock: expected a frequency in Hz > 0, found 0"):
        simulate_energy(mapped, n=10, clock=0)
    with pytest.raises(InputError, match="mapped: expected a MappedNetlist"):
        simulate_energy(mapped.netlist, n=10)


def test_cli_gates_liberty(tmp_path, capsys):
    saif, tcl, v = (tmp_path / f for f in ("a.saif", "a.tcl", "a.v"))
    args = [
        "gates",
        "--arch",
        "dadda",
        "--bits",
        "4",
        "--signed",
        "signed",
        "--mac",
        "--acc-bits",
        "12",
        "--length",
        "16",
        "--liberty",
        OSU018,
        "-n",
        "3000",
        "--clock",
        "2e8",
        "--saif",
        str(saif),
        "--sta-tcl",
        str(tcl),
        "--verilog",
        str(v),
        "--format",
        "json",
    ]
    assert main(args) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert set(row["power_w"]) == {"internal", "switching", "leakage", "total"}
    assert row["internal_model"] == "transition"
    assert set(row["energy_per_vector_pj"]) == {"internal", "switching", "leakage", "total"}
    assert row["power_w"]["total"] == approx(row["energy_per_vector_pj"]["total"] * 2e-4)
    parts = row["energy_by_part_pj"]
    assert set(parts) == {
        "partial_products",
        "reduction_tree",
        "final_adder",
        "accumulator_adder",
        "registers",
        "clock",
    }
    assert min(parts.values()) > 0
    dynamic = row["energy_per_vector_pj"]["internal"] + row["energy_per_vector_pj"]["switching"]
    assert sum(parts.values()) == approx(dynamic)
    text = tcl.read_text()
    assert "create_clock -name clk -period 5 [get_ports {clk}]" in text
    assert text.count("set_power_activity -pins") == sum(row["cells"].values())
    s = saif.read_text()
    assert s.startswith("(SAIFILE") and "(DURATION 15000000)" in s  # 3000 x 5000 ps
    top, _, cells = s.partition("(INSTANCE ")[2].partition("\n  )\n")
    nets = re.findall(r"\((\S+) \(T0 (\d+)\) \(T1 (\d+)\) \(TX 0\) \(TC (\d+)\)", top)
    assert len(nets) == sum(row["cells"].values()) + 4 + 4 + 1 + 1  # cells, x, w, first, clk
    # each cell again as an INSTANCE whose NET entries are its output pins (read_saif)
    pins = re.findall(r"\(INSTANCE (\S+)\n    \(NET\n      \((\w+) \(T0 (\d+)\)", cells)
    assert len(pins) == sum(row["cells"].values())
    assert ("clk\\[0\\]", "7500000", "7500000", "6000") in nets
    assert all(int(t0) + int(t1) == 15000000 for _, t0, t1, _ in nets)
    assert sum(int(tc) for *_, tc in nets) > 0
    assert "module bitsim_dadda(" in v.read_text()
    assert main(["gates", "--arch", "dadda", "--bits", "4", "--liberty", OSU018, "-n", "100"]) == 0
    assert "energy per vector, total (pJ)" in capsys.readouterr().out
    rows = {}
    for model in ("transition", "opensta-2.0"):
        args = ["gates", "--arch", "dadda", "--bits", "4", "--signed", "signed", "-n", "500"]
        assert (
            main([*args, "--liberty", OSU018, "--internal-model", model, "--format", "json"]) == 0
        )
        (rows[model],) = json.loads(capsys.readouterr().out)
    assert rows["opensta-2.0"]["internal_model"] == "opensta-2.0"
    sw = {m: r["energy_per_vector_pj"]["switching"] for m, r in rows.items()}
    assert sw["transition"] == sw["opensta-2.0"]
    assert (
        1.5
        < (
            rows["opensta-2.0"]["energy_per_vector_pj"]["internal"]
            / rows["transition"]["energy_per_vector_pj"]["internal"]
        )
        < 3
    )
    assert main(["gates", "--arch", "dadda", "--bits", "4", "--liberty", OSU018, "-n", "100"]) == 0
    assert "energy per vector, total (pJ)" in capsys.readouterr().out
    for bad, msg in [
        (["--saif", str(saif)], "--saif: needs --liberty"),
        (["--internal-model", "transition"], "--internal-model: needs --liberty"),
        (["--liberty", OSU018, "--saif", str(saif)], "--saif: expected one configuration"),
    ]:
        with pytest.raises(SystemExit) as exit_:
            main(["gates", "--arch", "dadda", *bad])
        assert exit_.value.code == 2 and msg in capsys.readouterr().err


def test_cli_gates_liberty_without_n_uses_the_default(capsys, monkeypatch):
    """-n is optional with --liberty, as without it (10^6 vectors; here patched small)."""
    import bitsim.cli.gates_energy as ge

    seen = {}
    real = ge.simulate_energy

    def spy(*args, **kwargs):
        seen["n"] = kwargs["n"]
        kwargs["n"] = 200
        return real(*args, **kwargs)

    monkeypatch.setattr(ge, "simulate_energy", spy)
    assert (
        main(
            [
                "gates",
                "--arch",
                "dadda",
                "--bits",
                "4",
                "--signed",
                "unsigned",
                "--liberty",
                OSU018,
                "--format",
                "json",
            ]
        )
        == 0
    )
    (row,) = json.loads(capsys.readouterr().out)
    assert seen["n"] == 10**6 and row["n"] == 200 and row["energy_per_vector_pj"]["total"] > 0


def test_energy_by_part_of_a_hierarchical_netlist(tmp_path, capsys):
    """A user's netlist mapped module by module and then flattened: energy by submodule
    instance (and the top module's own cells as 'logic'), summing to the dynamic energy."""
    (tmp_path / "h.v").write_text(
        "module add4(input [3:0] a, input [3:0] b, output [4:0] s); assign s = a + b; endmodule\n"
        "module mul4(input [3:0] a, input [3:0] b, output [7:0] p); assign p = a * b; endmodule\n"
        "module top(input [3:0] a, input [3:0] b, output [8:0] y);\n"
        "  wire [7:0] p; wire [4:0] s;\n"
        "  mul4 u_mul(.a(a), .b(b), .p(p)); add4 u_add(.a(a), .b(b), .s(s));\n"
        "  assign y = p + s;\nendmodule\n"
    )
    shutil.copy(OSU018, tmp_path / "cells.lib")
    script = (
        "read_verilog h.v; synth -top top; dfflibmap -liberty cells.lib; "
        "abc -liberty cells.lib; flatten; opt_clean; write_json h.json"
    )
    run_yosys(script, tmp_path)
    args = ["gates", "--netlist", str(tmp_path / "h.json"), "--liberty", OSU018, "--bits", "4"]
    assert main([*args, "--signed", "unsigned", "-n", "3000", "--format", "json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    parts = row["energy_by_part_pj"]
    assert set(parts) == {"u_mul", "u_add", "logic", "clock"} and parts["clock"] == 0
    assert min(parts["u_mul"], parts["u_add"], parts["logic"]) > 0
    assert parts["u_mul"] > parts["u_add"]
    e = row["energy_per_vector_pj"]
    assert sum(parts.values()) == approx(e["internal"] + e["switching"])


WHEN_LIB = """
library(whens) {
  time_unit : "1ns"; voltage_unit : "1V"; leakage_power_unit : "1nW";
  capacitive_load_unit (1, pf); nom_voltage : 1.0;
  cell (XR) {
    pin(A) { direction : input; capacitance : 0.01; }
    pin(B) { direction : input; capacitance : 0.01; }
    pin(Y) { direction : output; function : "A ^ B";
      internal_power () { related_pin : "A"; when : "B";
        rise_power (scalar) { values ("1"); } fall_power (scalar) { values ("2"); } }
      internal_power () { related_pin : "A"; when : "!B";
        rise_power (scalar) { values ("4"); } fall_power (scalar) { values ("8"); } }
      internal_power () { related_pin : "B";
        rise_power (scalar) { values ("16"); } fall_power (scalar) { values ("32"); } } }
  }
}
"""


def test_when_conditions_pick_the_arc(tmp_path):
    """Two arcs of one related pin with when conditions and a third pin: each output
    transition goes to the arc whose pin switched and whose when holds, split equally among
    the switching pins; equal to a vector-by-vector count, and priced by those tables."""
    (tmp_path / "w.lib").write_text(WHEN_LIB)
    lib = read_liberty(str(tmp_path / "w.lib"))
    module = {
        "ports": {
            "a": {"direction": "input", "bits": [2, 3]},
            "b": {"direction": "input", "bits": [4]},
            "y": {"direction": "output", "bits": [6]},
        },
        "cells": {
            "u1": {"type": "XR", "connections": {"A": [2], "B": [4], "Y": [5]}},
            "u2": {"type": "XR", "connections": {"A": [5], "B": [3], "Y": [6]}},
        },
        "netnames": {"n1": {"bits": [5]}},
    }
    (tmp_path / "w.json").write_text(json.dumps({"modules": {"top": module}}))
    mapped = load_mapped_json(str(tmp_path / "w.json"), lib)
    n = 3000
    e = simulate_energy(mapped, x_port="a", w_port="b", n=n, seed=2, chunk=100)
    prog = compile_netlist(mapped.netlist, "a", "b", None)
    _, xs, ws, _, _ = mac.prepare(x_bits=2, w_bits=1, acc_bits=64, signed=False, n=n, seed=2)
    reset = reset_state(prog)
    V = evaluate(prog, *sources(prog, xs, ws, n), before=reset)
    seq = np.vstack([np.concatenate([[reset[i]], V[i]]) for i in range(prog.nets)])
    expected = 0.0
    for i, inst in enumerate(mapped.instances):
        y, a, b = (seq[inst.pins[p]] for p in ("Y", "A", "B"))
        caused = np.zeros((3, 2))
        for t in range(n):
            if y[t] == y[t + 1]:
                continue
            switched = [p for p, s in (("A", a), ("B", b)) if s[t] != s[t + 1]]
            k = 0 if y[t + 1] else 1
            for p in switched:
                arc = 2 if p == "B" else (0 if b[t + 1] else 1)
                caused[arc, k] += 1 / len(switched)
        np.testing.assert_allclose(e.activity.caused[(i, "Y")], caused, rtol=0, atol=1e-9)
        expected += float(caused.ravel() @ [1, 2, 4, 8, 16, 32]) * 1e-12  # pJ tables
    assert e.activity.unattributed == 0 and e.per_vector_j["internal"] == approx(expected / n)


def test_current_opensta_formula_by_hand():
    """bitsim.sim.energy.opensta_pin_energy (OpenSTA >= 2.1's internal power, checked
    against report_power by the optional test_upstream_opensta) on an OAI21, Y = !((A | B) C),
    with the Boolean differences worked out by hand: dY/dA = C !B, dY/dB = C !A, dY/dC = A | B;
    each arc's energy the mean of its rise and fall tables at the related pin's slews swapped
    (negative unate); and a flip-flop's Q (one arc, from its clock: weight 1) and clock pin."""
    from bitsim.circuits.mapped import Instance
    from bitsim.sim.energy import opensta_pin_energy

    lib = osu018()
    oai = Instance("u", lib.cells["OAI21X1"], {"A": 2, "B": 3, "C": 4, "Y": 5})
    act = {2: 0.3, 3: 0.2, 4: 0.45, 5: 0.25}
    duty = {2: 0.6, 3: 0.3, 4: 0.8, 5: 0.4}
    slew = {2: (0.2e-9, 0.3e-9), 3: (0.1e-9, 0.15e-9), 4: (0.4e-9, 0.25e-9)}
    load = {5: 30e-15}
    w = {
        "A": act[2] * duty[4] * (1 - duty[3]),
        "B": act[3] * duty[4] * (1 - duty[2]),
        "C": act[4] * (1 - (1 - duty[2]) * (1 - duty[3])),
    }
    y = oai.cell.pins["Y"]
    expected = 0.0
    for arc in y.power:
        sr, sf = slew[oai.pins[arc.related]]
        e = (arc.rise(load[5], sf) + arc.fall(load[5], sr)) / 2
        expected += act[5] * w[arc.related] / sum(w.values()) * e
    got = opensta_pin_energy(oai, "Y", load, slew, act.__getitem__, duty.__getitem__)
    assert got == pytest.approx(expected, rel=1e-12)
    assert len(y.power) == 3 and expected > 0

    ff = Instance("r", lib.cells["DFFPOSX1"], {"CLK": 6, "D": 7, "Q": 8})
    act2 = {6: 2.0, 7: 0.3, 8: 0.25}
    duty2 = {6: 0.5, 7: 0.5, 8: 0.45}
    slew2 = {6: (0.0, 0.0), 7: (0.2e-9, 0.2e-9)}
    q, clk = ff.cell.pins["Q"].power[0], ff.cell.pins["CLK"].power[0]
    got_q = opensta_pin_energy(ff, "Q", {8: 20e-15}, slew2, act2.__getitem__, duty2.__getitem__)
    assert got_q == pytest.approx(0.25 * (q.rise(20e-15, 0.0) + q.fall(20e-15, 0.0)) / 2)
    got_clk = opensta_pin_energy(ff, "CLK", {}, slew2, act2.__getitem__, duty2.__getitem__)
    assert got_clk == pytest.approx(2.0 * (clk.rise(0.0, 0.0) + clk.fall(0.0, 0.0)) / 2)
