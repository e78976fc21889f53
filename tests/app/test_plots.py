"""Plots are written, non-empty, in the format the file name asks for."""

import pytest

from bitsim._core.checks import InputError
from bitsim.cli import main


@pytest.mark.parametrize("ext,magic", [("png", b"\x89PNG"), ("svg", b"<?xml")])
def test_roofline_plot(tmp_path, ext, magic):
    out = tmp_path / f"roof.{ext}"
    assert main(["plot", "roofline", "resnet18", "--formats", "int2,int4", "--out", str(out)]) == 0
    data = out.read_bytes()
    assert len(data) > 1000 and data.startswith(magic)


@pytest.mark.parametrize("ext,magic", [("png", b"\x89PNG"), ("svg", b"<?xml")])
def test_flips_plot(tmp_path, ext, magic):
    out = tmp_path / f"flips.{ext}"
    assert main(["plot", "flips", "--bits", "2,4,8", "-n", "20000", "--out", str(out)]) == 0
    data = out.read_bytes()
    assert len(data) > 1000 and data.startswith(magic)


def test_plot_needs_png_or_svg(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["plot", "flips", "--bits", "2", "-n", "100", "--out", str(tmp_path / "x.jpg")])
    assert "out: expected a file name ending in .png or .svg" in capsys.readouterr().err


def test_overflow_plot(tmp_path):
    out = tmp_path / "overflow.svg"
    assert (
        main(
            ["plot", "overflow", "--k", "576", "--bits", "2,4", "--dots", "2000", "--out", str(out)]
        )
        == 0
    )
    assert out.read_bytes().startswith(b"<?xml") and out.stat().st_size > 1000


def test_dataflow_heatmap_and_savings_plot(tmp_path):
    import numpy as np

    from bitsim.app.plots import dataflow_heatmap, savings_plot
    from bitsim.dataflow.operands import sample_tensors
    from bitsim.dataflow.simulate import simulate_dataflow
    from bitsim.models.layers import Linear

    layer = Linear("fc", 6, 3)
    r = simulate_dataflow(layer, *sample_tensors(layer, "uniform", "uniform", 0), "4x4", "ws")
    assert np.isnan(r.pe_mean()[:, 3]).all()  # 3 output channels leave a column idle
    dataflow_heatmap(r, str(tmp_path / "h.svg"))
    savings_plot(
        [
            {"layer": "a", "method": "m", "saving": 0.1},
            {"layer": "b", "method": "m", "saving": -0.02},
        ],
        str(tmp_path / "s.png"),
    )
    assert (tmp_path / "h.svg").read_bytes().startswith(b"<?xml")
    assert (tmp_path / "s.png").read_bytes().startswith(b"\x89PNG")
    with pytest.raises(InputError, match="out: expected a file name ending in .png or .svg"):
        dataflow_heatmap(r, str(tmp_path / "h.jpg"))
