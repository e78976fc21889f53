"""Channel reordering: exact Hamming distances, tours no longer than greedy's, results that do
not change, and measured savings; compare() reports method against baseline."""

import itertools

import numpy as np
import pytest

from bitsim._core.checks import InputError
from bitsim.dataflow.methods import (
    apply_order,
    channel_order,
    compare,
    hamming_matrix,
    tour_length,
)
from bitsim.dataflow.operands import layer_gemms, sample_tensors
from bitsim.models.layers import Conv2d, Linear, MatMul


def test_hamming_matrix_by_brute_force():
    rng = np.random.default_rng(0)
    v = rng.integers(-8, 8, size=(5, 7))
    d = hamming_matrix(v, 4)
    for i, j in itertools.product(range(5), repeat=2):
        assert d[i, j] == sum(bin((int(a) ^ int(b)) & 15).count("1") for a, b in zip(v[i], v[j]))


def test_two_opt_is_a_permutation_no_longer_than_greedy_and_optimal_when_small():
    layer = Linear("fc", 6, 7, w_format="int4")
    _, w = sample_tensors(layer, "uniform", "normal", 2)
    d = hamming_matrix(w, 4)
    greedy = channel_order(layer, w, "out", passes=0)
    best = channel_order(layer, w, "out", passes=10)
    assert sorted(best) == list(range(7))
    assert tour_length(best, d) <= tour_length(greedy, d) <= tour_length(np.arange(7), d)
    optimum = min(tour_length(np.array(p), d) for p in itertools.permutations(range(7)))
    assert tour_length(best, d) <= 1.25 * optimum


@pytest.mark.parametrize("axis", ["out", "in"])
@pytest.mark.parametrize(
    "layer", [Conv2d("c", 5, 6, 3, (5, 5), padding=1), Linear("fc", 7, 5), MatMul("mm", 4, 6, 5)]
)
def test_reordering_changes_no_output(axis, layer):
    x, w = sample_tensors(layer, "normal", "normal", 1)
    order = channel_order(layer, w, axis)
    x2, w2 = apply_order(layer, x, w, order, axis)
    (g,), (g2,) = layer_gemms(layer, x, w), layer_gemms(layer, x2, w2)
    y = g.x.astype(np.int64) @ g.w.astype(np.int64)
    y2 = g2.x.astype(np.int64) @ g2.w.astype(np.int64)
    assert np.array_equal(y2, y[:, order] if axis == "out" else y)


def test_reorder_saves_w_flips_where_weights_stream_over_channels():
    # input stationary streams output channels through each PE's w register
    layer = Linear("fc", 32, 48)
    x, w = sample_tensors(layer, "half-normal", "laplace", 4)
    x = np.clip(x, 0, 127)
    c = compare(layer, x, w, "8x8", "is", reorder="out")
    assert c.method.mean("w") < 0.9 * c.baseline.mean("w")
    assert c.method.mean("x") == c.baseline.mean("x")  # stationary inputs are not reordered
    d = c.to_dict()
    assert d["reorder"] == "out" and d["saving"] == pytest.approx(c.saving) and c.saving > 0


def test_gating_and_sign_magnitude_report_savings():
    layer = Conv2d("c", 4, 8, 3, (6, 6), padding=1)
    x, w = sample_tensors(layer, "half-normal", "normal", 5)
    x = np.clip(x, 0, 127)
    gated = compare(layer, x, w, "4x4", "os", gating=True)
    assert gated.method.mean("product") < gated.baseline.mean("product")
    sm = compare(layer, x, w, "4x4", "os", encoding="sign-magnitude")
    assert sm.method.mean("acc") == sm.baseline.mean(
        "acc"
    )  # the accumulator stays two's complement
    assert sm.method.mean("product") != sm.baseline.mean("product")


def test_grouped_layers_are_not_reordered():
    layer = Conv2d("dw", 4, 4, 3, (5, 5), padding=1, groups=4)
    with pytest.raises(InputError, match="reorder: channels of grouped convolutions"):
        channel_order(layer, np.zeros((4, 1, 3, 3), dtype=int), "out")
    with pytest.raises(InputError, match="reorder: expected one of out, in"):
        channel_order(Linear("fc", 3, 3), np.zeros((3, 3), dtype=int), "rows")
