"""Progress of long runs: one stderr line rewritten in place, or a user's callback."""

from __future__ import annotations

import sys
import time
from typing import Callable, Optional

from bitsim._core.checks import InputTypeError

__all__ = ["ProgressCallback", "progress_callback", "stderr_progress"]

ProgressCallback = Callable[[int, int], None]


def stderr_progress(label: str = "", unit: str = "MACs") -> ProgressCallback:
    """A progress callback that rewrites one stderr line: work done, rate and ETA."""
    started = time.monotonic()

    def report(done: int, total: int) -> None:
        elapsed = time.monotonic() - started
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = (total - done) / rate if rate > 0 else float("inf")
        sys.stderr.write(
            f"\r{label}{done:,}/{total:,} {unit}, {rate / 1e6:,.0f} M "
            f"{unit.rstrip('s')}/s, ETA {eta:,.0f} s "
        )
        if done == total:
            sys.stderr.write("\n")
        sys.stderr.flush()

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
