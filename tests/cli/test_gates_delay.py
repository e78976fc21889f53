"""`bitsim gates --delay unit`: the keys other tools script against, the library's numbers."""

import json
from pathlib import Path

import numpy as np
import pytest

from bitsim import load_yosys_json, multiplier_circuit, simulate_gates, simulate_timing
from bitsim.cli import main

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
        (["--arch", "array", "--mac", "--delay", "unit"], "--delay: expected zero with --mac"),
        (["--arch", "array", "--semantics", "transport"], "--semantics"),
        (["--netlist", str(DATA / "pipe4.json"), "--delay", "unit"], "combinational netlist"),
    ],
)
def test_delay_errors(capsys, argv, message):
    with pytest.raises(SystemExit) as exit_:
        main(["gates", *argv, "-n", "10"])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err
