"""The starting-sum pass (``mac_tail``: the sum of a range's products after its last dot-product
start, every product of an endless dot product) and the pieces that threads give an endless dot
product (``bitsim._core.segments.run_pieces``). The C kernel sums int8/int16 arrays and uniform
samplers of at most 16 bits in vector lanes (csrc/mac_kernel.h, "the starting-sum pass of the
narrow path"): it equals the reference for every operand kind, ranges that start and end at
every lane, group (16 vectors) and chunk (16384 MACs) edge, sums beyond 32 bits, values outside
the format (the first one named, also on threads) and the interrupt flag."""

import threading
import time

import numpy as np
import pytest

import bitsim
import bitsim._core.segments
import bitsim.sim.mac
from bitsim._core import interrupt
from bitsim._core.interrupt import Interrupted
from bitsim._core.segments import pieces
from bitsim.backends.dispatch import select
from bitsim.sim.mac import prepare

from util import BACKENDS, assert_same, simulate_all, summary

C_LEVELS = [s for b, s in BACKENDS if b == "c"]
VECTOR_LEVELS = [s for s in C_LEVELS if s != "scalar"]
REFERENCE = select("reference")


def array(dtype, bits, signed, n, seed):
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    hi = min(hi, np.iinfo(dtype).max)
    rng = np.random.default_rng(seed)
    a = rng.integers(lo, hi, size=n, endpoint=True)
    a[::5] = lo  # runs of extreme products
    a[1::7] = hi
    return a.astype(dtype)


# (operands, x_bits, x_signed, w_signed, vectorised on AVX2/AVX-512)
KINDS = [
    ("int8", 8, True, True, True),
    ("int8", 5, False, True, True),  # range-checked: the format is narrower than the dtype
    ("int16", 16, True, True, True),  # products up to 2**30: widened every vector
    ("int16", 16, True, False, True),
    ("int16", 11, False, False, True),
    ("uniform", 8, True, True, True),
    ("uniform", 3, False, True, True),
    ("uniform", 16, True, True, True),
    ("uniform", 16, False, True, True),
    ("uniform", 16, False, False, False),  # products beyond 2**31: the general pass
    ("int32", 8, True, True, False),
    ("int8-int16", 8, True, True, False),  # x and w of different kinds
    ("normal", 8, True, True, False),  # an alias-table sampler
]
N = 40_000


def streams(kind, bits, x_signed, w_signed, length, n=N):
    kw = dict(x_bits=bits, x_signed=x_signed, w_signed=w_signed, length=length)
    if kind in ("uniform", "normal"):
        return prepare(kind, kind, n=n, seed=bits, **kw)
    dx, dw = {
        "int8": (np.int8, np.int8),
        "int16": (np.int16, np.int16),
        "int32": (np.int32, np.int32),
        "int8-int16": (np.int8, np.int16),
    }[kind]
    return prepare(array(dx, bits, x_signed, n, 1), array(dw, bits, w_signed, n, 2), **kw)


# (start, count): lane (8/16), group (16 vectors: 128/256) and chunk (16384) edges
RANGES = [(0, 0), (0, 1), (0, N), (1, 17), (3, 333), (100, 16), (15, 31), (16, 255), (255, 257)]
RANGES += [(4607, 4609), (123, 39_000), (0, 16_385), (1, 16_384), (16_383, 16_386)]


@pytest.mark.parametrize("kind,bits,x_signed,w_signed,vectorised", KINDS)
def test_the_starting_sum_pass_equals_the_reference(kind, bits, x_signed, w_signed, vectorised):
    for length in (None, 1, 16, 17, 4608):
        cfg, xs, ws, _, _ = streams(kind, bits, x_signed, w_signed, length)
        for level in C_LEVELS:
            c = select("c", level, 512)
            assert c.mac_tail_vectorised(cfg, xs, ws) == (vectorised and level != "scalar")
            for start, count in RANGES:
                expected = REFERENCE.mac_tail(cfg, xs, ws, start, count)
                assert c.mac_tail(cfg, xs, ws, start, count) == expected, (level, length, start)


@pytest.mark.parametrize("level", VECTOR_LEVELS)
def test_sums_beyond_32_and_64_bit_lanes(level):
    """All-extreme operands: the sum of 300,000 products of -128 * -128 (4.9e9) and of 40,000 of
    -32768 * -32768 (4.3e13) leave 32 bits; each lane and chunk stays exact."""
    c = select("c", level, 512)
    for dtype, bits, n in ((np.int8, 8, 300_000), (np.int16, 16, 40_000)):
        x = np.full(n, -(1 << (bits - 1)), dtype=dtype)
        cfg, xs, ws, _, _ = prepare(x, x.copy(), x_bits=bits)
        assert c.mac_tail_vectorised(cfg, xs, ws)
        for start in (0, 1, 7, 16_384):
            total, restarted = c.mac_tail(cfg, xs, ws, start, n - start)
            assert total == (n - start) << (2 * bits - 2) and restarted == (start == 0)


@pytest.mark.parametrize("kind,bits,x_signed,w_signed,vectorised", KINDS[:9])
def test_threads_split_an_endless_dot_product_exactly(kind, bits, x_signed, w_signed, vectorised):
    """Pieces of every length from 1 on start at every lane: 2 to 5 threads over n = 1..70 and
    longer runs equal the reference, for accumulators narrower and wider than the sums."""
    for n in list(range(1, 71, 3)) + [1000, 5001]:
        cfg, xs, ws, _, _ = streams(kind, bits, x_signed, w_signed, None, n)
        for acc_bits in (20, 32, 64):
            data = (
                dict(n=n, seed=bits, x=kind, w=kind)
                if xs.array is None
                else dict(x=xs.array, w=ws.array)
            )
            case = dict(
                data,
                x_bits=bits,
                x_signed=x_signed,
                w_signed=w_signed,
                acc_bits=acc_bits,
            )
            expected = summary(bitsim.simulate_mac(backend="reference", **case))
            for threads in (2, 3, 5):
                got = summary(bitsim.simulate_mac(threads=threads, chunk_size=7, **case))
                assert got == expected, (n, acc_bits, threads)


def test_long_endless_runs_on_threads_equal_every_backend(monkeypatch):
    """Many segments per piece (SEGMENT_MACS lowered), sums beyond 32 bits, three threads."""
    monkeypatch.setattr(bitsim._core.segments, "SEGMENT_MACS", 4099)
    x = array(np.int16, 16, True, 60_001, 3)
    w = array(np.int16, 16, True, 60_001, 4)
    for acc_bits in (24, 40, 64):
        case = dict(x=x, w=w, x_bits=16, acc_bits=acc_bits, chunk_size=1111)
        results = simulate_all(**case)
        results["c-3-threads"] = bitsim.simulate_mac(threads=3, **case)
        assert_same(results, case)


def test_pieces_cover_the_stream_with_equal_work():
    for n, threads in ((10**8, 2), (10**6 + 1, 3), (5, 8), (1, 2)):
        for cost in (0.0, 0.15, 0.9):
            parts = pieces(n, threads, cost)
            assert parts[0][0] == 0 and parts[-1][1] == n
            assert all(a < b for a, b in parts) and all(
                p[1] == q[0] for p, q in zip(parts, parts[1:])
            )
            if n >= 10**6:
                sizes = [b - a for a, b in parts]
                work = [sizes[0]] + [cost * s + t for s, t in zip(sizes, sizes[1:])]
                assert max(work) - min(work) <= 2  # rounding
                assert sizes[0] >= max(sizes) - 1  # the first piece, which needs no tail


@pytest.mark.parametrize("dtype", [np.int8, np.int16])
@pytest.mark.parametrize("where", [0, 1, 16_383, 16_384, 59_000, 99_998])
def test_out_of_range_values_on_threads(dtype, where):
    """A value outside the format in the first piece is met first by the next piece's
    starting-sum pass, one in the last piece by the main pass only: the error names it, in x
    or w, on any thread count."""
    x = np.zeros(100_000, dtype=dtype)
    x[where] = 9
    x[min(where + 3, len(x) - 1)] = -20
    for level in C_LEVELS:
        c = select("c", level, 512)
        for bad, other in ((0, 1), (1, 0)):
            cfg, *s, _, _ = prepare(*[(x, x * 0)[i] for i in (bad, other)], x_bits=4)
            with pytest.raises(ValueError, match=f"^{'xw'[bad]}: .*found 9 at index {where}"):
                c.mac_tail(cfg, *s, 0, len(x))
        for threads in (2, 3):
            kw = dict(x_bits=4, simd=level, threads=threads)
            with pytest.raises(ValueError, match=f"^x: .*found 9 at index {where}"):
                bitsim.simulate_mac(x, x * 0, **kw)
            with pytest.raises(ValueError, match=f"^w: .*found 9 at index {where}"):
                bitsim.simulate_mac(x * 0, x, **kw)


@pytest.mark.parametrize("level", VECTOR_LEVELS)
def test_the_starting_sum_pass_stops_when_the_flag_is_set(level):
    c = select("c", level, 512)
    for kind in ("uniform", "int8"):
        cfg, xs, ws, _, _ = streams(kind, 8, True, True, None, 10**5)
        assert c.mac_tail_vectorised(cfg, xs, ws)
        interrupt.request()
        try:
            with pytest.raises(Interrupted):
                c.mac_tail(cfg, xs, ws, 0, 10**5)
        finally:
            interrupt.clear()
        assert c.mac_tail(cfg, xs, ws, 0, 10**5) == REFERENCE.mac_tail(cfg, xs, ws, 0, 10**5)


def test_an_interrupted_threaded_endless_run_stops_every_piece():
    """KeyboardInterrupt in the caller (here from the progress callback) while both pieces run:
    the call raises it, every worker has stopped and the flag is clear."""
    before = threading.active_count()

    def progress(done, total):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        bitsim.simulate_mac(n=10**13, threads=2, progress=progress)
    assert threading.active_count() == before and not interrupt.requested()


@pytest.mark.parametrize(
    "x,vectorised",
    [("uniform", True), (np.zeros(1000, dtype=np.int8), True), ("normal", False)],
)
def test_threads_for_an_endless_dot_product_only_with_the_vectorised_pass(
    x, vectorised, monkeypatch
):
    """Without the vectorised pass (here an alias-table sampler) the starting sums would cost
    more than a second thread saves: the C backend runs one thread; numba keeps its threads."""
    seen = []
    run = bitsim.sim.mac.run_segments
    monkeypatch.setattr(bitsim.sim.mac, "run_segments", lambda *a: seen.append(a[5]) or run(*a))
    w = x if isinstance(x, str) else x.copy()
    bitsim.simulate_mac(x, w, n=1000, threads=2)
    bitsim.simulate_mac(x, w, n=1000, threads=2, length=64)
    bitsim.simulate_mac(x, w, n=1000, threads=2, backend="numba")
    assert seen == [2 if vectorised and VECTOR_LEVELS else 1, 2, 2]


@pytest.mark.parametrize("threads", [2, 3, 4])
def test_the_first_piece_with_a_bad_value_names_it(threads, monkeypatch):
    """Values outside the format late in the first piece and early in the second, and both
    passes over the first piece slowed down: the third thread's pass over the second piece
    meets its value first, yet the error names the earlier one."""
    n = 200_000
    first = pieces(n, threads, bitsim._core.segments.ENDLESS_TAIL_COST)
    x = np.zeros(n, dtype=np.int8)
    x[first[0][1] - 2] = 9
    x[first[1][0] + 1] = 10
    select_c = bitsim.sim.mac.select

    def slowed(kernel):
        def slow(cfg, xs, ws, start, *rest):
            if start == 0:
                time.sleep(0.3)
            return kernel(cfg, xs, ws, start, *rest)

        return slow

    def slow_select(*args):
        kernels = select_c(*args)
        kernels.mac_tail, kernels.mac_run = slowed(kernels.mac_tail), slowed(kernels.mac_run)
        return kernels

    monkeypatch.setattr(bitsim.sim.mac, "select", slow_select)
    with pytest.raises(ValueError, match=f"^x: .*found 9 at index {first[0][1] - 2}"):
        bitsim.simulate_mac(x, x * 0, x_bits=4, threads=threads)


def test_progress_of_an_endless_run_on_threads(monkeypatch):
    monkeypatch.setattr(bitsim._core.segments, "SEGMENT_MACS", 1000)
    seen = []
    bitsim.simulate_mac(n=45_000, threads=2, progress=lambda done, total: seen.append(done))
    assert seen[-1] == 45_000 and seen == sorted(seen)
