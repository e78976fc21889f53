"""Accumulator widths: the exact bound is tight, the weight-aware bound exact, the estimate and
the measurement consistent, and the compiled kernel equal to the reference."""

import itertools
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import bitsim
from bitsim.sim import accwidth as A
from bitsim.sim.formats import IntFormat

from util import all_pairs

SIGNS = list(itertools.product([True, False], repeat=2))


@pytest.mark.parametrize("x_bits,w_bits", list(itertools.product(range(1, 4), repeat=2)))
def test_worst_case_bound_is_tight_over_every_dot_product(x_bits, w_bits):
    """Exhaustive: the widest width any dot product of K <= 3 terms needs is the bound."""
    for x_signed, w_signed in SIGNS:
        px, pw = all_pairs(IntFormat(x_bits, x_signed), IntFormat(w_bits, w_signed))
        pairs = np.stack([px, pw], axis=1)[: len(px) // 2]  # every pair once
        for k in (1, 2, 3):
            if len(pairs) ** k > 5000:
                continue
            seqs = np.array(list(itertools.product(range(len(pairs)), repeat=k))).ravel()
            m = A.measure(
                k,
                pairs[seqs, 0],
                pairs[seqs, 1],
                x_bits=x_bits,
                w_bits=w_bits,
                x_signed=x_signed,
                w_signed=w_signed,
            )
            bound = A.worst_case_bits(k, x_bits, w_bits, x_signed, w_signed)
            assert m.smallest_width(0) == bound, (x_bits, w_bits, x_signed, w_signed, k)


@pytest.mark.parametrize("x_bits,w_bits", [(1, 1), (2, 3), (4, 4), (8, 8), (16, 8), (32, 32)])
@pytest.mark.parametrize("k", [1, 2, 5, 4608])
def test_extreme_operands_need_exactly_the_bound(x_bits, w_bits, k):
    for x_signed, w_signed in SIGNS:
        bound = A.worst_case_bits(k, x_bits, w_bits, x_signed, w_signed)
        needed = max(
            A.measure(
                k,
                *A.extreme_operands(k, x_bits, w_bits, x_signed, w_signed, which),
                x_bits=x_bits,
                w_bits=w_bits,
                x_signed=x_signed,
                w_signed=w_signed,
            ).smallest_width(0)
            for which in ("max", "min")
        )
        assert needed == bound
        if 3 <= bound <= 64:  # one bit less overflows in the register-level simulator too
            x, w = A.extreme_operands(k, x_bits, w_bits, x_signed, w_signed, "max")
            kw = dict(x_bits=x_bits, w_bits=w_bits, x_signed=x_signed, w_signed=w_signed, length=k)
            sims = [
                bitsim.simulate_mac(
                    *A.extreme_operands(k, x_bits, w_bits, x_signed, w_signed, which),
                    acc_bits=acc,
                    **kw,
                )
                for which in ("max", "min")
                for acc in (bound, bound - 1)
            ]
            assert sims[0].overflows == sims[2].overflows == 0
            assert sims[1].overflows + sims[3].overflows > 0


def test_published_widths_and_hcm_formula():
    # K = 3x3x512, 8-bit operands (the PANN accumulator table's layer)
    assert A.worst_case_bits(4608, 8, 8) == 28
    assert A.worst_case_bits(4608, 8, 8, False, False) == 29
    assert A.worst_case_bits(4608, 2, 2) == 16  # 4608 * 4 < 2^15, signed
    assert A.hcm_output_bits(8, 8, 3, 512) == pytest.approx(64 + math.log2(9) + 9)


def test_weight_aware_bound_by_hand():
    w = np.array([[3, -2, 1], [-4, -4, 0]])
    b = A.weight_aware_bits(w, x_bits=4, x_signed=False)  # x in [0, 15]
    assert b.max_sum.tolist() == [60, 0] and b.min_sum.tolist() == [-30, -120]
    assert b.channel_bits.tolist() == [7, 8] and b.layer_bits == 8
    s = A.weight_aware_bits(w, x_bits=4, x_signed=True)  # x in [-8, 7]
    assert s.max_sum.tolist() == [3 * 7 + 2 * 8 + 7, 64] and s.min_sum.tolist() == [
        -24 - 14 - 8,
        -56,
    ]


@pytest.mark.parametrize("x_signed", [True, False])
def test_weight_aware_bound_is_reached_exhaustively(x_signed):
    rng = np.random.default_rng(5)
    weights = rng.integers(-4, 4, size=(6, 3))
    fmt = IntFormat(3, x_signed)
    xs = np.array(list(itertools.product(range(fmt.lo, fmt.hi + 1), repeat=3)))
    bound = A.weight_aware_bits(weights, 3, x_signed)
    for c, row in enumerate(weights):
        partial = np.cumsum(xs * row, axis=1)
        assert partial.max() == bound.max_sum[c] and partial.min() == bound.min_sum[c]


def test_weight_aware_is_never_looser_than_the_data_type_bound():
    w = np.random.default_rng(0).integers(-128, 128, size=(16, 4608))
    assert A.weight_aware_bits(w, 8, False).layer_bits <= A.worst_case_bits(4608, 8, 8, False, True)


@pytest.mark.parametrize("bits", [2, 4, 8])
@pytest.mark.parametrize("signed", [True, False])
def test_statistical_estimate_agrees_with_measurement(bits, signed):
    eps = 1e-3
    stat = A.statistical_bits(4608, bits, bits, signed, signed, eps=eps)
    m = A.measure(4608, x_bits=bits, x_signed=signed, w_signed=signed, dots=20_000, seed=4)
    assert stat <= A.worst_case_bits(4608, bits, bits, signed, signed)
    assert abs(stat - m.smallest_width(eps)) <= 1


@given(
    st.integers(1, 32),
    st.integers(1, 32),
    st.booleans(),
    st.booleans(),
    st.integers(1, 40),
    st.integers(0, 12),
    st.integers(1, 50),
    st.integers(0, 2**32),
)
def test_kernel_equals_reference(x_bits, w_bits, x_signed, w_signed, k, dots, chunk, seed):
    kw = dict(
        x_bits=x_bits,
        w_bits=w_bits,
        x_signed=x_signed,
        w_signed=w_signed,
        dots=dots,
        seed=seed,
        chunk_size=chunk,
    )
    c, r = A.measure(k, **kw), A.measure(k, backend="reference", **kw)
    assert np.array_equal(c.hist, r.hist)
    assert (c.min_partial_sum, c.max_partial_sum) == (r.min_partial_sum, r.max_partial_sum)


def test_threads_and_chunks_do_not_change_the_measurement(monkeypatch):
    import bitsim.sim.accwidth

    kw = dict(x_bits=6, dots=3000, seed=2)
    base = A.measure(576, **kw)
    monkeypatch.setattr(bitsim.sim.accwidth, "SEGMENT_MACS", 10_000)
    for threads, chunk in ((2, 100), (3, 7)):
        m = A.measure(576, threads=threads, chunk_size=chunk, **kw)
        assert np.array_equal(m.hist, base.hist) and m.max_partial_sum == base.max_partial_sum


def test_rates_and_confidence():
    m = A.measure(64, x_bits=4, dots=1000, seed=0)
    w = m.smallest_width(0)
    assert m.overflow_rate(w) == 0 and m.overflow_rate(w - 1) > 0
    assert set(m.rates()) == set(range(8, 65))
    assert A.upper_confidence(0, 1000) == pytest.approx(1 - 0.05 ** (1 / 1000))
    assert A.upper_confidence(0, 3_000_000) < 1e-6 < A.upper_confidence(0, 2_000_000)
    assert 0.01 < A.upper_confidence(10, 1000) < 0.02
    assert m.confident_width(1e-6) is None  # 1000 dot products cannot show 1e-6
    cw = m.confident_width(0.01)
    assert A.upper_confidence(m.overflows(cw), 1000) <= 0.01
    assert A.upper_confidence(m.overflows(cw - 1), 1000) > 0.01
    d = m.to_dict(eps=0.01)
    assert d["measured_bits"] == m.smallest_width(0.01) and d["dots"] == 1000


@pytest.mark.parametrize(
    "call,exc,pattern",
    [
        (
            lambda: A.worst_case_bits(0, 8, 8),
            ValueError,
            r"k: expected an integer in \[1, 2\^63 - 1\], found 0",
        ),
        (lambda: A.measure(4, x_bits=4), ValueError, "dots: expected the number of dot products"),
        (lambda: A.measure(4, [1, 2, 3], [1, 2, 3]), ValueError, "multiple of k = 4, found 3"),
        (lambda: A.measure(2, [1, 2], [1, 2], dots=3), ValueError, "dots: expected 1"),
        (lambda: A.measure(2, [1, 99], [1, 2], x_bits=4), ValueError, "x: .* found 99 at index 1"),
        (lambda: A.statistical_bits(9, 4, 4, eps=0), ValueError, "eps: expected a probability"),
        (lambda: A.measure(2, dots=1, backend="gpu"), ValueError, "backend: expected"),
        (lambda: A.weight_aware_bits([], 4), ValueError, r"weights: expected a non-empty array"),
        (
            lambda: A.weight_aware_bits([[0.5, 1.0]], 4),
            TypeError,
            r"weights: expected an array of integers",
        ),
    ],
)
def test_errors(call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()


@pytest.mark.parametrize("backend", ["c", "numba", "reference"])
def test_every_backend_checks_operand_ranges(backend):
    x = np.array([1, 2, 3, -9, 0, 0])
    with pytest.raises(
        ValueError,
        match=r"x: expected integers in \[-8, 7\] .* found -9 at "
        r"index 3",
    ):
        A.measure(3, x, np.ones(6, dtype=int), x_bits=4, backend=backend)


def test_weight_aware_signedness_comes_from_the_weight_format():
    # signed int4 weights that happen to be positive, unsigned 4-bit activations: the partial
    # sums reach 15 * 6 = 90, and a signed accumulator (the product is signed) needs 8 bits
    w = np.array([[3, 1, 2]])
    assert A.weight_aware_bits(w, 4, False, w_bits=4).layer_bits == 8
    assert A.weight_aware_bits(w, 4, False).layer_bits == 8  # weights signed by default
    assert A.weight_aware_bits(w, 4, False, w_bits=4, w_signed=False).layer_bits == 7
    x = np.full(3, 15)
    kw = dict(x_bits=4, x_signed=False, w_bits=4, w_signed=True, length=3)
    assert bitsim.simulate_mac(x, w[0], acc_bits=8, **kw).overflows == 0
    assert bitsim.simulate_mac(x, w[0], acc_bits=7, **kw).overflows == 1  # 90 > 63
    with pytest.raises(ValueError, match=r"weights: expected integers in \[-2, 1\].*found 3 at"):
        A.weight_aware_bits(w, 4, w_bits=2)
    with pytest.raises(ValueError, match=r"weights: expected integers >= 0 \(w_signed=False\)"):
        A.weight_aware_bits([[1, -1]], 4, w_signed=False)
