"""`bitsim flips`: formats, options and errors; the numbers are the library's."""

import csv
import io
import json
import re
import shutil
import subprocess

import pytest

import bitsim
from bitsim.cli import main


def run(capsys, *argv):
    assert main(list(argv)) == 0
    return capsys.readouterr().out


def test_json_has_one_object_per_configuration(capsys):
    out = json.loads(
        run(
            capsys,
            "flips",
            "--bits",
            "2,4",
            "-n",
            "5000",
            "--seed",
            "3",
            "--format",
            "json",
            "--length",
            "9",
        )
    )
    assert [(o["x_bits"], o["signed"]) for o in out] == [
        (2, True),
        (2, False),
        (4, True),
        (4, False),
    ]
    for o in out:
        assert {"x_bits", "w_bits", "acc_bits", "signed", "length", "n", "seed", "flips"} <= set(o)
        assert set(o["flips"]) == {"x", "w", "product", "acc", "addend", "carry", "total"}
        sites = sum(v for k, v in o["flips"].items() if k != "total")
        assert o["flips"]["total"] == pytest.approx(sites)
        assert (o["acc_bits"], o["length"], o["n"], o["seed"]) == (32, 9, 5000, 3)
        lib = bitsim.simulate_mac(x_bits=o["x_bits"], signed=o["signed"], length=9, n=5000, seed=3)
        assert o["flips"] == pytest.approx(lib.mean_flips, abs=0)


def test_default_run_is_the_pann_setting(capsys):
    out = json.loads(run(capsys, "flips", "-n", "1000", "--format", "json"))
    assert [o["x_bits"] for o in out[::2]] == [2, 3, 4, 5, 6, 7, 8]
    assert all(
        o["acc_bits"] == 32
        and o["length"] is None
        and o["x_dist"] == "uniform"
        and o["x_bits"] == o["w_bits"]
        for o in out
    )


def test_separate_widths_and_unsigned_only(capsys):
    out = json.loads(
        run(
            capsys,
            "flips",
            "--x-bits",
            "4,8",
            "--w-bits",
            "2",
            "-n",
            "1e3",
            "--signed",
            "unsigned",
            "--format",
            "json",
        )
    )
    assert [(o["x_bits"], o["w_bits"], o["signed"]) for o in out] == [(4, 2, False), (8, 2, False)]


def test_csv_and_table(capsys):
    rows = list(
        csv.DictReader(
            io.StringIO(
                run(
                    capsys,
                    "flips",
                    "--bits",
                    "3",
                    "-n",
                    "2000",
                    "--format",
                    "csv",
                    "--dist",
                    "laplace",
                    "--scale",
                    "1.5",
                )
            )
        )
    )
    assert [r["signed"] for r in rows] == ["True", "False"]
    assert float(rows[0]["total"]) == pytest.approx(
        sum(float(rows[0][s]) for s in bitsim.SITES), abs=1e-5
    )
    table = run(capsys, "flips", "--bits", "4,8", "-n", "2000")
    assert "signed" in table and "unsigned" in table and "saving" in table
    assert len([line for line in table.splitlines() if line.strip().startswith(("4 ", "8 "))]) == 2


def test_progress_goes_to_stderr(capsys):
    main(["flips", "--bits", "4", "-n", "1000", "--signed", "signed", "--progress"])
    captured = capsys.readouterr()
    assert "1,000/1,000 MACs" in captured.err and "MACs" not in captured.out


@pytest.mark.parametrize(
    "argv,pattern",
    [
        (["flips", "--bits", "0"], "--bits: expected an integer in \\[1, 32\\], found 0"),
        (["flips", "--acc-bits", "70"], "--acc-bits: .* found 70"),
        (["flips", "--length", "0"], "length: expected an integer in \\[1, 2\\^63 - 1\\], found 0"),
        (["flips", "--x-bits", "2,3", "--w-bits", "2,3,4"], "expected lists of equal length"),
        (["flips", "--dist", "uniform", "--scale", "2"], "scale: the uniform distribution"),
    ],
)
def test_errors_exit_with_a_message(capsys, argv, pattern):
    with pytest.raises(SystemExit) as err:
        main(argv + ["-n", "10"])
    assert err.value.code == 2
    assert re.search(pattern, capsys.readouterr().err)


@pytest.mark.parametrize(
    "argv", [["flips", "-n", "1.5"], ["flips", "--bits", "a,b"], ["flips", "--format", "xml"]]
)
def test_argument_syntax_errors(capsys, argv):
    with pytest.raises(SystemExit) as err:
        main(argv)
    assert err.value.code == 2 and "error" in capsys.readouterr().err


def test_console_script_is_installed():
    exe = shutil.which("bitsim")
    assert exe is not None, "the bitsim command is not on PATH"
    out = subprocess.run(
        [exe, "flips", "--bits", "2", "-n", "100", "--format", "json"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert json.loads(out)[0]["x_bits"] == 2


def test_roofline_json_reproduces_hcm_table_2(capsys):
    out = json.loads(
        run(
            capsys,
            "roofline",
            "--conv",
            "256x256x3x3",
            "--input",
            "14x14",
            "--area-mm2",
            "1",
            "--clock",
            "800e6",
            "--formats",
            "fp32,int32,int16,int8",
            "--format",
            "json",
        )
    )
    assert [o["format"] for o in out] == ["fp32", "int32", "int16", "int8"]
    assert [o["pes"] for o in out] == [9, 49, 196, 676]
    assert [round(o["ops_per_bit"], 2) for o in out] == [5.82, 5.82, 11.63, 23.26]
    for o in out:
        assert {
            "format",
            "pes",
            "peak_ops_per_s",
            "required_ops_per_s",
            "ops_per_bit",
            "attainable_ops_per_s",
            "bound",
        } <= set(o)
        assert o["required_ops_per_s"] == pytest.approx(524.288e12)


def test_roofline_table_and_linear(capsys):
    table = run(
        capsys,
        "roofline",
        "--linear",
        "512x1000",
        "--area-mm2",
        "2",
        "--clock",
        "1e9",
        "--formats",
        "int8,int4",
    )
    assert "int8" in table and "int4" in table and "bound" in table


@pytest.mark.parametrize(
    "argv,pattern",
    [
        (["--conv", "64x64x3", "--input", "8"], "--conv: expected CINxCOUTxKHxKW"),
        (["--conv", "64x64x3x3"], "--input: expected HxW"),
        (
            ["--conv", "64x64x3x3", "--input", "8", "--formats", "int9x"],
            "--formats: expected a name",
        ),
        (["--conv", "64x64x9x9", "--input", "4", "--padding", "0"], "input_hw: a 9x9 kernel"),
    ],
)
def test_roofline_errors(capsys, argv, pattern):
    with pytest.raises(SystemExit) as err:
        main(["roofline", "--area-mm2", "1", "--clock", "1e9", *argv])
    assert err.value.code == 2 and re.search(pattern, capsys.readouterr().err)


def test_accwidth_json(capsys):
    out = json.loads(
        run(
            capsys,
            "accwidth",
            "--k",
            "4608",
            "--bits",
            "2,8",
            "--eps",
            "1e-6",
            "--dots",
            "2000",
            "--flips-n",
            "20000",
            "--format",
            "json",
        )
    )
    assert [(o["x_bits"], o["signed"]) for o in out] == [
        (2, True),
        (2, False),
        (8, True),
        (8, False),
    ]
    for o in out:
        assert {
            "k",
            "x_bits",
            "w_bits",
            "signed",
            "worst_case_bits",
            "statistical_bits",
            "measured_bits",
        } <= set(o)
        assert o["k"] == 4608
        assert o["measured_bits"] <= o["worst_case_bits"]
        assert set(o["flips"]) == {"worst_case", "statistical", "measured"}
    assert [o["worst_case_bits"] for o in out] == [16, 16, 28, 29]


def test_accwidth_table(capsys):
    table = run(capsys, "accwidth", "--k", "64", "--bits", "4", "--dots", "100", "--flips-n", "0")
    assert "worst" in table and "meas" in table and "flips@" not in table


def test_roofline_of_a_network(capsys):
    out = json.loads(
        run(
            capsys,
            "roofline",
            "--network",
            "resnet18",
            "--area-mm2",
            "1",
            "--clock",
            "800e6",
            "--formats",
            "int4,int2",
            "--format",
            "json",
        )
    )
    assert len(out) == 2 * 21 and out[0]["layer"] == "conv1" and out[-1]["layer"] == "fc"
    assert {o["format"] for o in out} == {"int4", "int2"}
