"""Glitch-aware timing simulation: numba equals the event-queue oracle, settled counts equal the
zero-delay kernel, hand-derived glitches, and iverilog with gate delays agrees net by net."""

from pathlib import Path

import numpy as np
import pytest

from bitsim import InputError, InputTypeError, multiplier_circuit, simulate_gates
from bitsim.circuits.multipliers import ARCHS
from bitsim.circuits.netlist import NetlistBuilder
from bitsim.circuits.yosys import load_yosys_json
from bitsim.sim import timing
from bitsim.sim.timing import simulate_timing
from tests.verilog_timing import iverilog_counts, verilog_testbench

DATA = Path(__file__).parent.parent / "data" / "netlists"
TYPES = {"XOR": 3, "XNOR": 3, "AND": 2, "OR": 2, "NAND": 1, "MUX": 2, "NOT": 1}
FIELDS = ("rise", "fall", "settled_rise", "settled_fall", "settle")


def same(a, b):
    return all(np.array_equal(getattr(a, k), getattr(b, k)) for k in FIELDS)


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("semantics", timing.SEMANTICS)
@pytest.mark.parametrize("delay", ["unit", TYPES], ids=["unit", "types"])
def test_numba_equals_reference_and_settled_equals_zero_delay(arch, semantics, delay):
    signed = arch in ("booth", "baugh-wooley")
    c = multiplier_circuit(arch, 4, signed=signed)
    kw = dict(n=130, seed=3, delay=delay, semantics=semantics)  # 130: a partial last word
    ref = simulate_timing(c, backend="reference", **kw)
    fast = simulate_timing(c, backend="numba", **kw)
    assert same(ref, fast)
    assert np.array_equal(fast.settled, simulate_gates(c, n=130, seed=3).per_net)
    assert (fast.glitches % 2 == 0).all() and fast.glitches.sum() > 0
    assert fast.settle.sum() == 130


def test_chunks_do_not_change_results(monkeypatch):
    c = multiplier_circuit("array", 4)
    whole = simulate_timing(c, n=300, seed=5, delay=TYPES)
    monkeypatch.setattr(timing, "CHUNK", 70)
    assert same(whole, simulate_timing(c, n=300, seed=5, delay=TYPES, threads=3))
    monkeypatch.setattr(timing, "REFERENCE_CHUNK", 64)
    assert same(whole, simulate_timing(c, n=300, seed=5, delay=TYPES, backend="reference"))


def _hazard():
    """out = x & ~x: a static-0 hazard. x rising at t = 0 makes AND see 1 & 1 until NOT
    falls at t = d(NOT): a pulse of g d(NOT) steps long."""
    b = NetlistBuilder()
    (x,) = b.input_bus("x", 1)
    b.input_bus("w", 1)
    out = b.gate("AND", x, b.gate("NOT", x))
    b.output_bus("p", [out])
    return b.netlist, out


@pytest.mark.parametrize(
    "delay,semantics,per_rise",
    [
        ("unit", "inertial", 2),  # pulse 1 step, AND delay 1: passes (rise then fall)
        ({"AND": 2}, "inertial", 0),  # pulse 1 step < AND delay 2: swallowed
        ({"AND": 2}, "transport", 2),  # transport: every pulse propagates
        ({"AND": 2, "NOT": 2}, "inertial", 2),  # pulse 2 steps = AND delay: passes
    ],
)
def test_hazard_glitch_by_hand(delay, semantics, per_rise):
    nl, out = _hazard()
    x, w = np.array([1, 0, 1]), np.zeros(3, dtype=np.int64)
    for backend in ("reference", "numba"):
        r = simulate_timing(nl, x, w, delay=delay, semantics=semantics, backend=backend)
        # x rises twice: each rise glitches the output once
        assert int(r.per_net[out]) == 2 * per_rise
        assert int(r.settled[out]) == 0


def _iverilog_case(netlist, x_port, w_port, bits, signed, delay, semantics, tmp_path):
    rng = np.random.default_rng(7)
    lo, hi = (-(1 << (bits - 1)), 1 << (bits - 1)) if signed else (0, 1 << bits)
    x, w = rng.integers(lo, hi, 150), rng.integers(lo, hi, 150)
    r = simulate_timing(
        netlist, x, w, delay=delay, semantics=semantics, signed=signed, x_port=x_port, w_port=w_port
    )
    delays = [1 if delay == "unit" else delay.get(g.type, 1) for g in netlist.gates]
    period = len(r.settle) + 5  # longer than the horizon: every vector settles
    mask = (1 << bits) - 1
    src = verilog_testbench(netlist, delays, semantics, x_port, w_port, x & mask, w & mask, period)
    rise, fall = iverilog_counts(tmp_path, src, netlist.nets)
    rise[:2] = fall[:2] = 0
    assert np.array_equal(rise, r.rise) and np.array_equal(fall, r.fall)
    assert r.glitches.sum() > 0


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("semantics", timing.SEMANTICS)
@pytest.mark.parametrize("delay", ["unit", TYPES], ids=["unit", "types"])
def test_iverilog_agrees_net_by_net_on_multipliers(arch, semantics, delay, tmp_path):
    signed = arch in ("booth", "baugh-wooley")
    c = multiplier_circuit(arch, 4, signed=signed)
    _iverilog_case(c.netlist, "x", "w", 4, signed, delay, semantics, tmp_path)


@pytest.mark.parametrize("name,bits,signed", [("smult4", 4, True), ("mult8", 8, False)])
@pytest.mark.parametrize("semantics", timing.SEMANTICS)
def test_iverilog_agrees_net_by_net_on_yosys_netlists(name, bits, signed, semantics, tmp_path):
    nl = load_yosys_json(str(DATA / f"{name}.json"))
    _iverilog_case(nl, "a", "b", bits, signed, TYPES, semantics, tmp_path)


def test_errors():
    c = multiplier_circuit("array", 4)
    with pytest.raises(InputError, match="delay: expected 'unit'"):
        simulate_timing(c, n=10, delay="liberty")
    with pytest.raises(InputError, match=r"delay\['AND'\]"):
        simulate_timing(c, n=10, delay={"AND": 0})
    with pytest.raises(InputError, match="delay: expected gate types"):
        simulate_timing(c, n=10, delay={"FOO": 1})
    with pytest.raises(InputTypeError, match="delay: expected 'unit' or a mapping"):
        simulate_timing(c, n=10, delay=3)
    with pytest.raises(InputError, match="semantics"):
        simulate_timing(c, n=10, semantics="magic")
    with pytest.raises(InputError, match="expected a combinational netlist"):
        simulate_timing(load_yosys_json(str(DATA / "pipe4.json")), n=10, x_port="a", w_port="b")
