"""`bitsim gates --delay unit`: the keys other tools script against, the library's numbers."""

import json
from pathlib import Path

import numpy as np
import pytest

from bitsim import load_yosys_json, multiplier_circuit, simulate_gates, simulate_timing
from bitsim.circuits.mapped import map_circuit
from bitsim.circuits.multipliers import mac_circuit
from bitsim.cli import main
from bitsim.sim.energy import GLITCH_KINDS, KINDS
from bitsim.sim.timing import simulate_netlist_timing
from tests.util_energy import OSU018, osu018

DATA = Path(__file__).parent.parent / "data" / "netlists"


def run(capsys, *argv):
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def test_netlist_ports_delay_unit_json(capsys, tmp_path):
    rng = np.random.default_rng(2)
    a, b = rng.integers(0, 256, 500), rng.integers(0, 256, 500)
    np.save(tmp_path / "a.npy", a)
    np.save(tmp_path / "b.npy", b)
    path = str(DATA / "mult8.json")
    ports = ["--port", f"a={tmp_path / 'a.npy'}", "--port", f"b={tmp_path / 'b.npy'}"]
    common = ["gates", "--netlist", path, *ports, "--bits", "8", "--signed", "unsigned"]
    (row,) = run(capsys, *common, "--delay", "unit", "--format", "json")
    lib = simulate_timing(load_yosys_json(path), a, b, x_port="a", w_port="b")
    tpv = row["toggles_per_vector"]
    assert row["n"] == 500
    assert tpv["total"] == pytest.approx(lib.per_net.sum() / 500)
    assert tpv["glitches"] == pytest.approx(lib.glitches.sum() / 500) and tpv["glitches"] > 0
    zero = simulate_gates(load_yosys_json(path), a, b, x_port="a", w_port="b")
    assert tpv["settled"] == pytest.approx(zero.per_net.sum() / 500)
    assert tpv["total"] == pytest.approx(tpv["settled"] + tpv["glitches"])
    assert row["timing"]["delay"] == "unit" and 0 < row["timing"]["glitch_share"] < 1


def test_arch_delay_unit_equals_library(capsys):
    (row,) = run(
        capsys, "gates", "--arch", "dadda", "--bits", "4", "--signed", "signed", "-n", "700",
        "--delay", "unit", "--format", "json",
    )  # fmt: skip
    lib = simulate_timing(multiplier_circuit("dadda", 4, signed=True), n=700)
    assert row["toggles_per_vector"]["glitches"] == pytest.approx(lib.glitches.sum() / 700)
    assert row["timing"]["settle_max"] == lib.glitch_totals()["settle_max"]


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--arch", "array", "--delay", "liberty"], "--delay: liberty needs --liberty"),
        (["--arch", "array", "--semantics", "transport"], "--semantics"),
        (["--arch", "array", "--delay", "unit", "--time-step", "5"], "--time-step"),
        (["--arch", "array", "--delay", "unit", "--first-cycle", "skip"], "--first-cycle"),
    ],
)
def test_delay_errors(capsys, argv, message):
    with pytest.raises(SystemExit) as exit_:
        main(["gates", *argv, "-n", "10"])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def test_mac_delay_unit_equals_library(capsys):
    (row,) = run(
        capsys, "gates", "--arch", "dadda", "--bits", "4", "--signed", "signed", "--mac",
        "--acc-bits", "12", "--length", "9", "-n", "500", "--delay", "unit", "--format", "json",
    )  # fmt: skip
    lib = simulate_timing(mac_circuit("dadda", 4, acc_bits=12, signed=True), length=9, n=500)
    assert row["mac"] and row["toggles_per_vector"]["total"] == pytest.approx(
        lib.per_net.sum() / 500
    )
    assert row["toggles_per_vector"]["glitches"] == pytest.approx(lib.glitches.sum() / 500)
    assert row["timing"]["settle_max"] == lib.glitch_totals()["settle_max"]


def test_netlist_with_flip_flops_delay_unit_equals_library(capsys):
    path = str(DATA / "smac4.json")
    (row,) = run(
        capsys, "gates", "--netlist", path, "--signed", "signed", "--clear-port", "clr",
        "--length", "5", "-n", "400", "--delay", "unit", "--format", "json",
    )  # fmt: skip
    ports = {"a": "uniform", "b": "uniform"}
    lib = simulate_netlist_timing(
        load_yosys_json(path), ports, signed=True, clear_port="clr", length=5, n=400
    )
    assert row["toggles_per_vector"]["glitches"] == pytest.approx(lib.glitches.sum() / 400)
    assert row["toggles_per_vector"]["settled"] == pytest.approx(lib.settled.sum() / 400)
    assert row["timing"]["glitch_share"] == pytest.approx(lib.glitch_totals()["glitch_share"])


def test_liberty_delay_energy_split(capsys):
    common = ["gates", "--arch", "array", "--bits", "4", "--signed", "signed", "-n", "600"]
    common += ["--liberty", OSU018, "--format", "json"]
    (zero,) = run(capsys, *common)
    (timed,) = run(capsys, *common, "--delay", "liberty", "--time-step", "20")
    e, z = timed["energy_per_vector_pj"], zero["energy_per_vector_pj"]
    assert set(KINDS) | set(GLITCH_KINDS) == set(e) and set(z) == set(KINDS)
    assert e["settled"] + e["glitch"] == pytest.approx(e["internal"] + e["switching"])
    assert e["internal_glitch"] + e["switching_glitch"] == pytest.approx(e["glitch"])
    assert e["switching_settled"] == pytest.approx(z["switching"], rel=1e-12)  # same toggles
    assert e["glitch"] > 0.1 * e["total"]
    assert timed["timing"]["time_step_ps"] == 20 and timed["timing"]["delay"] == "liberty"
    mapped = map_circuit(multiplier_circuit("array", 4, signed=True), osu018())
    lib = simulate_timing(mapped, n=600, delay="liberty", time_step=20e-12)
    assert timed["toggles_per_vector"]["glitches"] == pytest.approx(lib.glitches.sum() / 600)
