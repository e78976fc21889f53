"""Progress of long runs, the one mechanism of every long command: a callback
``report(done, total)`` that the library calls after each segment, cell or configuration.

On a terminal the line is rewritten in place (carriage return), at most a few times a second
and only once a run has lasted a second; anywhere else (a redirected stderr, a log file) it is
a plain line every ten seconds and at the end, never a carriage return. Whether to show it at
all is the caller's choice (the command line: on a terminal, or with --progress).
"""

from __future__ import annotations

import sys
import time
from typing import Callable, Optional, TextIO

from bitsim._core.checks import InputTypeError

__all__ = ["ProgressCallback", "progress_callback", "stderr_progress"]

ProgressCallback = Callable[[int, int], None]

FIRST_S = 1.0  # nothing is shown before a run has lasted this long
TTY_EVERY_S = 0.2  # a terminal line is rewritten at most this often
LOG_EVERY_S = 10.0  # a plain line (not a terminal) is written at most this often


def _si(value: float) -> str:
    for factor, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= factor:
            return f"{value / factor:,.1f} {prefix}"
    return f"{value:,.1f} "


def stderr_progress(
    label: str = "", unit: str = "MACs", stream: Optional[TextIO] = None
) -> ProgressCallback:
    """A progress callback writing work done, rate and ETA to ``stream`` (default stderr).
    The rate and ETA are those of the whole run so far (the work since the callback was made,
    or since ``done`` last went down: a new run with the same callback)."""
    out = stream if stream is not None else sys.stderr
    tty = out.isatty()
    started = time.monotonic()
    state = {"started": started, "last": started, "shown": False, "done": 0, "called": started}

    def report(done: int, total: int) -> None:
        now = time.monotonic()
        if done < state["done"]:  # a new run, begun when the previous one last reported
            state.update(started=state["called"], last=now, shown=False)
        state["done"], state["called"] = done, now
        elapsed = now - state["started"]
        finished = done >= total
        if tty:  # nothing for short runs; then a few times a second, and the final line
            if elapsed < FIRST_S or (not finished and now - state["last"] < TTY_EVERY_S):
                if not (finished and state["shown"]):
                    return
        elif not finished and now - state["last"] < LOG_EVERY_S:  # a line now and then
            return
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = f"{(total - done) / rate:,.0f} s" if rate > 0 else "?"
        line = (
            f"{label}{done:,}/{total:,} {unit} ({100 * done / max(total, 1):.1f}%), "
            f"{_si(rate)}{unit}/s, elapsed {elapsed:,.0f} s, ETA {eta}"
        )
        if tty:
            out.write(f"\r{line} " + ("\n" if finished else ""))
        else:
            out.write(line + "\n")
        out.flush()
        state["last"], state["shown"] = now, True

    return report


def progress_callback(progress, unit: str = "MACs") -> Optional[ProgressCallback]:
    """None, a stderr progress line (``True``) or the user's callable progress(done, total)."""
    if progress is None or progress is False:
        return None
    if progress is True:
        return stderr_progress(unit=unit)
    if callable(progress):
        return progress
    raise InputTypeError(
        f"progress: expected a bool or a callable, found {type(progress).__name__}"
    )
