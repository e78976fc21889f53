"""Chunk size, thread count and segmenting never change a result; inputs stay unmodified."""

import numpy as np
import pytest

import bitsim
import bitsim._core.segments

from util import summary


@pytest.mark.parametrize("length", [None, 1, 9, 4608])
@pytest.mark.parametrize("bits,signed", [(4, True), (8, False), (20, True), (30, False)])
def test_chunk_size_and_threads_do_not_change_results(bits, signed, length, monkeypatch):
    kwargs = dict(
        x_bits=bits,
        signed=signed,
        length=length,
        n=20_000,
        seed=11,
        acc_bits=24 if bits < 20 else 64,
    )
    expected = summary(bitsim.simulate_mac(**kwargs))
    monkeypatch.setattr(bitsim._core.segments, "SEGMENT_MACS", 1999)  # many uneven segments
    for chunk in (1, 7, 64, 1000, 1 << 16):
        for threads in (1, 2, 3):
            got = summary(bitsim.simulate_mac(chunk_size=chunk, threads=threads, **kwargs))
            assert got == expected, (chunk, threads)
    got = summary(bitsim.simulate_mac(progress=lambda done, total: None, **kwargs))
    assert got == expected


@pytest.mark.parametrize("backend", ["numba", "reference"])
def test_python_backends_split_exactly(backend, monkeypatch):
    kwargs = dict(x_bits=6, length=10, n=3000, seed=5, backend=backend)
    expected = summary(bitsim.simulate_mac(**kwargs))
    monkeypatch.setattr(bitsim._core.segments, "SEGMENT_MACS", 777)
    assert summary(bitsim.simulate_mac(threads=2, chunk_size=33, **kwargs)) == expected


def test_threads_on_arrays_equal_serial_and_leave_inputs_alone():
    rng = np.random.default_rng(0)
    x = rng.integers(-128, 128, size=300_001).astype(np.int8)
    w = rng.integers(-128, 128, size=300_001).astype(np.int8)
    x0, w0 = x.copy(), w.copy()
    serial = summary(bitsim.simulate_mac(x, w, length=4608))
    assert summary(bitsim.simulate_mac(x, w, length=4608, threads=2)) == serial
    assert np.array_equal(x, x0) and np.array_equal(w, w0)


def test_progress_reports_every_mac(monkeypatch):
    monkeypatch.setattr(bitsim._core.segments, "SEGMENT_MACS", 1000)
    seen = []
    bitsim.simulate_mac(n=4500, progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (4500, 4500) and len(seen) == 5
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_same_seed_same_result_other_seed_other_result():
    a = summary(bitsim.simulate_mac(n=5000, seed=1))
    assert summary(bitsim.simulate_mac(n=5000, seed=1)) == a
    assert summary(bitsim.simulate_mac(n=5000, seed=2)) != a


def test_long_sampled_run_uses_bounded_memory():
    """10**8 sampled MACs in 1024-MAC blocks: the kernel never materialises the operands."""
    import resource

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    r = bitsim.simulate_mac(x_bits=4, n=10**8, seed=3)
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert r.macs == 10**8 and grown_kib < 50_000  # 10**8 int64 operands would be 1.6 GB
