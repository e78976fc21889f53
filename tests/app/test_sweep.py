"""Sweeps: schema errors located, results independent of order/workers/scheduler, resumable,
fault-tolerant, interruptible, and split cells equal to unsplit ones."""

import json
import textwrap

import pytest

import bitsim
from bitsim.app import sweep as S
from bitsim.cli import main

GRID = """\
seed: 3
kind: flips
fixed:
  acc_bits: 24
  n: 20000
grid:
  x_bits: [2, 4]
  signed: [true, false]
  length: [null, 9]
"""

RESULTS = [
    "flips_x",
    "flips_w",
    "flips_product",
    "flips_acc",
    "flips_total",
    "overflows",
    "min_partial_sum",
    "max_partial_sum",
    "seed",
    "status",
]


def write(tmp_path, text, name="grid.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


def table(rows):
    return {r["cell"]: tuple(str(r[k]) for k in RESULTS) for r in rows}


def run(tmp_path, grid_text=GRID, out="out.csv", **kw):
    grid = S.load_grid(write(tmp_path, grid_text))
    return S.run_sweep(grid, str(tmp_path / out), progress=False, **kw)


@pytest.mark.parametrize(
    "text,pattern",
    [
        ("seed: 1\nkind: flips\ncolour: red\n", r"grid.yaml:3: colour: expected one of seed"),
        (
            "seed: 1\nkind: flops\n",
            r"grid.yaml:2: kind: expected flips, accwidth or gates, found 'flops'",
        ),
        (
            "kind: gates\ngrid:\n  arch: [dadda, karatsuba]\n",
            r"grid.yaml:3: grid.arch: expected one of array",
        ),
        ("kind: gates\ngrid:\n  x_bits: [4]\n", r"arch: expected a multiplier architecture"),
        (
            "kind: gates\nfixed:\n  arch: array\ngrid:\n  delay: [unit, fast]\n",
            r"grid.yaml:5: grid.delay: expected one of zero, unit, liberty, found 'fast'",
        ),
        (
            "kind: gates\nfixed:\n  arch: array\ngrid:\n  delay: [unit, liberty]\n",
            r"delay: liberty needs the parameter liberty",
        ),
        ("seed: -2\nkind: flips\n", r"grid.yaml:1: seed: expected an integer"),
        (
            "kind: flips\nfixed:\n  n: 10\ngrid:\n  x_bitz: [2]\n",
            r"grid.yaml:5: grid.x_bitz: expected a parameter of kind flips",
        ),
        (
            "kind: flips\ngrid:\n  x_bits: 4\n",
            r"grid.yaml:3: grid.x_bits: expected a non-empty list",
        ),
        (
            "kind: flips\ngrid:\n  x_bits: [2, a]\n",
            r"grid.yaml:3: grid.x_bits: expected a whole number, found 'a'",
        ),
        (
            "kind: flips\nfixed:\n  signed: 1\n",
            r"grid.yaml:3: fixed.signed: expected true or false",
        ),
        (
            "kind: flips\ngrid:\n  dist: [uniform, cauchy]\n",
            r"grid.yaml:3: grid.dist: expected one of uniform",
        ),
        (
            "kind: flips\ngrid:\n  acc_bits: [32, 70]\n",
            r"acc_bits: expected an integer in \[2, 64\], found 70",
        ),
        ("kind: accwidth\ngrid:\n  x_bits: [2]\n", r"k: expected the dot-product length"),
        (
            "kind: flips\nfixed:\n  n: 5\ngrid:\n  n: [5]\n",
            r"grid.yaml:5: grid.n: expected a parameter not also in fixed",
        ),
        ("kind: [flips\n", r"not valid YAML"),
    ],
)
def test_schema_errors_name_key_and_line(tmp_path, text, pattern):
    with pytest.raises(S.GridError, match=pattern):
        S.load_grid(write(tmp_path, text))


def test_rows_have_parameters_results_seed_and_version(tmp_path):
    rows = run(tmp_path)
    assert len(rows) == 8 and all(r["status"] == "ok" for r in rows)
    row = next(r for r in rows if r["x_bits"] == 4 and r["signed"] is False and r["length"] == 9)
    assert (
        row["acc_bits"] == 24 and row["n"] == 20000 and row["bitsim_version"] == bitsim.__version__
    )
    lib = bitsim.simulate_mac(
        x_bits=4, signed=False, length=9, acc_bits=24, n=20000, seed=row["seed"]
    )
    assert row["flips_total"] == pytest.approx(lib.mean())
    assert row["seed"] == S.cell_seed(3, json.loads(row["cell"]))


def test_same_results_whatever_workers_order_or_split(tmp_path):
    base = table(run(tmp_path, out="a.csv", workers=1))
    assert table(run(tmp_path, out="b.csv", workers=3)) == base
    shuffled = GRID.replace("[2, 4]", "[4, 2]").replace("[true, false]", "[false, true]")
    assert table(run(tmp_path, shuffled, out="c.csv", workers=2)) == base
    assert table(run(tmp_path, out="d.csv", workers=2, split_macs=3001)) == base  # 7 parts


def test_resume_skips_finished_cells(tmp_path, monkeypatch):
    full = table(run(tmp_path, out="full.csv"))
    out = tmp_path / "part.csv"
    run(tmp_path, out="part.csv")
    lines = out.read_text().splitlines()
    out.write_text("\n".join(lines[:4]) + "\n")  # keep the header and 3 rows
    calls = []
    real = S.task_flips
    monkeypatch.setattr(S, "task_flips", lambda *a: calls.append(a) or real(*a))
    rows = run(tmp_path, out="part.csv")
    assert len(calls) == 5 and len(rows) == 8
    assert table(S.read_rows(str(out))) == full


def test_failing_cell_is_recorded_and_others_go_on(tmp_path, monkeypatch):
    real = S.task_flips

    def flaky(cell, *args):
        if cell["x_bits"] == 4 and cell["length"] == 9:
            raise RuntimeError("injected failure")
        return real(cell, *args)

    monkeypatch.setattr(S, "task_flips", flaky)
    rows = run(tmp_path)
    failed = [r for r in rows if r["status"] == "error"]
    assert len(failed) == 2 and all("injected failure" in r["error"] for r in failed)
    assert sum(r["status"] == "ok" for r in rows) == 6
    monkeypatch.setattr(S, "task_flips", real)  # a rerun retries only the failed cells
    rows = run(tmp_path)
    assert len(rows) == 8 and all(r["status"] == "ok" for r in rows)


def test_interrupt_keeps_finished_rows(tmp_path, monkeypatch):
    real, seen = S.task_flips, []

    def interrupting(*args):
        if len(seen) == 3:
            raise KeyboardInterrupt
        seen.append(1)
        return real(*args)

    monkeypatch.setattr(S, "task_flips", interrupting)
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path, workers=1)
    assert len(S.read_rows(str(tmp_path / "out.csv"))) == 3
    monkeypatch.setattr(S, "task_flips", real)
    assert len(run(tmp_path, workers=1)) == 8


def test_accwidth_sweep_and_parquet(tmp_path):
    text = "seed: 1\nkind: accwidth\nfixed:\n  k: 576\n  dots: 500\ngrid:\n  x_bits: [2, 8]\n"
    rows = run(tmp_path, text, out="acc.parquet")
    assert [r["worst_case_bits"] for r in sorted(rows, key=lambda r: r["x_bits"])] == [13, 25]
    assert all(r["measured_bits"] <= r["worst_case_bits"] for r in rows)
    assert len(S.read_rows(str(tmp_path / "acc.parquet"))) == 2


def test_gates_sweep(tmp_path):
    text = (
        "seed: 2\nkind: gates\nfixed:\n  n: 3000\n  x_bits: 4\ngrid:\n"
        "  arch: [dadda, booth]\n  mac: [false, true]\n"
    )
    rows = run(tmp_path, text)
    assert len(rows) == 4 and all(r["status"] == "ok" for r in rows)
    dadda = next(r for r in rows if r["arch"] == "dadda" and not r["mac"])
    assert dadda["tree_full_adders"] == 16 - 16 + 3 and dadda["final_adder_bits"] == 6
    from bitsim.circuits.multipliers import multiplier_circuit
    from bitsim.sim.gates import simulate_gates

    g = simulate_gates(multiplier_circuit("dadda", 4), n=3000, seed=dadda["seed"])
    assert dadda["toggles_total"] == pytest.approx(g.per_vector()["total"])
    assert any("toggles_accumulator_adder" in r and r["toggles_accumulator_adder"] for r in rows)


def test_gates_sweep_with_unit_delay(tmp_path):
    text = "seed: 2\nkind: gates\nfixed:\n  n: 2000\n  x_bits: 4\n  arch: array\ngrid:\n"
    rows = run(tmp_path, text + "  delay: [zero, unit]\n")
    zero = next(r for r in rows if r["delay"] == "zero")
    unit = next(r for r in rows if r["delay"] == "unit")
    from bitsim.circuits.multipliers import multiplier_circuit
    from bitsim.sim.timing import simulate_timing

    t = simulate_timing(multiplier_circuit("array", 4), n=2000, seed=unit["seed"])
    assert unit["toggles_glitches"] == pytest.approx(t.per_vector()["glitches"])
    assert unit["toggles_glitches"] > 0
    assert unit["toggles_total"] == pytest.approx(t.per_vector()["total"])
    assert unit["settle_max"] == t.glitch_totals()["settle_max"]
    assert zero["toggles_total"] < unit["toggles_total"]


def test_gates_sweep_with_liberty_delay_and_mac_timing(tmp_path):
    from bitsim.circuits.mapped import map_circuit
    from bitsim.circuits.multipliers import mac_circuit, multiplier_circuit
    from bitsim.sim.timing import simulate_timing
    from tests.util_energy import OSU018, osu018

    text = (
        f"seed: 2\nkind: gates\nfixed:\n  n: 500\n  x_bits: 4\n  arch: array\n"
        f"  liberty: {OSU018}\n  delay: liberty\n  time_step: 2.0e-11\n"
    )
    (row,) = run(tmp_path, text)
    mapped = map_circuit(multiplier_circuit("array", 4), osu018())
    t = simulate_timing(mapped, n=500, seed=row["seed"], delay="liberty", time_step=2e-11)
    assert row["toggles_glitches"] == pytest.approx(t.per_vector()["glitches"])
    assert row["energy_glitch_pj"] > 0 and row["energy_total_pj"] > row["energy_glitch_pj"]
    text = "seed: 2\nkind: gates\nfixed:\n  n: 300\n  x_bits: 4\n  arch: dadda\n  mac: true\n"
    (row,) = run(tmp_path, text + "  acc_bits: 12\n  length: 4\n  delay: unit\n", out="mac.csv")
    c = mac_circuit("dadda", 4, acc_bits=12)
    t = simulate_timing(c, n=300, seed=row["seed"], length=4)
    assert row["toggles_glitches"] == pytest.approx(t.per_vector()["glitches"])


def test_dask_local_cluster_equals_local_pool(tmp_path):
    import distributed  # dask[distributed] comes with the test extra

    base = table(run(tmp_path, out="local.csv"))
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        rows = run(tmp_path, out="dask.csv", client=client, split_macs=5000)
    assert table(rows) == base


def test_cli_sweep_and_plot(tmp_path, capsys):
    grid = write(tmp_path, GRID)
    out = str(tmp_path / "r.csv")
    assert main(["sweep", grid, "--out", out, "--no-progress"]) == 0
    assert "8 rows" in capsys.readouterr().err
    png = tmp_path / "s.png"
    assert main(["plot", "sweep", out, "--out", str(png)]) == 0
    assert png.read_bytes().startswith(b"\x89PNG")
    with pytest.raises(SystemExit):
        main(
            [
                "sweep",
                write(tmp_path, "kind: flips\ngrid:\n  x_bits: [0]\n", "bad.yaml"),
                "--out",
                out,
            ]
        )
    assert "x_bits: expected an integer in [1, 32], found 0" in capsys.readouterr().err


def test_an_unrelated_file_is_never_overwritten(tmp_path):
    out = tmp_path / "out.csv"
    out.write_text("x,w,total\n8,8,22.6\n4,4,10.7\n3,3,8.1\n2,2,5.5\n")
    before = out.read_text()
    with pytest.raises(bitsim.InputError, match=r"out: .*out.csv exists and is not this grid"):
        run(tmp_path)
    assert out.read_text() == before
    other = GRID.replace("seed: 3", "seed: 4")  # another grid's output is not resumed either
    run(tmp_path, out="other.csv")
    with pytest.raises(bitsim.InputError, match="not this grid's output"):
        run(tmp_path, other, out="other.csv")
    assert len(run(tmp_path, force=True)) == 8  # --force replaces it
    assert {r["grid_id"] for r in S.read_rows(str(out))} == {
        S.grid_id(S.load_grid(str(tmp_path / "grid.yaml")))
    }


def test_two_sweeps_on_one_output_do_not_both_run(tmp_path):
    import fcntl

    with open(tmp_path / "out.csv.lock", "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(bitsim.InputError, match="another sweep is writing"):
            run(tmp_path)
    assert len(run(tmp_path)) == 8


def test_whole_numbers_in_any_yaml_spelling(tmp_path):
    rows = run(
        tmp_path, GRID.replace("n: 20000", "n: 2e4").replace("acc_bits: 24", "acc_bits: 24.0")
    )
    assert all(r["n"] == 20000 and r["acc_bits"] == 24 and r["status"] == "ok" for r in rows)
    with pytest.raises(S.GridError, match=r"fixed.n: expected a whole number, found 2.5"):
        S.load_grid(write(tmp_path, GRID.replace("n: 20000", "n: 2.5")))
    with pytest.raises(S.GridError, match=r"grid: .*grid.yaml:1:7: not valid YAML: could not"):
        S.load_grid(write(tmp_path, "seed: !!python/object/apply:os.system ['true']\n"))
