"""Nonsense that used to be accepted silently, or answered with a traceback or an unclear
message: each is now one line that names the flag or key, what was expected and what was
found (the fuzz test tries many more of the same classes)."""

import re
from pathlib import Path

import pytest

import bitsim
from bitsim.cli import main
from bitsim.models.power import pann_power
from bitsim.models.roofline import Accelerator
from bitsim.nets.report import report
from bitsim.nets.zoo import network
from bitsim.sim.accwidth import width_summary


@pytest.mark.parametrize(
    "argv,pattern",
    [
        (["accwidth", "--k", "8", "--dots", "0"], r"--dots: expected a whole number in \[1, "),
        (["report", "resnet18", "-n", "0"], r"-n: expected a whole number in \[1, "),
        (["report", "resnet18", "-n", "1e3", "--no-sim"], r"-n: has no effect without the sim"),
        (["sweep", "g.yaml", "--out", "o.csv", "--workers", "0"], r"--workers: expected an "),
        (["sweep", "g.yaml", "--out", "o.csv", "--split-macs", "0"], r"--split-macs: expected"),
        (["gates", "--arch", "array", "--length", "5"], r"--length: has no effect without --mac"),
        (["gates", "--arch", "array", "--acc-bits", "16"], r"--acc-bits: has no effect without"),
        (["gates", "--arch", "array", "--a-port", "p"], r"--a-port: has no effect without --net"),
        (["gates", "--arch", "array", "--mac", "--acc-bits", "1"], r"--acc-bits: .*\[2, 64\]"),
        (["roofline", "--linear", "4x4", "--area-mm2", "1", "--clock", "inf"], r"--clock: .*'inf'"),
        (["roofline", "--linear", "4x4", "--area-mm2", "inf", "--clock", "1"], r"--area-mm2: exp"),
        (["roofline", "--linear", "4x4", "--area-mm2", "1", "--clock", "nan"], r"--clock: exp"),
        (
            ["roofline", "--conv", "4x4x3x3", "--input", "8", "--padding", "foo"]
            + ["--area-mm2", "1", "--clock", "1e9"],
            r"--padding: expected an integer in \[0, .*\] or 'same', found 'foo'",
        ),
        (
            ["roofline", "--linear", "4x4", "--stride", "2", "--area-mm2", "1", "--clock", "1"],
            r"--stride: has no effect without --conv",
        ),
        (["accwidth", "--k", "8", "--eps", "0"], r"--eps: expected a finite number in \(0, 1\]"),
        (["flips", "--scale", "-2", "--dist", "normal"], r"--scale: expected a finite number > 0"),
        (["report", "resnet18", "--elementwise-format", "x"], r"--elementwise-format: expected"),
        (["gates", "--netlist", "missing.json"], r"--netlist: missing.json: No such file"),
    ],
)
def test_nonsense_options_are_one_line_errors(tmp_path, monkeypatch, capsys, argv, pattern):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "g.yaml").write_text("kind: flips\ngrid: {x_bits: [2]}\n")
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and len(err.strip().splitlines()) == 1, err
    assert re.search(pattern, err), err


@pytest.mark.parametrize(
    "text,pattern",
    [
        ("conv1: [8\n", r"--overrides: .*ov.yaml:2:1: not valid YAML"),
        ("conv1: !!python/object/apply:os.system ['echo x']\n", r"ov.yaml:1:8: not valid YAML"),
        ("- 8\n", r"--overrides: expected a mapping of layer names"),
    ],
)
def test_overrides_files_are_loaded_safely(tmp_path, capsys, text, pattern):
    path = tmp_path / "ov.yaml"
    path.write_text(text)
    with pytest.raises(SystemExit) as exit_:
        main(["report", "resnet18", "--no-sim", "--overrides", str(path)])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and len(err.strip().splitlines()) == 1 and re.search(pattern, err)


@pytest.mark.parametrize(
    "text,pattern",
    [
        ('{"modules": [1]}', r"has no 'modules' mapping"),
        ('{"modules": {"top": {"ports": {"a": {"direction": "input"}}}}}', r"lacks the key 'bits'"),
        (
            '{"modules": {"top": {"ports": {}, "cells": {"g": {"type": "$_AND_"}}}}}',
            r"lacks the key 'connections'",
        ),
        ('{"modules": {"top": {"ports": {"a": 3}}}}', r"is not Yosys write_json output"),
    ],
)
def test_malformed_netlists_are_one_line_errors(tmp_path, capsys, text, pattern):
    path = tmp_path / "n.json"
    path.write_text(text)
    with pytest.raises(SystemExit) as exit_:
        main(["gates", "--netlist", str(path)])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and len(err.strip().splitlines()) == 1
    assert re.search(r"--netlist: .*n.json.*" + pattern, err), err


def test_library_calls_refuse_the_same_nonsense():
    with pytest.raises(bitsim.InputError, match="n: expected a number of MACs >= 1"):
        report(network("resnet20"), n=0)
    with pytest.raises(bitsim.InputError, match="dots: expected at least one dot product"):
        width_summary(8, dots=0)
    with pytest.raises(bitsim.InputError, match="clock_hz: expected a finite positive number"):
        Accelerator(1.0, float("inf"))
    elementwise = next(la for la in network("resnet18").layers if la.kind == "elementwise")
    with pytest.raises(bitsim.InputError, match="layer: PANN power needs a Conv2d or Linear"):
        pann_power(elementwise)


def test_untraceable_torch_models_are_one_line_errors():
    torch = pytest.importorskip("torch")
    from bitsim.nets.pytorch import from_torch

    class DataDependent(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(4, 4)

        def forward(self, x):
            return self.fc(x) if x.sum() > 0 else x

    with pytest.raises(bitsim.InputError, match=r"model: torch.export cannot export DataDependent"):
        from_torch(DataDependent(), (4,))
    with pytest.raises(bitsim.InputError, match=r"input_shape: expected a sequence"):
        from_torch(DataDependent(), "4")


def test_plots_say_where_they_wrote(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "r.svg"
    assert main(["plot", "roofline", "resnet20", "--out", str(out)]) == 0
    assert capsys.readouterr().out == f"wrote {out}\n" and out.exists()


def test_gates_bits_with_a_netlist_must_be_the_port_width(capsys):
    netlist = str(Path(__file__).parent.parent / "data" / "netlists" / "smult4.json")
    base = ["gates", "--netlist", netlist, "--signed", "signed", "-n", "100"]
    assert main([*base, "--bits", "4", "--format", "json"]) == 0
    capsys.readouterr()
    with pytest.raises(SystemExit) as err:
        main([*base, "--bits", "8"])
    assert err.value.code == 2
    message = capsys.readouterr().err
    assert "--bits: expected the width of --netlist port 'a' (4), found 8" in message
