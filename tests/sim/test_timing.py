"""Glitch-aware timing simulation: numba equals the event-queue oracle, settled counts equal the
zero-delay kernel, hand-derived glitches, and iverilog with gate delays agrees net by net."""

import subprocess
from pathlib import Path

import numpy as np
import pytest

from bitsim import InputError, InputTypeError, multiplier_circuit, simulate_gates
from bitsim.circuits.mapped import map_circuit
from bitsim.circuits.multipliers import ARCHS
from bitsim.circuits.netlist import NetlistBuilder
from bitsim.circuits.yosys import load_yosys_json
from bitsim.sim import timing
from bitsim.sim.timing import simulate_timing
from tests.util_energy import osu018
from tests.verilog_timing import ghdl_counts, iverilog_counts, verilog_testbench, vhdl_testbench

from util import random_delays, same_timing

DATA = Path(__file__).parent.parent / "data" / "netlists"
TYPES = {"XOR": 3, "XNOR": 3, "AND": 2, "OR": 2, "NAND": 1, "MUX": 2, "NOT": 1}


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("semantics", timing.SEMANTICS)
@pytest.mark.parametrize("delay", ["unit", TYPES], ids=["unit", "types"])
def test_numba_equals_reference_and_settled_equals_zero_delay(arch, semantics, delay):
    signed = arch in ("booth", "baugh-wooley")
    c = multiplier_circuit(arch, 4, signed=signed)
    kw = dict(n=130, seed=3, delay=delay, semantics=semantics)  # 130: a partial last word
    ref = simulate_timing(c, backend="reference", **kw)
    fast = simulate_timing(c, backend="numba", **kw)
    assert same_timing(ref, fast)
    assert np.array_equal(fast.settled, simulate_gates(c, n=130, seed=3).per_net)
    assert (fast.glitches % 2 == 0).all() and fast.glitches.sum() > 0
    assert fast.settle.sum() == 130


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("semantics", timing.SEMANTICS)
def test_numba_equals_reference_with_random_rise_fall(arch, semantics):
    signed = arch in ("booth", "baugh-wooley")
    c = multiplier_circuit(arch, 4, signed=signed)
    kw = dict(n=130, seed=4, delay=random_delays(c.netlist, 1), semantics=semantics)
    ref = simulate_timing(c, backend="reference", **kw)
    fast = simulate_timing(c, backend="numba", **kw)
    assert same_timing(ref, fast)
    assert np.array_equal(fast.settled, simulate_gates(c, n=130, seed=4).per_net)
    assert fast.glitches.sum() > 0


def test_chunks_do_not_change_results(monkeypatch):
    c = multiplier_circuit("array", 4)
    whole = simulate_timing(c, n=300, seed=5, delay=TYPES)
    monkeypatch.setattr(timing, "CHUNK", 70)
    assert same_timing(whole, simulate_timing(c, n=300, seed=5, delay=TYPES, threads=3))
    monkeypatch.setattr(timing, "REFERENCE_CHUNK", 64)
    assert same_timing(whole, simulate_timing(c, n=300, seed=5, delay=TYPES, backend="reference"))


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
        # rise/fall: the pulse of g lasts f(NOT) steps; it is a rising change of g
        ({"AND": (2, 1)}, "inertial", 0),  # 1 < rise 2: swallowed
        ({"AND": (1, 2)}, "inertial", 2),  # 1 >= rise 1: passes, falls 2 steps later
        ({"AND": (3, 1), "NOT": 2}, "inertial", 0),  # 2 < rise 3
        ({"AND": (1, 3)}, "transport", 2),  # r < f: the rise is never overtaken
        # r > f: out = AND of g over [t - 3, t - 1]: needs g = 1 for 3 steps
        ({"AND": (3, 1), "NOT": 2}, "transport", 0),
        ({"AND": (3, 1), "NOT": (1, 3)}, "transport", 2),
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


def _iverilog_case(netlist, x_port, w_port, bits, signed, delay, semantics, tmp_path, m=150):
    """bitsim's counts equal iverilog's (GHDL's for transport with rise != fall) net by net."""
    rng = np.random.default_rng(7)
    lo, hi = (-(1 << (bits - 1)), 1 << (bits - 1)) if signed else (0, 1 << bits)
    x, w = rng.integers(lo, hi, m), rng.integers(lo, hi, m)
    r = simulate_timing(
        netlist, x, w, delay=delay, semantics=semantics, signed=signed, x_port=x_port, w_port=w_port
    )
    if isinstance(delay, tuple):
        delays = list(zip(*delay))
    else:
        delays = [1 if delay == "unit" else delay.get(g.type, 1) for g in netlist.gates]
    period = len(r.settle) + 5  # longer than the horizon: every vector settles
    mask = (1 << bits) - 1
    xv, wv = x & mask, w & mask
    if semantics == "transport" and any(np.ndim(d) and d[0] != d[1] for d in delays):
        src = vhdl_testbench(netlist, delays, x_port, w_port, xv, wv, period)
        rise, fall = ghdl_counts(tmp_path, src, netlist.nets)
    else:
        src = verilog_testbench(netlist, delays, semantics, x_port, w_port, xv, wv, period)
        rise, fall = iverilog_counts(tmp_path, src, netlist.nets)
    rise[:2] = fall[:2] = 0
    assert np.array_equal(rise, r.rise) and np.array_equal(fall, r.fall)
    assert r.glitches.sum() > 0
    return r


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


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize(
    "semantics,equal",
    [("inertial", False), ("transport", True), ("transport", False)],
    ids=["inertial", "transport-r=f", "transport-ghdl"],
)
def test_simulators_agree_with_random_rise_fall_on_multipliers(arch, semantics, equal, tmp_path):
    signed = arch in ("booth", "baugh-wooley")
    c = multiplier_circuit(arch, 4, signed=signed)
    delay = random_delays(c.netlist, ARCHS.index(arch), equal=equal)
    _iverilog_case(c.netlist, "x", "w", 4, signed, delay, semantics, tmp_path)


@pytest.mark.parametrize("name,bits,signed", [("smult4", 4, True), ("mult8", 8, False)])
@pytest.mark.parametrize("semantics", timing.SEMANTICS)
def test_simulators_agree_with_random_rise_fall_on_yosys_netlists(
    name, bits, signed, semantics, tmp_path
):
    nl = load_yosys_json(str(DATA / f"{name}.json"))
    _iverilog_case(nl, "a", "b", bits, signed, random_delays(nl, 5), semantics, tmp_path, m=60)


@pytest.mark.parametrize("semantics", timing.SEMANTICS)
def test_library_cells_settle_inside_a_step(semantics, tmp_path):
    """A multiplier mapped to OSU 180 nm cells: the gates inside a cell have delay 0 and are
    not counted; each cell is one ``assign #(r, f)`` of its input pins in iverilog (a VHDL
    process in GHDL); numba equals the oracle; physical nets settle as the zero-delay kernel."""
    mapped = map_circuit(multiplier_circuit("dadda", 4), osu018())
    nl = mapped.netlist
    hidden = [g.out for g in nl.gates if g.part == "internal"]
    assert hidden
    delay = random_delays(nl, 2)
    r = _iverilog_case(nl, "x", "w", 4, False, delay, semantics, tmp_path, m=100)
    assert not r.per_net[hidden].any()
    ref = simulate_timing(nl, n=130, seed=1, delay=delay, semantics=semantics, backend="reference")
    fast = simulate_timing(nl, n=130, seed=1, delay=delay, semantics=semantics)
    assert same_timing(ref, fast)
    zero = simulate_gates(nl, n=130, seed=1).per_net
    zero[hidden] = 0
    assert np.array_equal(fast.settled, zero)
    unit = simulate_timing(nl, n=130, seed=1)  # 'unit': every cell 1, its inside 0
    assert not unit.per_net[hidden].any() and unit.glitches.sum() > 0


def test_verilog_transport_idiom_overtakes_with_unequal_rise_fall(tmp_path):
    """Why transport follows VHDL: in iverilog, ``always @* y <= #(g ? 1 : 3) g`` lets a rise
    overtake a pending fall and leaves y = 0 while g = 1."""
    src = (
        "`timescale 1ns/1ns\nmodule tb; reg g; reg y;\n"
        "always @* if (g) y <= #1 g; else y <= #3 g;\n"
        'initial begin g = 1; #10 g = 0; #1 g = 1; #10 $display("%b %b", g, y); end\n'
        "endmodule\n"
    )
    (tmp_path / "t.v").write_text(src)
    subprocess.run(["iverilog", "-o", str(tmp_path / "t.vvp"), str(tmp_path / "t.v")], check=True)
    out = subprocess.run(["vvp", "-n", str(tmp_path / "t.vvp")], capture_output=True, text=True)
    assert out.stdout.split()[:2] == ["1", "0"]
    # bitsim's transport settles at the zero-delay values: the random rise/fall tests above


def test_errors():
    c = multiplier_circuit("array", 4)
    with pytest.raises(InputError, match="delay: expected 'unit'"):
        simulate_timing(c, n=10, delay="fast")
    with pytest.raises(InputError, match=r"delay\['AND'\]"):
        simulate_timing(c, n=10, delay={"AND": 0})
    with pytest.raises(InputError, match="delay: expected gate types"):
        simulate_timing(c, n=10, delay={"FOO": 1})
    with pytest.raises(InputTypeError, match="delay: expected 'unit', a mapping"):
        simulate_timing(c, n=10, delay=3)
    k = len(c.netlist.gates)
    with pytest.raises(InputError, match=f"rise as an integer array of {k} elements"):
        simulate_timing(c, n=10, delay=(np.ones(k - 1, dtype=int), np.ones(k, dtype=int)))
    fall = np.ones(k, dtype=int)
    fall[3] = 0
    with pytest.raises(InputError, match=r"fall in \[1, 1000\].*found 0 at gate 3"):
        simulate_timing(c, n=10, delay=(np.ones(k, dtype=int), fall))
    with pytest.raises(InputError, match=r"delay\['XOR'\]: expected steps or \(rise, fall\)"):
        simulate_timing(c, n=10, delay={"XOR": (1, 2, 3)})
    with pytest.raises(InputError, match="semantics"):
        simulate_timing(c, n=10, semantics="magic")
    with pytest.raises(InputError, match="found flip-flops: use bitsim.simulate_netlist_timing"):
        simulate_timing(load_yosys_json(str(DATA / "pipe4.json")), n=10, x_port="a", w_port="b")
