"""MAC simulator throughput: C kernel (each instruction set), numba and the numpy reference on
the same seeded 10**7-MAC int8 streams, in one run so the ratios are comparable.

    pytest bench --benchmark-enable

Target (issue 2): C >= 1 G MAC/s on one core of the development machine, >= 30x the reference.
"""

import functools

import numpy as np
import pytest

import bitsim

N = 10**7
CASES = [("c", level) for level in bitsim.simd_levels()] + [
    ("numba", "auto"),
    ("reference", "auto"),
]


@functools.lru_cache(maxsize=None)
def stream(bits):
    rng = np.random.default_rng(bits)
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return (
        rng.integers(lo, hi, size=N, endpoint=True).astype(np.int8),
        rng.integers(lo, hi, size=N, endpoint=True).astype(np.int8),
    )


@pytest.mark.parametrize("bits", [4, 8])
@pytest.mark.parametrize(
    "backend,simd", CASES, ids=[f"{b}-{s}" if b == "c" else b for b, s in CASES]
)
def test_mac_stream(benchmark, backend, simd, bits):
    x, w = stream(bits)
    kwargs = dict(x_bits=bits, acc_bits=32, backend=backend, simd=simd)
    if backend == "numba":
        bitsim.simulate_mac(x[:1000], w[:1000], **kwargs)  # compile outside the timing
    benchmark.group = f"{bits}-bit signed MAC, {N:.0e} MACs, arrays"
    benchmark.extra_info["macs"] = N
    rounds = 1 if backend == "reference" else 5
    result = benchmark.pedantic(
        bitsim.simulate_mac, args=(x, w), kwargs=kwargs, rounds=rounds, iterations=1
    )
    assert result.macs == N


@pytest.mark.parametrize("bits", [4, 8])
def test_mac_sampled_stream(benchmark, bits):
    """The C kernel drawing uniform operands itself (nothing materialised)."""
    benchmark.group = f"{bits}-bit signed MAC, sampled in C"
    benchmark.extra_info["macs"] = 10 * N
    result = benchmark.pedantic(
        bitsim.simulate_mac, kwargs=dict(x_bits=bits, n=10 * N), rounds=3, iterations=1
    )
    assert result.macs == 10 * N


@pytest.mark.parametrize("length", [4608, None], ids=["K4608", "endless"])
@pytest.mark.parametrize("threads", [1, 2])
def test_mac_threads(benchmark, threads, length):
    """Thread scaling (target, issue 14: >= 1.8x on 2 cores for finite K, no worse than before
    for endless dot products); the ratio printed is over 1 thread of the same group. Wall clock:
    meaningful only on an otherwise idle machine."""
    x, w = stream(8)
    benchmark.group = f"8-bit signed MAC, {N:.0e} MACs, K={length}, threads"
    benchmark.extra_info["macs"] = N
    benchmark.extra_info["baseline"] = threads == 1
    result = benchmark.pedantic(
        bitsim.simulate_mac,
        args=(x, w),
        kwargs=dict(x_bits=8, acc_bits=32, length=length, threads=threads),
        rounds=5,
        iterations=1,
    )
    assert result.macs == N
