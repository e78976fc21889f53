"""Liberty import: units, tables, functions, errors; mapped netlists simulate the cells."""

import itertools

import numpy as np
import pytest

from bitsim._core.checks import InputError
from bitsim.backends.reference.gates import evaluate
from bitsim.circuits.liberty import evaluate as eval_expr
from bitsim.circuits.liberty import find_liberty, parse_function, read_liberty
from bitsim.circuits.mapped import map_circuit
from bitsim.circuits.multipliers import circuit
from bitsim.sim.gates import compile_netlist

from util_energy import approx, osu018, wire_load_liberty, yosys_mult8

TINY = """
library(tiny) {
  time_unit : "1ps"; voltage_unit : "1V"; leakage_power_unit : "1pW";
  capacitive_load_unit (1, ff); nom_voltage : 0.9;
  power_lut_template(e2) { variable_1 : input_transition_time;
    variable_2 : total_output_net_capacitance; index_1 ("1, 2"); index_2 ("10, 20"); }
  cell (MAJ) {
    cell_leakage_power : 3;
    leakage_power () { when : "A B"; value : 5; }
    pin(A) { direction : input; capacitance : 2; }
    pin(B) { direction : input; capacitance : 2; rise_capacitance : 1; fall_capacitance : 3; }
    pin(C) { direction : input; capacitance : 2; }
    pin(Y) { direction : output; function : "A B + B C + C A";
      internal_power () { related_pin : "A";
        rise_power (e2) { values ("1, 2", "3, 4"); }
        fall_power (e2) { values ("5, 6", "7, 8"); } } }
  }
  cell (LAT) { latch (IQ, IQN) { enable : "G"; data_in : "D"; }
    pin(G) { direction : input; } pin(D) { direction : input; }
    pin(Q) { direction : output; function : "IQ"; } }
}
"""


def test_units_tables_and_functions(tmp_path):
    path = tmp_path / "tiny.lib"
    path.write_text(TINY)
    lib = read_liberty(str(path))
    assert (lib.voltage, lib.time_unit, lib.cap_unit, lib.leakage_unit) == (
        0.9,
        1e-12,
        1e-15,
        1e-12,
    )
    maj = lib.cell("MAJ")
    assert maj.leakage == approx(3e-12)
    b = maj.pins["B"]
    assert (b.capacitance, b.rise_capacitance, b.fall_capacitance) == approx((2e-15, 1e-15, 3e-15))
    rise = maj.pins["Y"].power[0].rise
    # slew is variable_1 here: table[slew][load], values in fF x V^2 = fJ
    assert rise(10e-15, 1e-12) == approx(1e-15)
    assert rise(20e-15, 2e-12) == approx(4e-15)
    assert rise(15e-15, 1.5e-12) == approx(2.5e-15)  # bilinear
    assert rise(30e-15, 1e-12) == approx(3e-15)  # linear extrapolation
    f = maj.pins["Y"].function
    for a, bb, c in itertools.product([0, 1], repeat=3):
        env = {k: np.array([bool(v)]) for k, v in zip("ABC", (a, bb, c))}
        assert eval_expr(f, env, 1)[0] == (a + bb + c >= 2)
    with pytest.raises(InputError, match="cell LAT: unsupported construct 'latch'"):
        lib.cell("LAT")
    with pytest.raises(InputError, match="expected a cell of library tiny, found 'NOPE'"):
        lib.cell("NOPE")


@pytest.mark.parametrize(
    "text, value",
    [
        ("!A+B", lambda a, b, c, d: (not a) or b),
        ("A'B", lambda a, b, c, d: (not a) and b),
        ("A+B^C", lambda a, b, c, d: a or (b != c)),
        ("A B+C D", lambda a, b, c, d: (a and b) or (c and d)),
        ("!(A&B)|(C*!D)", lambda a, b, c, d: not (a and b) or (c and not d)),
        ("(A^B)^1", lambda a, b, c, d: a == b),
    ],
)
def test_function_grammar(text, value):
    e = parse_function(text, "X")
    for bits in itertools.product([False, True], repeat=4):
        env = {k: np.array([v]) for k, v in zip("ABCD", bits)}
        assert bool(eval_expr(e, env, 1)[0]) == bool(value(*bits)), (text, bits)


def test_function_errors():
    with pytest.raises(InputError, match="cell X pin Y function: cannot parse"):
        parse_function("(A+B", "X", "pin Y function")
    with pytest.raises(InputError, match="unexpected"):
        parse_function("A % B", "X")


def test_bad_files(tmp_path):
    with pytest.raises(InputError, match="expected a readable Liberty file"):
        read_liberty(str(tmp_path / "missing.lib"))
    (tmp_path / "bad.lib").write_text("library(x) { cell (A) { ")
    with pytest.raises(InputError, match="is not a Liberty file"):
        read_liberty(str(tmp_path / "bad.lib"))


def test_osu018():
    lib = osu018()
    assert lib.voltage == 1.8 and lib.cap_unit == 1e-12 and len(lib.cells) == 32
    aoi = lib.cell("AOI21X1")
    assert aoi.leakage == approx(0.0515209e-9)
    assert aoi.pins["A"].capacitance == approx(0.0173593e-12)
    # AOI21X1 Y rise_power related A at (0.005 pF, 0.06 ns): 0.091023 pJ in the file
    assert aoi.pins["Y"].power[0].rise(0.005e-12, 0.06e-9) == approx(0.091023e-12)
    assert lib.cell("DFFPOSX1").ff.next_state == ("port", "D")
    with pytest.raises(InputError, match="cell DFFSR: unsupported ff attribute 'clear'"):
        lib.cell("DFFSR")


def _outputs(prog, nl, bus, x, w, first=None, acc=None):
    m = len(x)
    first = np.zeros(m, bool) if first is None else first
    acc = np.zeros(m, np.uint64) if acc is None else acc
    V = evaluate(prog, x, w, first, acc)
    return sum(V[n].astype(np.int64) << i for i, n in enumerate(nl.outputs[bus]))


def test_yosys_mapped_multiplier_is_exhaustively_correct(tmp_path):
    mapped = yosys_mult8(osu018(), tmp_path)
    assert {i.cell.name for i in mapped.instances} <= set(osu018().cells)
    prog = compile_netlist(mapped.netlist, "a", "b")
    pairs = np.array(list(itertools.product(range(256), repeat=2)))
    y = _outputs(prog, mapped.netlist, "y", pairs[:, 0], pairs[:, 1])
    assert np.array_equal(y, pairs[:, 0] * pairs[:, 1])


def test_mapped_mac_equals_generated_mac():
    gen = circuit("dadda", 4, 4, True, 12)
    mapped = map_circuit(gen, osu018())
    assert mapped.clock == "clk" and list(mapped.netlist.state) == ["acc"]
    assert sum(i.cell.ff is not None for i in mapped.instances) == 12
    rng = np.random.default_rng(0)
    x, w = rng.integers(-8, 8, 3000), rng.integers(-8, 8, 3000)
    first = rng.random(3000) < 0.2
    acc = rng.integers(0, 2**12, 3000).astype(np.uint64)
    ref = _outputs(compile_netlist(gen.netlist), gen.netlist, "acc_next", x, w, first, acc)
    prog = compile_netlist(mapped.netlist)
    assert np.array_equal(_outputs(prog, mapped.netlist, "acc_next", x, w, first, acc), ref)


def test_bare_library_names_are_looked_up(tmp_path, monkeypatch):
    (tmp_path / "tiny.lib").write_text(TINY)
    monkeypatch.setenv("BITSIM_LIBERTY_PATH", f"/nonexistent:{tmp_path}")
    assert find_liberty("tiny.lib") == str(tmp_path / "tiny.lib")
    assert read_liberty("tiny.lib").name == "tiny"
    assert find_liberty("osu018_stdcells.lib").endswith("osu018/osu018_stdcells.lib")
    assert find_liberty("missing.lib") == "missing.lib"


def test_wire_load_model(tmp_path):
    """default_wire_load: length interpolated over fanout_length, extrapolated with the slope
    (not below 0), times the capacitance per length; loads add it at each net's fanout."""
    from bitsim.sim.energy import loads

    lib = read_liberty(wire_load_liberty(tmp_path))
    assert osu018().wire_load is None and lib.wire_load.name == "bitsim_test"
    lengths = {0: 0.0, 0.5: 0.25, 1: 1.5, 1.5: 2.25, 3: 4.0, 4: 5.0, 6: 10.0}
    for fanout, length in lengths.items():
        assert lib.wire_load(fanout) == pytest.approx(length * 0.01e-12, rel=1e-12)
    wired = map_circuit(circuit("dadda", 4, 4, False), lib)
    rise, fall, fanout = {}, {}, {}
    for inst in wired.instances:
        for pin, net in inst.pins.items():
            p = inst.cell.pins[pin]
            rise[net] = rise.get(net, 0.0) + p.rise_capacitance
            fall[net] = fall.get(net, 0.0) + p.fall_capacitance
            fanout[net] = fanout.get(net, 0) + (p.direction == "input")
    for bus in wired.netlist.outputs.values():
        for net in bus:
            fanout[net] += 1
    got = loads(wired)
    assert got.keys() == rise.keys()
    for net, c in got.items():
        wire = lib.wire_load(fanout[net])
        assert c == pytest.approx(max(rise[net], fall[net]) + wire, rel=1e-12)
    bad = tmp_path / "bad.lib"
    bad.write_text('library(b) { nom_voltage : 1; default_wire_load : "none"; }')
    with pytest.raises(InputError, match="default_wire_load: expected a wire_load group"):
        read_liberty(str(bad))
