"""Samplers draw from the distributions they claim, exactly as the alias tables say."""

import math

import numpy as np
import pytest

from bitsim.backends.reference.sampling import fetch
from bitsim.sim.distributions import HalfNormal, Laplace, Normal, Uniform, resolve_distribution
from bitsim.sim.formats import IntFormat
from bitsim.sim.operands import make_stream

FORMATS = [
    IntFormat(1, True),
    IntFormat(1, False),
    IntFormat(4, True),
    IntFormat(4, False),
    IntFormat(8, True),
    IntFormat(12, False),
]
SCALED = [Normal, HalfNormal, Laplace]


def implied_probabilities(table):
    """P(value of each slot) that the alias table produces, from its keep/alias arrays."""
    slots = 1 << table.log2
    keep = table.keep.astype(float) / 2.0**64
    probs = np.zeros(slots)
    np.add.at(probs, np.arange(slots), keep / slots)
    np.add.at(probs, table.alias.astype(np.int64), (1 - keep) / slots)
    return probs


@pytest.mark.parametrize("fmt", FORMATS, ids=str)
@pytest.mark.parametrize("cls", SCALED)
@pytest.mark.parametrize("scale", [None, 0.3, 2.0, 50.0])
def test_alias_table_reproduces_the_pmf(cls, fmt, scale):
    dist = cls(scale)
    values, pmf = dist.pmf(fmt)
    assert math.isclose(pmf.sum(), 1.0, rel_tol=1e-12)
    assert values.min() >= fmt.lo and values.max() <= fmt.hi
    table = dist.alias_table(fmt)
    implied = implied_probabilities(table)
    assert np.allclose(implied[: len(values)], pmf, rtol=1e-12, atol=1e-15)
    assert np.all(implied[len(values) :] < 1e-15)


def test_quantized_normal_probabilities_by_hand():
    # scale 1 on 4-bit signed [-8, 7]: P(0) = P(|Z| < 0.5), P(7) = P(Z >= 6.5) (clipped tail)
    values, pmf = Normal(1.0).pmf(IntFormat(4, True))
    p = dict(zip(values.tolist(), pmf))
    assert math.isclose(p[0], math.erf(0.5 / math.sqrt(2)), rel_tol=1e-12)
    assert math.isclose(
        p[1], 0.5 * (math.erfc(0.5 / math.sqrt(2)) - math.erfc(1.5 / math.sqrt(2))), rel_tol=1e-12
    )
    assert math.isclose(p[7], 0.5 * math.erfc(6.5 / math.sqrt(2)), rel_tol=1e-9)
    assert math.isclose(p[-8], 0.5 * math.erfc(7.5 / math.sqrt(2)), rel_tol=1e-9)


def test_half_normal_and_laplace_by_hand():
    values, pmf = HalfNormal(2.0).pmf(IntFormat(4, False))
    assert values[0] == 0 and math.isclose(pmf[0], math.erf(0.25 / math.sqrt(2)), rel_tol=1e-12)
    values, pmf = Laplace(1.0).pmf(IntFormat(8, True))
    p = dict(zip(values.tolist(), pmf))
    assert math.isclose(p[0], 1 - math.exp(-0.5), rel_tol=1e-12)
    assert math.isclose(p[3], 0.5 * (math.exp(-2.5) - math.exp(-3.5)), rel_tol=1e-12)


def test_default_scale_is_a_quarter_of_the_magnitude_range():
    assert Normal().scale_for(IntFormat(8, True)) == 32.0
    assert HalfNormal().scale_for(IntFormat(8, False)) == 64.0


@pytest.mark.parametrize("dist", ["uniform", Normal(1.5), HalfNormal(3.0), Laplace(2.0)], ids=str)
@pytest.mark.parametrize("fmt", [IntFormat(4, True), IntFormat(3, False)], ids=str)
def test_sample_frequencies_match_the_pmf(dist, fmt):
    n = 400_000
    stream = make_stream(dist, "x", fmt, seed=123, operand=0)
    counts = np.bincount(fetch(stream, 0, n) - fmt.lo, minlength=fmt.hi - fmt.lo + 1)
    values, pmf = resolve_distribution(dist).pmf(fmt)
    expected = np.zeros(len(counts))
    expected[values - fmt.lo] = pmf * n
    # every bin within 6 standard deviations of its binomial expectation
    sd = np.sqrt(expected * (1 - expected / n)) + 1e-9
    assert np.all(np.abs(counts - expected) <= 6 * sd + 1), (counts, expected)


def test_sampled_streams_are_seekable():
    stream = make_stream("uniform", "x", IntFormat(7, True), seed=9, operand=0)
    whole = fetch(stream, 0, 1000)
    assert np.array_equal(np.concatenate([fetch(stream, 0, 333), fetch(stream, 333, 667)]), whole)
    table = make_stream(Laplace(3.0), "x", IntFormat(7, True), seed=9, operand=0)
    assert np.array_equal(fetch(table, 500, 10), fetch(table, 0, 510)[500:])


def test_x_and_w_streams_differ():
    x = make_stream("uniform", "x", IntFormat(8, True), seed=1, operand=0)
    w = make_stream("uniform", "w", IntFormat(8, True), seed=1, operand=1)
    assert not np.array_equal(fetch(x, 0, 100), fetch(w, 0, 100))


def test_uniform_takes_no_scale():
    with pytest.raises(ValueError, match="scale: the uniform distribution takes no scale"):
        resolve_distribution("uniform", scale=2.0)
    assert isinstance(resolve_distribution("uniform"), Uniform)
