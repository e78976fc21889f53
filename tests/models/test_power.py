"""PANN power: simulated flips, and the closed form's stated error against the simulator."""

import pytest

import bitsim
from bitsim.models.layers import Conv2d, Linear
from bitsim.models.power import closed_form_flips, mac_flips, pann_power
from bitsim.sim.distributions import HalfNormal, Normal
from bitsim.sim.formats import IntFormat
from bitsim.sim.mac import MacConfig


@pytest.mark.parametrize("bits", [2, 4, 8])
@pytest.mark.parametrize("signed", [True, False])
@pytest.mark.parametrize("length", [1, 9, 64, 576, None])
def test_closed_form_within_stated_error(bits, signed, length):
    cfg = MacConfig(bits, bits, 32, signed, signed, length)
    cf = closed_form_flips(cfg)
    sim = bitsim.simulate_mac(x_bits=bits, signed=signed, length=length, n=10**6, seed=1).mean_flips
    for site in ("x", "w", "product", "addend"):  # exact for independent operands
        assert cf[site] == pytest.approx(sim[site], rel=0.01), site
    assert "carry" not in cf and "total" not in cf  # not modelled: no total to mistake
    assert cf["acc"] == pytest.approx(sim["acc"], rel=0.015)


@pytest.mark.parametrize(
    "x_dist,w_dist,x_signed",
    [(HalfNormal(2.0), Normal(1.5), False), (Normal(3.0), Normal(3.0), True)],
)
def test_closed_form_with_other_distributions(x_dist, w_dist, x_signed):
    cfg = MacConfig(4, 4, 24, x_signed, True, 144)
    cf = closed_form_flips(cfg, x_dist, w_dist)
    sim = bitsim.simulate_mac(
        x_dist,
        w_dist,
        x_bits=4,
        acc_bits=24,
        x_signed=x_signed,
        w_signed=True,
        length=144,
        n=10**6,
        seed=2,
    ).mean_flips
    for site in ("x", "w", "product", "acc", "addend"):
        assert cf[site] == pytest.approx(sim[site], rel=0.015), site


def test_pann_power_of_a_layer():
    conv = Conv2d(
        "c", 64, 64, 3, 14, padding=1, a_format=IntFormat(4, False), w_format=IntFormat(4)
    )
    p = pann_power(conv, n=200_000, seed=3)
    flips = bitsim.simulate_mac(
        x_bits=4, x_signed=False, w_signed=True, length=576, n=200_000, seed=3
    ).mean_flips
    assert p.mult_flips_per_mac == pytest.approx(flips["x"] + flips["w"] + flips["product"])
    assert p.acc_flips_per_mac == pytest.approx(flips["addend"] + flips["carry"] + flips["acc"])
    assert p.power == pytest.approx(conv.macs * flips["total"])  # every site
    assert p.to_dict()["power"] == p.power
    with pytest.raises(ValueError, match="method: PANN power needs the accumulator adder's carr"):
        pann_power(conv, method="closed-form")
    without_carries = {k: v for k, v in flips.items() if k != "carry"}
    with pytest.raises(ValueError, match="flips: expected mean flips of every site.*no carry"):
        pann_power(conv, flips=without_carries)


def test_flips_can_be_reused_across_layers():
    flips = mac_flips(MacConfig(8, 8, 32, True, True, 512), n=10_000)
    p = pann_power(Linear("fc", 512, 10), flips=flips)
    assert p.flips_per_mac == pytest.approx(flips["total"])


def test_errors():
    with pytest.raises(ValueError, match="method: expected 'simulate' or 'closed-form'"):
        mac_flips(MacConfig(), method="exact")
    with pytest.raises(ValueError, match="PANN power needs integer formats"):
        pann_power(Linear("fc", 8, 8, a_format="fp32"))
    with pytest.raises(ValueError, match="method: the closed form enumerates"):
        closed_form_flips(MacConfig(16, 16))


@pytest.mark.parametrize("backend", ["c", "numba", "reference"])
def test_every_backend_gives_the_same_power(backend):
    layer = Linear("fc", 64, 10).with_formats(IntFormat(4, True), IntFormat(4, True))
    assert pann_power(layer, n=3000, backend=backend) == pann_power(layer, n=3000)
