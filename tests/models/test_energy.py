"""Register-level energy: the per-site fit predicts gate-level energy; stored with provenance;
``bitsim report`` and ``bitsim flips`` print joules."""

import json

import numpy as np
import pytest

from bitsim._core.checks import InputError
from bitsim.circuits.mapped import map_circuit
from bitsim.circuits.multipliers import mac_circuit
from bitsim.cli import main
from bitsim.models import energy
from bitsim.models.energy import calibrate, energy_of_flips, energy_per_mac, load_calibration
from bitsim.sim.distributions import HalfNormal, Laplace, Normal
from bitsim.sim.energy import simulate_energy
from bitsim.sim.mac import SITES, simulate_mac

from util_energy import OSU018, approx, osu018


@pytest.fixture(scope="module")
def cal4():
    return calibrate(osu018(), "dadda", 4, 4, 16, signed=True, n=4000)


def held_out_operands(n):
    """Operands unlike the fit's grid and its own held-out pairs: post-ReLU activations of
    another scale, sparse activations (60 % zeros) from an array, skewed weights."""
    rng = np.random.default_rng(7)
    sparse = np.where(rng.random(n) < 0.6, 0, rng.integers(1, 8, n))
    skewed = np.clip(np.round(rng.gamma(1.5, 1.2, n)) - 1, -8, 7).astype(np.int64)
    return [
        (HalfNormal(1.6), Normal(1.2), 200),
        (sparse, Normal(2.5), 64),
        (sparse, skewed, 27),
        (Laplace(0.8), "uniform", 5),
        ("uniform", HalfNormal(0.7), 1000),
    ]


def test_fit_predicts_gate_level_outside_its_grid(cal4, tmp_path):
    assert set(cal4.per_flip_j) == set(SITES) and set(cal4.per_bit_j) == set(SITES)
    assert min(cal4.per_flip_j.values()) >= 0 and cal4.per_cycle_j >= 0
    assert min(min(v) for v in cal4.per_bit_j.values()) >= 0 and cal4.bit_cycle_j >= 0
    assert cal4.rms_error < 0.05 and cal4.site_rms_error < 0.05
    assert cal4.provenance["library"] == "osu018_stdcells"
    assert len(cal4.provenance["errors"]["bits"]["held_out"]) == len(cal4.provenance["held_out"])
    mapped = map_circuit(mac_circuit("dadda", 4, 4, 16, True), osu018())
    n = 6000
    for x, w, length in held_out_operands(n):
        kw = dict(signed=True, length=length, n=n, seed=11)
        e = simulate_energy(mapped, x, w, **kw)
        f = simulate_mac(x, w, x_bits=4, w_bits=4, acc_bits=16, **kw)
        gate = e.per_vector_j["total"]
        assert energy_per_mac(cal4, f) == approx(gate, rel=0.05)  # the bits model
        sites = energy_of_flips(cal4, {s: f.mean(s) for s in SITES})
        assert sites == approx(gate, rel=0.07)  # the sites model (bitsim dataflow)
    path = tmp_path / "cal.json"
    path.write_text(cal4.to_json())
    assert load_calibration(str(path)) == cal4
    with pytest.raises(InputError, match="expected a 4x4 signed MAC, found 8x8 signed"):
        energy_per_mac(cal4, simulate_mac(x_bits=8, n=10))


def test_cli_report_and_flips_in_joules(cal4, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("BITSIM_CACHE", str(tmp_path))
    monkeypatch.setattr(energy, "GRID_EXTRA", 4)  # the plumbing, not the fit, is tested here
    path = tmp_path / "cal.json"
    path.write_text(cal4.to_json())
    args = ["flips", "--bits", "4", "--signed", "signed", "--acc-bits", "16", "-n", "20000"]
    assert main([*args, "--calibration", str(path), "--format", "json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert 1 < row["energy_pj_per_mac"] < 100
    assert (
        main(
            [
                "report",
                "resnet20",
                "--w-bits",
                "2",
                "--a-bits",
                "2",
                "-n",
                "3000",
                "--liberty",
                OSU018,
                "--format",
                "json",
            ]
        )
        == 0
    )
    doc = json.loads(capsys.readouterr().out)
    t = doc["totals"]
    assert t["energy_mj_signed"] > t["energy_mj_unsigned"] > 0
    layer = next(r for r in doc["layers"] if r.get("energy_mj_signed"))
    assert layer["energy_mj_signed"] == approx(
        layer["macs"] * layer["energy_pj_per_mac_signed"] * 1e-9
    )
    assert any((tmp_path / "calibration").iterdir())  # the fit is stored
