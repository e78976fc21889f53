"""The segment protocol: a stream of MACs cut into consecutive ranges that run on their own
(threads, Dask tasks, progress steps) and merge into exactly the counts of one unsplit run.

A range needs the exact partial sum the accumulator held before its first MAC. A first pass asks
every range for its *tail* (the sum of its products after its last dot-product start, and
whether one started); ``chain`` turns the tails into each range's starting sum. With dot
products of finite length K the tail of a range is that of its last at most K MACs
(``tail_range``), so the first pass costs next to nothing and threads scale. In one endless dot
product the tail is the sum of every product of the range; ``run_segments`` then gives each
thread one contiguous piece of the stream (``pieces``), whose segments run one after the other
from the sum the one before left, so that only the pieces' starts need a tail pass: the thread
of piece j first sums the products of piece j - 1, and the first piece, which needs none, is the
longest.

Ranges are generated lazily (``ranges``) and run on ``interrupt.Workers`` with a bounded number
in flight, so memory does not depend on n, and every run stops promptly on KeyboardInterrupt.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from typing import (
    Callable,
    Dict,
    Iterable,
    Iterator,
    List,
    Optional,
    Sequence,
    Tuple,
    TypeVar,
    cast,
)

import numpy as np

from bitsim._core.interrupt import Interrupted, Workers, result, result_in_worker

__all__ = [
    "DEFAULT_CHUNK",
    "SEGMENT_MACS",
    "Counts",
    "chain",
    "default_threads",
    "merge",
    "pieces",
    "ranges",
    "run_segments",
    "segment_size",
    "split",
    "tail_range",
]

R = TypeVar("R")

DEFAULT_CHUNK = 512  # MACs per kernel block: operands and register words stay in L1/L2
SEGMENT_MACS = 1 << 24  # MACs per task when a run is split for threads or progress
# CPU time per MAC of the starting-sum pass of an endless dot product over that of the main pass
# (the C kernel's vectorised pass: 7.6-25 G MAC/s, the fused main pass 1.8-2.8 G; README
# "Speed"); it only balances the pieces of ``pieces``, results never depend on it
ENDLESS_TAIL_COST = 0.15


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


def _between(bounds: List[int]) -> List[Tuple[int, int]]:
    """The non-empty [start, stop) ranges between consecutive bounds; [(0, 0)] when none is."""
    return [(a, b) for a, b in zip(bounds[:-1], bounds[1:]) if b > a] or [(0, 0)]


def split(n: int, pieces: int) -> List[Tuple[int, int]]:
    """[start, stop) ranges of about equal size covering [0, n)."""
    bounds = [n * i // pieces for i in range(pieces + 1)]
    return _between(bounds)


def pieces(n: int, threads: int, tail_cost: float) -> List[Tuple[int, int]]:
    """[start, stop) pieces covering [0, n), one per thread, for threads that each first pass
    over the piece before their own at ``tail_cost`` (0 <= tail_cost < 1) of the main pass's
    cost per MAC: equal work tail_cost * |piece j - 1| + |piece j| (the first piece longest);
    empty pieces are left out."""
    sizes = [1.0]
    for _ in range(threads - 1):
        sizes.append(1.0 - tail_cost * sizes[-1])
    total = sum(sizes)
    bounds, acc = [0], 0.0
    for size in sizes:
        acc += size
        bounds.append(round(n * acc / total))
    bounds[-1] = n
    return _between(bounds)


def segment_size(n: int, threads: int, most: Optional[int] = None, least: int = 1) -> int:
    """Items per segment: n shared by the threads, but at most ``most`` (default SEGMENT_MACS:
    a segment is a short kernel call and a progress step) and at least ``least``."""
    most = SEGMENT_MACS if most is None else most
    return max(least, min(most, -(-n // threads)), 1)


def ranges(n: int, size: int) -> Iterator[Tuple[int, int]]:
    """[start, stop) ranges of ``size`` items (the last one shorter) covering [0, n), generated
    lazily; one empty range (0, 0) when n is 0."""
    if n == 0:
        yield (0, 0)
    for a in range(0, n, size):
        yield (a, min(a + size, n))


def tail_range(length: Optional[int], start: int, stop: int) -> Tuple[int, int]:
    """(start, count) of the part of MACs [start, stop) that has the same tail: from the last
    dot-product start in it (a multiple of ``length``, MAC 0 when ``length`` is None or 0) to
    ``stop``, at most ``length`` MACs; the whole range when no dot product starts in it."""
    last = (stop - 1) // length * length if length else 0
    first = max(start, last)
    return first, stop - first


def chain(tails: Iterable[Tuple[int, bool]], first_before: int = 0) -> Iterator[int]:
    """Exact partial sums before consecutive ranges, from each range's (tail, restarted),
    generated lazily: ``first_before`` at once, then one more sum per tail received (the last
    one is the sum after every range)."""
    before = first_before
    yield before
    for tail, restarted in tails:
        before = tail if restarted else before + tail
        yield before


def merge(parts: Sequence[Counts]) -> Counts:
    """Counts of consecutive ranges merged into the counts of their union."""
    total = parts[0]
    for p in parts[1:]:
        total = total.merge(p)
    return total


def run_segments(
    backend, cfg, xs, ws, n: int, threads: int, report: Optional[Callable[[int, int], None]]
) -> Counts:
    """MACs [0, n) as consecutive segments of ``backend`` (``mac_run``, ``mac_tail``) on worker
    threads. With one thread each segment starts from the sum the one before left; with more,
    a pipelined first pass finds each segment's starting sum (``chain``) just ahead of the
    segments that need it, so the work is steady from the start and the rate (and ETA) that
    ``report(done, n)`` sees is that of the whole run. One endless dot product on several
    threads runs as ``run_pieces``."""
    if threads > 1 and cfg.length is None and n > 1:
        return run_pieces(backend, cfg, xs, ws, n, threads, report)
    size = segment_size(n, threads)
    total: Optional[Counts] = None
    after = [0]  # the sum the last segment left (one thread: the next one starts from it)

    def sequential():
        for a, b in ranges(n, size):
            yield a, b, after[0]

    with Workers(threads) as workers:
        if threads == 1:
            tasks: Iterable[Tuple[int, int, int]] = sequential()
            window: Optional[int] = 1  # the next task is taken once this result is merged
        else:
            tails = workers.imap(
                lambda r: backend.mac_tail(cfg, xs, ws, *tail_range(cfg.length, *r)),
                ranges(n, size),
            )
            tasks = ((a, b, before) for (a, b), before in zip(ranges(n, size), chain(tails)))
            window = None
        runs = workers.imap(
            lambda t: backend.mac_run(cfg, xs, ws, t[0], t[1] - t[0], t[2]), tasks, window
        )
        for (_, done), part in zip(ranges(n, size), runs):
            total = part if total is None else total.merge(part)
            after[0] = part.sum_after
            if report is not None:
                report(done, n)
    assert total is not None  # ranges() yields at least one range
    return total


def run_pieces(
    backend, cfg, xs, ws, n: int, threads: int, report: Optional[Callable[[int, int], None]]
) -> Counts:
    """``run_segments`` for one endless dot product: one piece of the stream per thread
    (``pieces``, balanced for ``ENDLESS_TAIL_COST``), its segments run one after the other; the
    thread of piece j > 0 first passes over piece j - 1 (``mac_tail``), and adds the sum before
    piece j - 1 once that thread has it. ``report(done, n)``: MACs done in every piece.

    An error (a value outside its format) is that of the first piece with one, whichever thread
    meets it first: piece k is read by the pass of thread k + 1, which runs first, and by the
    main pass of thread k; an error in piece r is raised once the passes over pieces 0..r - 1
    have found none."""
    parts = pieces(n, threads, ENDLESS_TAIL_COST)
    starts: List["Future[int]"] = [Future() for _ in parts]
    starts[0].set_result(0)
    errors: Dict[int, BaseException] = {}  # the first error met in each piece
    done = [0]
    lock = threading.Lock()

    def scan(k: int, kernel: Callable[..., R], *args) -> R:
        try:
            return kernel(*args)
        except Interrupted:
            raise
        except BaseException as err:
            errors.setdefault(k, err)
            raise

    def piece(j: int) -> Optional[Counts]:
        a, b = parts[j]
        total: Optional[Counts] = None
        try:
            if j > 0:
                try:
                    tail, restarted = scan(
                        j - 1, backend.mac_tail, cfg, xs, ws, *tail_range(None, *parts[j - 1])
                    )
                    before = result_in_worker(starts[j - 1])
                    starts[j].set_result(tail if restarted else before + tail)
                except BaseException as err:  # the pieces after this one stop too
                    starts[j].set_exception(err)
                    raise
            for s, e in ranges(b - a, segment_size(b - a, 1)):
                before = starts[j].result() if total is None else total.sum_after
                part = scan(j, backend.mac_run, cfg, xs, ws, a + s, e - s, before)
                total = part if total is None else total.merge(part)
                with lock:
                    done[0] += e - s
        except BaseException:  # recorded in errors, or an interruption
            return None
        return total

    def first_error() -> Optional[BaseException]:
        if not errors:
            return None
        r = min(errors)
        return errors[r] if all(starts[k].done() for k in range(1, r + 1)) else None

    last = [-1]

    def tick() -> None:
        err = first_error()  # an error ends the run at once
        if err is not None:
            raise err
        if report is not None and done[0] != last[0]:
            last[0] = done[0]
            report(done[0], n)

    with Workers(threads) as workers:
        futures = [workers.submit(piece, j) for j in range(len(parts))]
        totals = [result(f, tick) for f in futures]
        tick()
    if any(t is None for t in totals):
        raise Interrupted()
    if report is not None and last[0] != n:
        report(n, n)
    return merge(cast(List[Counts], totals))


def default_threads() -> int:
    """Cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1
