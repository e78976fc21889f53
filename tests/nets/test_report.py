"""Network reports: columns, totals, precision overrides and simulation reuse."""

import json

import pytest

import bitsim
import bitsim.nets.report as R
from bitsim.cli import main
from bitsim.nets.zoo import network


def test_report_columns_and_totals():
    rep = R.report(network("resnet20"), R.Precision(a_bits=4, w_bits=4), n=50_000)
    d = rep.to_dict()
    assert d["network"] == "resnet20" and len(d["layers"]) == len(network("resnet20").layers)
    for row in d["layers"] + [d["totals"]]:
        assert "macs" in row
    totals = d["totals"]
    assert totals["macs"] == network("resnet20").macs
    for key in (
        "ace",
        "ace_v2",
        "bops",
        "compute_cost",
        "weight_bits",
        "activation_bits",
        "power_signed",
        "power_unsigned",
    ):
        assert totals[key] == pytest.approx(sum(r[key] or 0 for r in d["layers"])), key
    conv = next(r for r in d["layers"] if r["type"] == "conv")
    for key in (
        "name",
        "shape",
        "k",
        "ace",
        "ace_v2",
        "bops",
        "compute_cost",
        "weight_bits",
        "activation_bits",
        "ops_per_bit",
        "acc_bits_worst_signed",
        "acc_bits_worst_unsigned",
        "flips_per_mac_signed",
        "flips_per_mac_unsigned",
        "power_signed",
        "power_unsigned",
        "share_macs",
    ):
        assert conv[key] is not None, key
    assert conv["power_signed"] == pytest.approx(conv["macs"] * conv["flips_per_mac_signed"])
    assert sum(r["share_macs"] for r in d["layers"]) == pytest.approx(1.0)
    ew = [r for r in d["layers"] if r["type"] in ("batchnorm", "add", "compare")]
    assert ew and all(r["macs"] == 0 and r["ace_v2"] > 0 for r in ew)


def test_flips_match_the_simulator_and_are_simulated_once(monkeypatch):
    calls = []
    real = R.simulate_mac

    def counting(*args, **kwargs):
        calls.append(kwargs["length"])
        return real(*args, **kwargs)

    monkeypatch.setattr(R, "simulate_mac", counting)
    rep = R.report(network("resnet18"), R.Precision(a_bits=4, w_bits=4), n=20_000, seed=5)
    distinct = {layer.k for layer in network("resnet18").layers if layer.kind != "elementwise"}
    assert len(calls) == 2 * len(distinct)  # signed and unsigned, once per K
    conv = next(r for r in rep.layers if r["name"] == "layer2.0.conv1")
    sim = bitsim.simulate_mac(x_bits=4, length=conv["k"], n=20_000, seed=5)
    assert conv["flips_per_mac_signed"] == pytest.approx(sim.mean())


def test_precision_overrides_and_first_last():
    p = R.Precision(
        a_bits=4,
        w_bits=2,
        first_last_bits=8,
        overrides={"layer1.0.conv1": {"w_bits": 3}, "layer2.0.conv2": 6},
    )
    rows = {r["name"]: r for r in R.report(network("resnet18"), p, simulate=False).layers}
    assert (rows["conv1"]["a_bits"], rows["conv1"]["w_bits"]) == (8, 8)
    assert (rows["fc"]["a_bits"], rows["fc"]["w_bits"]) == (8, 8)
    assert (rows["layer1.0.conv1"]["a_bits"], rows["layer1.0.conv1"]["w_bits"]) == (4, 3)
    assert (rows["layer2.0.conv2"]["a_bits"], rows["layer2.0.conv2"]["w_bits"]) == (6, 6)
    assert (rows["layer3.0.conv1"]["a_bits"], rows["layer3.0.conv1"]["w_bits"]) == (4, 2)
    assert rows["layer3.0.conv1"]["ace"] == rows["layer3.0.conv1"]["macs"] * 8
    assert rows["conv1"].get("flips_per_mac_signed") is None


def test_bad_precision():
    with pytest.raises(ValueError, match="overrides: no layer named 'conv9'"):
        R.report(network("resnet18"), R.Precision(overrides={"conv9": 4}), simulate=False)
    with pytest.raises(ValueError, match="overrides: expected for 'fc' a width or a mapping"):
        R.Precision(overrides={"fc": {"bits": 4}})
    with pytest.raises(ValueError, match="a_bits: .* found 0"):
        R.Precision(a_bits=0)


def test_elementwise_format_changes_ace_v2():
    int16 = R.report(network("resnet18"), R.Precision(), simulate=False).totals
    bf16 = R.report(
        network("resnet18"), R.Precision(elementwise_format="bf16"), simulate=False
    ).totals
    assert bf16["ace_v2"] > int16["ace_v2"] and bf16["macs"] == int16["macs"]


@pytest.mark.parametrize("fmt", ["table", "csv", "markdown", "json"])
def test_cli_report_formats(tmp_path, capsys, fmt):
    out = tmp_path / f"r.{fmt}"
    assert (
        main(
            [
                "report",
                "resnet20",
                "--w-bits",
                "4",
                "--a-bits",
                "4",
                "-n",
                "20000",
                "--format",
                fmt,
                "--out",
                str(out),
            ]
        )
        == 0
    )
    text = out.read_text()
    assert "layer1.0.conv1" in text and capsys.readouterr().out == ""
    if fmt == "json":
        d = json.loads(text)
        assert set(d) >= {"network", "layers", "totals"} and "macs" in d["totals"]


def test_cli_overrides_file_yaml_and_json(tmp_path, capsys):
    y = tmp_path / "o.yaml"
    y.write_text("conv1: 8\nfc:\n  a_bits: 8\n  w_bits: 6\n")
    j = tmp_path / "o.json"
    j.write_text(json.dumps({"conv1": 8, "fc": {"a_bits": 8, "w_bits": 6}}))
    outs = []
    for path in (y, j):
        main(
            [
                "report",
                "resnet20",
                "--w-bits",
                "2",
                "--a-bits",
                "2",
                "--no-sim",
                "--format",
                "json",
                "--overrides",
                str(path),
            ]
        )
        outs.append(json.loads(capsys.readouterr().out))
    assert outs[0] == outs[1]
    fc = next(r for r in outs[0]["layers"] if r["name"] == "fc")
    assert (fc["a_bits"], fc["w_bits"]) == (8, 6)


def test_cli_report_errors(capsys):
    with pytest.raises(SystemExit):
        main(["report", "alexnet"])
    assert "network: expected one of" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["report", "resnet18", "--overrides", "/nonexistent.json"])
    assert "No such file" in capsys.readouterr().err


def test_mixed_signedness_precision():
    p = R.Precision(a_bits=4, w_bits=4, a_signed=False)
    conv = next(
        r
        for r in R.report(network("resnet20"), p, n=30_000, seed=1).layers
        if r["name"] == "layer1.0.conv1"
    )
    sim = bitsim.simulate_mac(
        x_bits=4, x_signed=False, w_signed=True, length=conv["k"], n=30_000, seed=1
    )
    assert conv["flips_per_mac_signed"] == pytest.approx(sim.mean())
    from bitsim.sim.accwidth import worst_case_bits

    assert conv["acc_bits_worst_signed"] == worst_case_bits(conv["k"], 4, 4, False, True)
    with pytest.raises(TypeError, match="a_signed: expected a bool"):
        R.Precision(a_signed="no")


def test_bops_definition_by_name_in_report_and_cli(capsys):
    net = network("resnet20")
    hcm = R.report(net, R.Precision(a_bits=4, w_bits=2), simulate=False)
    qonnx = R.report(net, R.Precision(a_bits=4, w_bits=2), simulate=False, bops="qonnx")
    assert hcm.to_dict()["bops_definition"] == "hcm"
    assert qonnx.to_dict()["bops_definition"] == "qonnx"
    assert qonnx.totals["bops"] == pytest.approx(
        sum(r["macs"] * r["a_bits"] * r["w_bits"] for r in qonnx.layers if r["macs"])
    )
    assert hcm.totals["bops"] > qonnx.totals["bops"]
    assert "BOPS (qonnx)" in qonnx.render("table")
    assert main(["report", "resnet20", "--no-sim", "--bops", "qonnx", "--format", "json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["bops_definition"] == "qonnx"
    mac_ace = sum(r["ace"] for r in d["layers"] if r["macs"])  # ACE of the MAC layers
    assert d["totals"]["bops"] == pytest.approx(mac_ace) and mac_ace < d["totals"]["ace"]
    with pytest.raises(SystemExit):
        main(["report", "resnet20", "--bops", "fvcore"])
