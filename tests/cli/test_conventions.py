"""One convention for every command: shared flags mean the same thing, errors name the flag,
input errors exit with status 2 and one line, bugs show a traceback, --version."""

import argparse
import json
import subprocess
import sys

import pytest

import bitsim
from bitsim._core.segments import default_threads
from bitsim.cli import build_parser, main

from util import OUTSIDE

SIMULATING = {
    "flips": ["flips", "-n", "100"],
    "accwidth": ["accwidth", "--k", "8", "--dots", "10", "--flips-n", "0"],
    "gates": ["gates", "--arch", "dadda", "-n", "100"],
    "report": ["report", "resnet20", "-n", "100"],
    "dataflow": ["dataflow", "--linear", "8x8", "--array", "4x4"],
}


def options(argv):
    """The parsed options of a command line."""
    return vars(build_parser().parse_args(argv))


@pytest.mark.parametrize("command", sorted(SIMULATING))
def test_shared_flags_parse_alike(command):
    argv = SIMULATING[command]
    o = options(argv)
    assert o["threads"] == default_threads() and o["backend"] == "c" and o["simd"] == "auto"
    if command != "report":
        # one layer's tensors are signed by default; sampled comparisons default to both
        assert o["signed"] == ("signed" if command == "dataflow" else "both")
        assert options([*argv, "--signed"])["signed"] == "signed"
        assert options([*argv, "--signed", "unsigned"])["signed"] == "unsigned"
        assert options([*argv, "--bits", "2,4"])["bits"] == [2, 4]


def test_every_option_has_help():
    stack = [build_parser()]
    while stack:
        p = stack.pop()
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                stack += list(action.choices.values())
            elif action.dest != "help":
                assert action.help, f"{p.prog} {action.option_strings or action.dest}: no help"


@pytest.mark.parametrize(
    "argv,flag",
    [
        (["flips", "--bits", "0"], "--bits"),
        (["gates", "--arch", "dadda", "--bits", "40"], "--bits"),
        (["accwidth", "--k", "0"], "--k"),
        (["flips", "--threads", "0"], "--threads"),
        (["flips", "--seed", "-1"], "--seed"),
        (["report", "resnet20", "--a-bits", "0"], "--a-bits"),
        (["flips", "--simd", "avx9"], "--simd"),
        (["plot", "flips", "--acc-bits", "1", "--out", "x.png"], "--acc-bits"),
    ],
)
def test_errors_name_the_flag(capsys, argv, flag):
    with pytest.raises(SystemExit) as err:
        main(argv)
    message = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.value.code == 2 and flag in message, message


def test_library_errors_are_reported_with_the_flag_name(capsys):
    """An error raised by the library about a parameter names the matching flag."""
    with pytest.raises(SystemExit) as err:
        main(["flips", "-n", "10", "--dist", "uniform", "--scale", "2"])
    assert err.value.code == 2
    assert capsys.readouterr().err.startswith("bitsim flips: error: ")


def test_unexpected_exceptions_are_bugs_with_a_traceback(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr("bitsim.cli.common.simulate_mac", broken)
    with pytest.raises(RuntimeError, match="a bug"):
        main(["flips", "-n", "10"])


def test_version_comes_from_the_package():
    out = subprocess.run(
        [sys.executable, "-m", "bitsim", "--version"],
        cwd=OUTSIDE,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert out.strip() == f"bitsim {bitsim.__version__}" and bitsim.__version__[0].isdigit()


@pytest.mark.parametrize("fmt", ["table", "csv", "json", "markdown"])
@pytest.mark.parametrize("command", sorted(SIMULATING))
def test_every_format_everywhere(capsys, command, fmt):
    assert main([*SIMULATING[command], "--format", fmt]) == 0
    out = capsys.readouterr().out
    assert out.strip()
    if fmt == "json":
        json.loads(out)
    if fmt == "markdown":
        assert "|---|" in out
