"""Progress lines: rewritten in place on a terminal (and only for runs of more than a second),
plain lines without carriage returns anywhere else; a callback reused for a new run restarts
its clock."""

import io

import pytest

from bitsim._core import progress as P
from bitsim.cli import main


class Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.fixture
def clock(monkeypatch):
    now = [100.0]
    monkeypatch.setattr(P.time, "monotonic", lambda: now[0])
    return now


def test_plain_lines_off_a_terminal(clock):
    out = io.StringIO()
    report = P.stderr_progress("run: ", stream=out)
    for done in range(1, 11):
        clock[0] += 3.0
        report(done * 100, 1000)
    text = out.getvalue()
    assert "\r" not in text
    lines = text.splitlines()
    assert 2 <= len(lines) <= 4 and lines[-1].startswith("run: 1,000/1,000 MACs (100.0%)")
    assert "ETA 0 s" in lines[-1]


def test_a_terminal_line_is_rewritten_and_short_runs_stay_silent(clock):
    out = Terminal()
    report = P.stderr_progress(stream=out)
    clock[0] += 0.1
    report(1000, 1000)
    assert out.getvalue() == ""  # done within a second: nothing shown
    report = P.stderr_progress(stream=out)
    for done in (100, 200, 300, 400):
        clock[0] += 1.0
        report(done, 400)
    assert out.getvalue().count("\r") == 4 and out.getvalue().endswith("\n")
    assert "ETA 2 s" in out.getvalue().split("\r")[2]  # 200 of 400 done in 2 s


def test_a_new_run_restarts_the_clock(clock):
    out = io.StringIO()
    report = P.stderr_progress(stream=out)
    clock[0] += 50.0
    report(100, 100)
    clock[0] += 1.0
    report(50, 100)  # a second run: rate 50/s, not 50 per 51 s
    clock[0] += 1.0
    report(100, 100)
    assert "100/100 MACs (100.0%), 50.0 MACs/s" in out.getvalue().splitlines()[-1]


def test_redirected_stderr_gets_no_carriage_returns(tmp_path, capsys):
    grid = tmp_path / "g.yaml"
    grid.write_text("kind: flips\nfixed: {n: 1000}\ngrid: {x_bits: [2, 3]}\n")
    main(["sweep", str(grid), "--out", str(tmp_path / "o.csv"), "--progress"])
    main(["flips", "--bits", "2", "-n", "1000", "--progress"])
    err = capsys.readouterr().err
    assert "\r" not in err and "2/2 cells" in err and "1,000/1,000 MACs" in err
