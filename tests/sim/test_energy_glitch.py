"""Energy of glitches: a timing run priced by the zero-delay energy routine, split into settled
and glitch changes (bitsim.sim.energy.price)."""

import dataclasses

import numpy as np
import pytest

from bitsim.circuits.mapped import map_circuit
from bitsim.circuits.multipliers import mac_circuit, multiplier_circuit
from bitsim.sim.energy import GLITCH_KINDS, KINDS, price, simulate_energy
from bitsim.sim.timing import simulate_timing
from tests.util_energy import osu018

MAC = dict(length=5, n=400, seed=3, signed=True)


@pytest.fixture(scope="module")
def mac():
    return map_circuit(mac_circuit("dadda", 4, acc_bits=12, signed=True), osu018())


def test_settled_changes_only_split_exactly(mac):
    """Pricing a zero-delay run as if it were a timing run whose every change settled: the
    glitch energy is 0 and the settled energy is the whole dynamic energy (flip-flop input and
    clock pins included)."""
    zero = simulate_energy(mac, **MAC)
    act = dataclasses.replace(zero.activity, settled=(zero.activity.rises, zero.activity.falls))
    e = price(mac, zero.toggles, act, zero.clock_hz).per_vector_j
    assert e["glitch"] == e["internal_glitch"] == e["switching_glitch"] == 0
    assert e["settled"] == pytest.approx(e["internal"] + e["switching"], rel=1e-12)
    assert {k: e[k] for k in KINDS} == zero.per_vector_j


@pytest.mark.parametrize("delay", ["unit", "liberty"])
def test_timing_run_priced(mac, delay):
    zero = simulate_energy(mac, **MAC).per_vector_j
    run = simulate_energy(mac, delay=delay, **MAC)
    e = run.per_vector_j
    assert set(e) == set(KINDS) | set(GLITCH_KINDS)
    assert e["settled"] + e["glitch"] == pytest.approx(e["internal"] + e["switching"])
    assert e["switching_settled"] == pytest.approx(zero["switching"], rel=1e-12)
    assert e["leakage"] == pytest.approx(zero["leakage"], rel=1e-12)
    assert e["glitch"] > 0.2 * e["settled"] and e["internal_glitch"] > 0
    t = simulate_timing(mac, delay=delay, **MAC)  # the same changes, rising and falling
    assert np.array_equal(run.activity.rises, t.rise.astype(np.int64))
    assert np.array_equal(run.activity.toggles, t.per_net.astype(np.int64))


def test_glitch_energy_per_transition_as_settled():
    """Every output pin's glitch energy is its glitch rises and falls at the settled price."""
    mapped = map_circuit(multiplier_circuit("array", 4), osu018())
    run = simulate_energy(mapped, n=300, delay="unit")
    act, g = run.activity, run.toggles
    glitch = 0.0
    for p in run.pins:
        net = next(i.pins[p.pin] for i in mapped.instances if i.name == p.instance)
        e_sw = p.switching_j / p.toggles if p.toggles else 0.0
        gr = int(g.rise[net]) - int(g.settled_rise[net])
        gf = int(g.fall[net]) - int(g.settled_fall[net])
        glitch += gr * (p.rise_j - e_sw) + gf * (p.fall_j - e_sw) + (gr + gf) * e_sw
    assert act.settled is not None
    assert run.per_vector_j["glitch"] == pytest.approx(glitch / 300, rel=1e-9)


@pytest.mark.parametrize("delay", ["unit", "liberty"])
def test_settled_internal_by_cause_as_zero_delay(mac, delay):
    """Transition model: a timing run's settled transitions are priced by the pins that caused
    them, as the zero-delay run's (the same activity pass), its glitches at each output's mean
    settled price per rise and per fall."""
    zero = simulate_energy(mac, **MAC)
    run = simulate_energy(mac, delay=delay, **MAC)
    e = run.per_vector_j
    assert e["internal_settled"] == pytest.approx(zero.per_vector_j["internal"], rel=1e-12)
    assert run.activity.caused.keys() == zero.activity.caused.keys()
    for key, caused in run.activity.caused.items():
        assert np.array_equal(caused, zero.activity.caused[key])
    by_pin = {(p.instance, p.pin): p for p in zero.pins}
    for p in run.pins:  # output pins: the same price per transition as settled
        if p.load_f:
            ref = by_pin[(p.instance, p.pin)]
            if ref.toggles:
                assert p.rise_j == pytest.approx(ref.rise_j, rel=1e-12)


def test_opensta_model_prices_glitches(mac):
    """opensta-2.0: the activities count every change, so glitches raise internal energy;
    the split still adds up."""
    zero = simulate_energy(mac, internal_model="opensta-2.0", **MAC).per_vector_j
    e = simulate_energy(mac, delay="unit", internal_model="opensta-2.0", **MAC).per_vector_j
    assert e["settled"] + e["glitch"] == pytest.approx(e["internal"] + e["switching"])
    assert e["internal"] > zero["internal"] and e["internal_glitch"] > 0
    assert e["switching_settled"] == pytest.approx(zero["switching"], rel=1e-12)
