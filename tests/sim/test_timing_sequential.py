"""Glitch-aware timing simulation of MACs and netlists with flip-flops: numba equals the
oracle, the settled counts equal the zero-delay sequential simulators, and a clocked iverilog
testbench with gate delays agrees net by net."""

from pathlib import Path

import numpy as np
import pytest

from bitsim import InputError, multiplier_circuit, simulate_gates
from bitsim.backends.reference.seqgates import clear_values
from bitsim.circuits.multipliers import mac_circuit
from bitsim.circuits.yosys import load_yosys_json
from bitsim.sim import sequential, timing
from bitsim.sim.sequential import simulate_netlist
from bitsim.sim.timing import simulate_netlist_timing, simulate_timing
from tests.verilog_clocked import bits, clocked_testbench
from tests.verilog_timing import iverilog_counts

from util import random_delays, run_yosys, same_timing

DATA = Path(__file__).parent.parent / "data" / "netlists"


@pytest.mark.parametrize("arch,signed", [("array", True), ("dadda", False)])
def test_mac_circuit(arch, signed):
    c = mac_circuit(arch, 4, acc_bits=12, signed=signed)
    kw = dict(n=200, seed=2, length=7)  # 200: chunks of 64-vector words and a partial one
    ref = simulate_timing(c, backend="reference", **kw)
    fast = simulate_timing(c, **kw)
    assert same_timing(ref, fast)
    for backend, simd in (("numba", "auto"), ("c", "scalar")):
        assert same_timing(ref, simulate_timing(c, backend=backend, simd=simd, **kw))
    assert np.array_equal(fast.settled, simulate_gates(c, **kw).per_net)
    assert fast.glitches.sum() > 0 and fast.per_part()["accumulator_adder"] > 0


@pytest.mark.parametrize("length", [None, 5, 150])
def test_chunks_do_not_change_results(monkeypatch, length):
    c = mac_circuit("array", 4, acc_bits=10, signed=True)
    whole = simulate_timing(c, n=700, seed=1, length=length)
    monkeypatch.setattr(timing, "CHUNK", 128)  # 6 chunks: the accumulator state carried over
    assert same_timing(simulate_timing(c, n=700, seed=1, length=length), whole)
    nl = load_yosys_json(str(DATA / "umac4.json"))
    ports = {"a": "uniform", "b": "uniform"}
    whole = simulate_netlist_timing(nl, ports, n=300, seed=2)
    monkeypatch.setattr(timing, "CHUNK", 64)
    assert same_timing(simulate_netlist_timing(nl, ports, n=300, seed=2), whole)


@pytest.mark.parametrize(
    "name,signed,clear", [("smac4", True, {"clear_port": "clr", "length": 9}), ("umac4", False, {})]
)
def test_netlist_with_flip_flops(name, signed, clear):
    nl = load_yosys_json(str(DATA / f"{name}.json"))
    kw = dict(signed=signed, n=300, seed=5, **clear)
    ports = {"a": "uniform", "b": "uniform"}
    ref = simulate_netlist_timing(nl, ports, backend="reference", **kw)
    fast = simulate_netlist_timing(nl, ports, **kw)  # umac4: its clear port undriven (0)
    assert same_timing(ref, fast)
    for backend, simd in (("numba", "auto"), ("c", "scalar")):
        assert same_timing(
            ref, simulate_netlist_timing(nl, ports, backend=backend, simd=simd, **kw)
        )
    zero = simulate_netlist(nl, ports, **kw)
    assert np.array_equal(fast.settled, zero.per_net)
    assert fast.glitches.sum() > 0 and fast.settle.sum() == 300


def _compare(netlist, r, stimulus, delays, tmp_path):
    period = 2 * (len(r.settle) + 2)  # longer than any settle time
    src = clocked_testbench(netlist, delays, stimulus, period)
    rise, fall = iverilog_counts(tmp_path, src, netlist.nets)
    skip = sorted(netlist.internal | netlist.clocks | {0, 1})
    rise[skip] = fall[skip] = 0
    assert np.array_equal(rise, r.rise) and np.array_equal(fall, r.fall)
    assert r.glitches.sum() > 0


@pytest.mark.parametrize("delay", ["unit", "random"])
def test_iverilog_agrees_on_a_mac_circuit(delay, tmp_path):
    c = mac_circuit("dadda", 4, acc_bits=12, signed=True)
    rng = np.random.default_rng(7)
    x, w = rng.integers(-8, 8, 40), rng.integers(-8, 8, 40)
    d = "unit" if delay == "unit" else random_delays(c.netlist, 3)
    r = simulate_timing(c, x, w, length=6, delay=d)
    first = (np.arange(40) % 6 == 0).astype(int)
    stimulus = {"x": bits(x, 4), "w": bits(w, 4), "first": first}
    per_gate = [1] * len(c.netlist.gates) if delay == "unit" else list(zip(*d))
    _compare(c.netlist, r, stimulus, per_gate, tmp_path)


@pytest.mark.parametrize("delay", ["unit", "random"])
def test_iverilog_agrees_on_a_yosys_mac(delay, tmp_path):
    nl = load_yosys_json(str(DATA / "smac4.json"))
    rng = np.random.default_rng(8)
    a, b = rng.integers(-8, 8, 40), rng.integers(-8, 8, 40)
    ports = {"a": a, "b": b}
    d = "unit" if delay == "unit" else random_delays(nl, 4)
    r = simulate_netlist_timing(nl, ports, signed=True, clear_port="clr", length=5, delay=d)
    prog, *_ = sequential.prepare(nl, ports, True, None, 0, "clr", 5, None)
    stimulus = {"a": bits(a, 4), "b": bits(b, 4), "clr": clear_values(prog, 0, 40)}
    per_gate = [1] * len(nl.gates) if delay == "unit" else list(zip(*d))
    _compare(nl, r, stimulus, per_gate, tmp_path)


def test_errors():
    nl = load_yosys_json(str(DATA / "smac4.json"))
    with pytest.raises(InputError, match="simulate_netlist_timing"):
        simulate_timing(nl, x_port="a", w_port="b", n=10)
    c = multiplier_circuit("array", 4)
    with pytest.raises(InputError, match="MappedNetlist"):
        simulate_timing(c, n=10, delay="liberty")
    with pytest.raises(InputError, match="time_step"):
        simulate_timing(c, n=10, time_step=1e-11)
    with pytest.raises(InputError, match="port"):
        simulate_netlist_timing(nl, {"nope": "uniform"}, n=10)
    a = np.zeros(50, dtype=np.int64)
    a[30] = 8  # 4-bit signed: at most 7
    for backend in ("c", "numba", "reference"):
        with pytest.raises(InputError, match="a: expected integers in .*index 30"):
            simulate_netlist_timing(nl, {"a": a, "b": a}, signed=True, backend=backend)
    mac = mac_circuit("array", 4, acc_bits=10)
    x = np.full(3000, 3)
    x[2500] = 16
    with pytest.raises(InputError, match="x: expected integers in .*index 2500"):
        simulate_timing(mac, x, x, length=4)


@pytest.mark.parametrize("name", ["smac8", "ffcells"])
def test_compiled_trace_equals_reference(name):
    from bitsim.backends.jit.seqgates import trace as fast
    from bitsim.backends.reference.seqgates import trace as ref

    nl = load_yosys_json(str(DATA / f"{name}.json"))
    ports = {p: "uniform" for p in nl.inputs if p not in ("clk", "clr") and len(nl.inputs[p]) > 1}
    kw = {"clear_port": "clr", "length": 7} if "clr" in nl.inputs else {}
    prog, streams, _, _ = sequential.prepare(nl, ports, True, 90, 1, kw.get("clear_port"),
                                             kw.get("length"), None)  # fmt: skip
    whole = ref(prog, streams, 90)
    assert np.array_equal(fast(prog, streams, 90), whole)
    part = fast(prog, streams, 50, 40, whole[40])  # from cycle 40, after cycle 39's state
    assert np.array_equal(part, whole[40:])


def test_iverilog_agrees_on_a_liberty_mapped_mac_with_flip_flops(tmp_path):
    """The Yosys MAC umac4 mapped to OSU 180 nm cells (DFFPOSX1 registers), Liberty delays:
    the clocked iverilog testbench (each cell one ``assign #(r, f)``) equals bitsim."""
    import shutil

    from bitsim.sim.liberty_delay import liberty_delays
    from tests.util_energy import osu018

    lib = osu018()
    shutil.copy(DATA / "umac4.v", tmp_path / "umac4.v")
    script = (
        f"read_verilog umac4.v; synth -flatten -top umac4; dfflibmap -liberty {lib.path}; "
        f"abc -liberty {lib.path}; opt_clean; write_json m.json"
    )
    run_yosys(script, tmp_path)
    from bitsim.circuits.mapped import load_mapped_json

    mapped = load_mapped_json(str(tmp_path / "m.json"), lib)
    assert any(i.cell.ff for i in mapped.instances)
    rng = np.random.default_rng(9)
    a, b = rng.integers(0, 16, 30), rng.integers(0, 16, 30)
    r = simulate_netlist_timing(mapped, {"a": a, "b": b}, delay="liberty")
    d = liberty_delays(mapped)
    _compare(mapped.netlist, r, {"a": a, "b": b}, list(zip(d.rise, d.fall)), tmp_path)
    zero = simulate_netlist(mapped.netlist, {"a": a, "b": b}).per_net
    zero[[g.out for g in mapped.netlist.gates if g.part == "internal"]] = 0
    assert np.array_equal(r.settled, zero)
