"""Dataflow energy from a Liberty calibration: every site priced by the fit's joules per flip
(the partial-sum link like the accumulator register), per cycle and leakage; the CLI takes
--calibration like bitsim flips and bitsim report."""

import json

import pytest

from bitsim._core.checks import InputError
from bitsim.cli import main
from bitsim.dataflow.operands import sample_tensors
from bitsim.dataflow.simulate import simulate_dataflow
from bitsim.models.energy import Calibration
from bitsim.models.layers import Linear
from bitsim.sim.formats import IntFormat
from bitsim.sim.mac import SITES


def calibration(x_bits=4, signed=True):
    """A hand-made fit: site i costs (i + 1) fJ per flip, 3 fJ per cycle, 1 uW leakage."""
    per_flip = {s: (i + 1) * 1e-15 for i, s in enumerate(SITES)}
    return Calibration("dadda", x_bits, x_bits, 16, signed, per_flip, 3e-15, 1e-6, 1e8, 0.0, 0.0)


@pytest.mark.parametrize("dataflow", ["ws", "os", "is"])
def test_every_site_is_priced_by_the_fit(dataflow):
    fmt = IntFormat(4, True)
    layer = Linear("fc", 12, 6).with_formats(fmt, fmt)
    x, w = sample_tensors(layer, "normal", "normal", 3)
    cal = calibration()
    r = simulate_dataflow(layer, x, w, "4x4", dataflow, calibration=cal)
    price = {**cal.per_flip_j, "psum": cal.per_flip_j["acc"]}
    expected = sum(price[s] * r.mean(s) for s in r.sites) + 3e-15 + 1e-6 / 1e8
    assert r.energy_pj_per_mac == pytest.approx(expected * 1e12, rel=1e-12)
    assert r.energy_j == pytest.approx(layer.macs * expected, rel=1e-12)
    assert r.to_dict()["energy_pj_per_mac"] == r.energy_pj_per_mac
    with pytest.raises(InputError, match="calibration: expected a 8x8 signed MAC, found 4x4"):
        simulate_dataflow(layer, x, w, "4x4", dataflow, calibration=calibration(8))


def test_cli_prices_with_a_stored_calibration(tmp_path, capsys):
    path = tmp_path / "cal.json"
    path.write_text(calibration().to_json())
    args = ["dataflow", "--linear", "12x6", "--array", "4x4", "--dataflow", "ws", "--bits", "4"]
    assert main([*args, "--signed", "signed", "--calibration", str(path), "--format", "json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["energy_pj_per_mac"] > 0 and row["energy_j"] > 0
    with pytest.raises(SystemExit) as err:
        main([*args, "--calibration", str(path), "--energy-per-flip", "1e-15"])
    assert err.value.code == 2 and "--energy-per-flip: expected either" in capsys.readouterr().err
