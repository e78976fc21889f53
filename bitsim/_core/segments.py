"""The segment protocol: a stream of MACs cut into consecutive ranges that run on their own
(threads, Dask tasks, progress steps) and merge into exactly the counts of one unsplit run.

A range needs the exact partial sum the accumulator held before its first MAC. A first pass asks
every range for its *tail* (the sum of its products after its last dot-product start, and
whether one started); ``chain`` turns the tails into each range's starting sum. With dot
products of finite length K the tail of a range is that of its last at most K MACs
(``tail_range``), so the first pass costs next to nothing and threads scale.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Iterable, List, Optional, Sequence, Tuple, TypeVar

import numpy as np

__all__ = [
    "DEFAULT_CHUNK",
    "SEGMENT_MACS",
    "Counts",
    "chain",
    "default_threads",
    "map_tasks",
    "merge",
    "run_segments",
    "split",
    "tail_range",
]

DEFAULT_CHUNK = 512  # MACs per kernel block: operands and register words stay in L1/L2
SEGMENT_MACS = 1 << 24  # MACs per task when a run is split for threads or progress

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class Counts:
    """Counts of one range of MACs (flips[site, bit], overflows, extreme partial sums, the exact
    partial sum after its last MAC); adjacent ranges merge exactly."""

    flips: np.ndarray
    overflows: int
    min_sum: Optional[int]
    max_sum: Optional[int]
    sum_after: int

    def merge(self, other: "Counts") -> "Counts":
        def pick(f, a, b):
            return b if a is None else a if b is None else f(a, b)

        return Counts(
            self.flips + other.flips,
            self.overflows + other.overflows,
            pick(min, self.min_sum, other.min_sum),
            pick(max, self.max_sum, other.max_sum),
            other.sum_after,
        )


def split(n: int, pieces: int) -> List[Tuple[int, int]]:
    """[start, stop) ranges of about equal size covering [0, n)."""
    bounds = [n * i // pieces for i in range(pieces + 1)]
    return [(a, b) for a, b in zip(bounds[:-1], bounds[1:]) if b > a] or [(0, 0)]


def tail_range(length: Optional[int], start: int, stop: int) -> Tuple[int, int]:
    """(start, count) of the part of MACs [start, stop) that has the same tail: from the last
    dot-product start in it (a multiple of ``length``, MAC 0 when ``length`` is None or 0) to
    ``stop``, at most ``length`` MACs; the whole range when no dot product starts in it."""
    last = (stop - 1) // length * length if length else 0
    first = max(start, last)
    return first, stop - first


def chain(tails: Iterable[Tuple[int, bool]], first_before: int = 0) -> List[int]:
    """Exact partial sums before consecutive ranges, from each range's (tail, restarted)."""
    befores, before = [], first_before
    for tail, restarted in tails:
        befores.append(before)
        before = tail if restarted else before + tail
    return befores


def merge(parts: Sequence[Counts]) -> Counts:
    """Counts of consecutive ranges merged into the counts of their union."""
    total = parts[0]
    for p in parts[1:]:
        total = total.merge(p)
    return total


def map_tasks(fn: Callable[[T], R], tasks: Sequence[T], threads: int) -> List[R]:
    """[fn(t) for t in tasks], on ``threads`` threads when there is more than one task."""
    if threads > 1 and len(tasks) > 1:
        with ThreadPoolExecutor(threads) as pool:
            return list(pool.map(fn, tasks))
    return [fn(t) for t in tasks]


def run_segments(
    backend, cfg, xs, ws, n: int, threads: int, report: Optional[Callable[[int, int], None]]
) -> Counts:
    """MACs [0, n) as consecutive segments of ``backend`` (``mac_run``, ``mac_tail``); with
    threads, segments run concurrently once a first pass has found each one's starting sum."""
    if threads == 1 and report is None:
        return backend.mac_run(cfg, xs, ws, 0, n, 0)
    ranges = split(n, max(threads, -(-n // SEGMENT_MACS)))
    done, parts = 0, []
    if threads == 1:
        before = 0
        for a, b in ranges:
            parts.append(backend.mac_run(cfg, xs, ws, a, b - a, before))
            before = parts[-1].sum_after
            done += b - a
            if report is not None:
                report(done, n)
        return merge(parts)
    with ThreadPoolExecutor(max_workers=threads) as pool:
        tails = list(
            pool.map(lambda r: backend.mac_tail(cfg, xs, ws, *tail_range(cfg.length, *r)), ranges)
        )
        futures = [
            pool.submit(backend.mac_run, cfg, xs, ws, a, b - a, before)
            for (a, b), before in zip(ranges, chain(tails))
        ]
        for (a, b), fut in zip(ranges, futures):
            parts.append(fut.result())
            done += b - a
            if report is not None:
                report(done, n)
    return merge(parts)


def default_threads() -> int:
    """Cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1
