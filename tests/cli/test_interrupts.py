"""Ctrl-C and absurd sizes, as a user meets them: each long command runs in a subprocess, gets
SIGINT after a few seconds of work, and must exit within 2 s with status 130, one line and no
traceback, its resident memory bounded whatever n, K or the thread count; an interrupted sweep
resumes and completes its grid."""

import csv
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import bitsim

from util import OUTSIDE

RUN_S = 2.0  # work before SIGINT (the interpreter and numpy import in about a second)
EXIT_S = 2.0  # the bound from SIGINT to exit
RSS_LIMIT_KB = 300_000  # far below what tasks or buffers proportional to n or K would take


def _memory_kb(pid: int) -> int:
    """Peak resident memory (VmHWM) of a running process, in kB."""
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        fields = dict(line.split(":", 1) for line in f if ":" in line)
    return int(fields["VmHWM"].split()[0])


def interrupt(args, run_s=RUN_S, cwd=None):
    """(status, stderr, seconds from SIGINT to exit, peak memory in kB) of `bitsim args`."""
    p = subprocess.Popen(
        [sys.executable, "-m", "bitsim", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd or OUTSIDE,
    )
    try:
        time.sleep(run_s)
        assert p.poll() is None, f"finished before SIGINT: {p.communicate()}"
        memory = _memory_kb(p.pid)
        sent = time.monotonic()
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=30)
        return p.returncode, err, time.monotonic() - sent, memory
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def assert_interrupted(status, err, took):
    assert status == 130, err
    assert "Traceback" not in err, err
    assert err.strip().splitlines()[-1] == "bitsim: interrupted", err
    assert took < EXIT_S, f"exited {took:.2f} s after SIGINT"


NETLISTS = Path(__file__).parent.parent / "data" / "netlists"

LONG_RUNS = [
    # one thread and two, huge n: the kernels run with the GIL released
    ["flips", "--bits", "8", "--signed", "signed", "-n", "1e12", "--threads", "1"],
    ["flips", "--bits", "8", "--signed", "signed", "-n", "1e14", "--threads", "2"],
    ["flips", "--bits", "8", "-n", "9e18", "--threads", "2", "--backend", "reference"],
    # a dot product of 1e17 terms is one kernel call: the C flag stops it inside
    ["accwidth", "--k", "1e17", "--dots", "10", "--threads", "2", "--bits", "8"],
    ["accwidth", "--k", "1e6", "--dots", "1e12", "--threads", "2", "--bits", "8"],
    ["gates", "--arch", "array", "-n", "2e10", "--threads", "2"],
    ["gates", "--arch", "array", "--delay", "unit", "-n", "2e12", "--threads", "2"],
    ["gates", "--arch", "array", "--mac", "--length", "100", "-n", "2e10", "--threads", "1"],
    ["report", "resnet18", "-n", "1e10", "--threads", "2"],
    # a sequential netlist (flip-flop feedback), simulated cycle by cycle
    [
        "gates",
        "--netlist",
        str(NETLISTS / "smac8.json"),
        "--signed",
        "signed",
        "--clear-port",
        "clr",
        "--length",
        "576",
        "-n",
        "5e12",
    ],
]


@pytest.mark.parametrize("args", LONG_RUNS, ids=lambda a: " ".join(a[:1] + a[-4:]))
def test_sigint_stops_a_long_run_promptly_with_bounded_memory(args):
    status, err, took, memory = interrupt(args)
    assert_interrupted(status, err, took)
    assert memory < RSS_LIMIT_KB, f"{memory} kB resident after {RUN_S} s"


def test_sigint_stops_the_numba_backend():
    bitsim.simulate_mac(n=10, backend="numba")  # compiled (and cached) before the clock runs
    status, err, took, _ = interrupt(
        ["flips", "--bits", "8", "-n", "1e12", "--threads", "2", "--backend", "numba"], 4.0
    )
    assert_interrupted(status, err, took)


def _rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_interrupted_sweep_keeps_its_rows_and_resumes(tmp_path):
    grid = tmp_path / "grid.yaml"
    grid.write_text(
        "kind: flips\nseed: 3\nfixed: {n: 1e9, x_bits: 8}\n"
        "grid: {acc_bits: [16, 17, 18, 19, 20, 21]}\n"
    )
    out = tmp_path / "results.csv"
    args = ["sweep", str(grid), "--out", str(out), "--workers", "1", "--split-macs", "1e6"]
    status, err, took, _ = interrupt(args, 3.0)
    assert_interrupted(status, err, took)
    kept = _rows(out) if out.exists() else []
    assert len(kept) < 6
    done = subprocess.run(
        [sys.executable, "-m", "bitsim", *args],
        cwd=OUTSIDE,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    rows = _rows(out)
    assert sorted(int(r["acc_bits"]) for r in rows) == list(range(16, 22))
    assert all(r["status"] == "ok" for r in rows)
    assert {r["cell"] for r in kept} <= {r["cell"] for r in rows}


@pytest.mark.parametrize(
    "args,pattern",
    [
        (["flips", "--length", str(2**70)], r"--length: expected an integer in \[1, 2\^63 - 1\]"),
        (["flips", "-n", "1e19"], r"-n: expected a whole number in \[1, 2\^63 - 1\]"),
        (["accwidth", "--k", "1e21", "--dots", "10"], r"--k: expected a whole number"),
        (["accwidth", "--k", "1e18", "--dots", "10"], r"--dots: expected dots x k <= 2\^63 - 1"),
        (["gates", "--arch", "array", "-n", str(2**64)], r"-n: expected a whole number"),
    ],
)
def test_sizes_beyond_the_kernels_counters_are_clear_errors(capsys, args, pattern):
    from bitsim.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(args)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and len(err.strip().splitlines()) == 1
    assert re.search(pattern, err), err


@pytest.mark.parametrize(
    "fixed", ["{kind: gates, arch: array, n: 2e10}", "{kind: accwidth, k: 1e17, dots: 10}"]
)
def test_sigint_stops_a_long_sweep_cell(tmp_path, fixed):
    kind, rest = fixed.strip("{}").split(", ", 1)
    grid = tmp_path / "grid.yaml"
    grid.write_text(f"{kind}\nfixed: {{{rest}}}\ngrid: {{x_bits: [8, 4]}}\n")
    args = ["sweep", str(grid), "--out", str(tmp_path / "out.csv"), "--workers", "2"]
    status, err, took, memory = interrupt(args)
    assert_interrupted(status, err, took)
    assert memory < RSS_LIMIT_KB


def test_the_commands_load_inside_the_sigint_guard():
    """`bitsim` imports its commands (and the kernels, numba...) only inside main's SIGINT guard,
    so Ctrl-C while they load ends with one line: importing bitsim.cli loads none of them."""
    code = (
        "import sys, bitsim.cli; "
        "print(sorted(m for m in sys.modules if m.startswith(('bitsim.cli.', 'bitsim.sim', "
        "'bitsim._ext', 'numba'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=OUTSIDE, capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]", out
