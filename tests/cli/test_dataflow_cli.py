"""`bitsim dataflow`: the interface other tools script against, files, methods and errors."""

import json

import numpy as np
import pytest

from bitsim.cli import main
from bitsim.dataflow.mapping import Array, map_layer
from bitsim.dataflow.simulate import simulate_dataflow
from bitsim.models.layers import Conv2d


def run(capsys, *argv):
    assert main(list(argv)) == 0
    return capsys.readouterr().out


def test_json_keys_and_numbers_are_the_library_s(capsys, tmp_path):
    layer = Conv2d("conv", 3, 8, 3, (6, 6), stride=1, padding=1)
    rng = np.random.default_rng(0)
    x = rng.integers(-128, 128, size=(3, 6, 6)).astype(np.int8)
    w = rng.integers(-20, 20, size=(8, 3, 3, 3)).astype(np.int8)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "w.npy", w)
    out = json.loads(
        run(
            capsys,
            "dataflow",
            "--conv",
            "3x8x3x3",
            "--input",
            "6x6",
            "--padding",
            "1",
            "--array",
            "4x4",
            "--dataflow",
            "ws,os",
            "--x",
            str(tmp_path / "x.npy"),
            "--w",
            str(tmp_path / "w.npy"),
            "--format",
            "json",
            "--threads",
            "1",
        )
    )
    assert [o["dataflow"] for o in out] == ["ws", "os"]
    for o in out:
        ref = simulate_dataflow(layer, x, w, "4x4", o["dataflow"])
        assert o["cycles"] == map_layer(layer, Array(4, 4), o["dataflow"]).cycles
        assert o["utilization"] == pytest.approx(ref.mapping.utilization)
        assert o["macs"] == layer.macs
        assert o["flips"] == pytest.approx(ref.mean_flips)
        assert o["operands"] == "arrays"


def test_methods_add_baseline_and_saving(capsys):
    out = json.loads(
        run(
            capsys,
            "dataflow",
            "--linear",
            "16x24",
            "--array",
            "4x4",
            "--dataflow",
            "is",
            "--reorder",
            "--zero-gating",
            "--dist",
            "laplace",
            "--format",
            "json",
        )
    )
    (o,) = out
    assert o["reorder"] == "out" and o["gating"] is True
    assert o["saving"] == pytest.approx(1 - o["flips"]["total"] / o["baseline"]["flips"]["total"])


def test_table_and_heatmap(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    text = run(
        capsys,
        "dataflow",
        "--conv",
        "4x4x1x1",
        "--input",
        "4x4",
        "--array",
        "2x2",
        "--heatmap",
        str(tmp_path / "h.png"),
    )
    assert "cycles" in text and "psum" in text
    assert (tmp_path / "h.png").stat().st_size > 0


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--linear", "4x4", "--array", "4"], "--array: expected RxC"),
        (["--linear", "4x4", "--array", "2x2", "--dataflow", "rs"], "--dataflow: expected ws"),
        (["--linear", "4x4", "--array", "2x2", "--x", "a.npy"], "--x, --w: expected both"),
        (["--conv", "4x4x3x3", "--array", "2x2"], "--input: expected HxW"),
    ],
)
def test_errors_name_the_flag(capsys, argv, message):
    with pytest.raises(SystemExit) as e:
        main(["dataflow", *argv])
    assert e.value.code == 2 and message in capsys.readouterr().err


def test_matmul(capsys):
    (o,) = json.loads(
        run(
            capsys,
            "dataflow",
            "--matmul",
            "6x5x4",
            "--array",
            "2x2",
            "--dataflow",
            "os",
            "--format",
            "json",
        )
    )
    assert o["macs"] == 120 and o["shape"] == "6x5x4" and "acc" in o["flips"]
