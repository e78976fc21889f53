"""simulate_dataflow against a plain-Python oracle that steps every register of every PE
through the folds, for each dataflow, with and without zero-gating and sign-magnitude."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bitsim._core.checks import InputError
from bitsim.dataflow.mapping import Array, map_layer
from bitsim.dataflow.operands import layer_gemms, sample_tensors
from bitsim.dataflow.simulate import simulate_dataflow
from bitsim.dataflow.streams import fold_operands
from bitsim.models.layers import Conv2d, Linear, MatMul
from tests.util import BACKENDS


def sm(v, bits):
    return (1 << (bits - 1)) | -v if v < 0 else v


def oracle(layer, x, w, array, dataflow, acc_bits, gating, encoding):
    """Total flips per site, stepping registers one value at a time."""
    m = map_layer(layer, array, dataflow)
    xb, wb = layer.a_format.bits, layer.w_format.bits
    widths = {"x": xb, "w": wb, "product": xb + wb, "psum": acc_bits}
    widths.update(acc=acc_bits, addend=acc_bits, carry=acc_bits)
    mask = (1 << acc_bits) - 1

    def carries(a, b):  # the adder's carry out of each bit position
        a, b = a & mask, b & mask
        return ((a + b) ^ a ^ b) >> 1

    enc = (lambda v, b: sm(v, b)) if encoding == "sign-magnitude" else (lambda v, b: v)
    regs, flips, sums = {}, {}, {}

    def put(pe, site, value):
        mask = (1 << widths[site]) - 1
        old = regs.get((pe, site), 0)
        flips[site] = flips.get(site, 0) + bin((value ^ old) & mask).count("1")
        regs[pe, site] = value & mask

    for g in layer_gemms(layer, x, w):
        for fold in m.all_folds():
            xv, wv = fold_operands(g, m, fold)
            for r in range(fold.rows_used):
                for c in range(fold.cols_used):
                    first = True
                    for t in range(xv.shape[0]):
                        a, b = int(xv[t, r, c]), int(wv[t, r, c])
                        above = sum(int(xv[t, q, c]) * int(wv[t, q, c]) for q in range(r))
                        if dataflow != "os":
                            put((r, c), "psum", above + a * b)
                        if gating and (a == 0 or b == 0):
                            continue  # the MAC's registers and the adder's inputs hold
                        put((r, c), "x", enc(a, xb))
                        put((r, c), "w", enc(b, wb))
                        put((r, c), "product", enc(a * b, xb + wb))
                        put((r, c), "addend", a * b)
                        if dataflow == "os":  # the adder takes the PE's own accumulator
                            first_input = 0 if first else sums[r, c]
                            sums[r, c] = first_input + a * b
                            put((r, c), "acc", sums[r, c])
                        else:  # the adder takes the partial sum from the PE above
                            first_input = above
                        put((r, c), "carry", carries(first_input, a * b))
                        first = False
    return flips


CASES = [
    (Conv2d("c", 3, 5, 3, (5, 5), padding=1, stride=2), "3x4"),
    (Conv2d("g", 4, 4, 3, (4, 4), padding=1, groups=2), "2x3"),
    (Linear("fc", 9, 7), "4x4"),
    (MatMul("mm", 5, 6, 7), "3x2"),
]


@pytest.mark.parametrize("layer, array", CASES, ids=[c[0].name for c in CASES])
@pytest.mark.parametrize("dataflow", ["ws", "os", "is"])
@pytest.mark.parametrize("gating, encoding", [(False, "twos"), (True, "sign-magnitude")])
def test_equal_to_oracle(layer, array, dataflow, gating, encoding):
    x, w = sample_tensors(layer, "laplace", "normal", 3)
    x, w = np.clip(x, -127, 127), np.clip(w, -127, 127)  # sign-magnitude holds +-127
    x[..., 0] = 0  # some zeros for the gating
    r = simulate_dataflow(
        layer, x, w, array, dataflow, acc_bits=20, gating=gating, encoding=encoding, max_folds=None
    )
    expected = oracle(layer, x, w, Array.parse(array), dataflow, 20, gating, encoding)
    assert r.flips == {s: expected.get(s, 0) for s in r.sites}
    assert r.macs_simulated == layer.macs and not r.sampled
    assert r.ci95["total"] == 0.0
    assert int(r.pe_flips.sum()) == sum(r.flips.values())


@pytest.mark.parametrize("backend, simd", BACKENDS)
def test_backends_agree(backend, simd):
    layer = Conv2d("c", 4, 6, 3, (6, 6), padding=1)
    x, w = sample_tensors(layer, "uniform", "uniform", 0)
    base = simulate_dataflow(layer, x, w, "4x4", "os")
    assert (
        simulate_dataflow(layer, x, w, "4x4", "os", backend=backend, simd=simd).flips == base.flips
    )


def test_sampling_is_seeded_and_thread_independent():
    layer = Conv2d("c", 8, 16, 3, (12, 12), padding=1)
    x, w = sample_tensors(layer, "half-normal", "normal", 5)
    full = simulate_dataflow(layer, x, w, "4x4", "ws")
    one = simulate_dataflow(layer, x, w, "4x4", "ws", max_folds=12, seed=7)
    two = simulate_dataflow(layer, x, w, "4x4", "ws", max_folds=12, seed=7, threads=2)
    assert one.flips == two.flips and one.folds_simulated == 12 and one.sampled
    assert one.ci95["total"] > 0
    assert abs(one.mean() - full.mean()) < 3 * one.ci95["total"]
    other = simulate_dataflow(layer, x, w, "4x4", "ws", max_folds=12, seed=8)
    assert other.flips != one.flips


def test_bad_input():
    layer = Linear("fc", 4, 3)
    x, w = np.zeros(4, dtype=int), np.zeros((3, 4), dtype=int)
    with pytest.raises(InputError, match=r"x: expected shape \(4,\), found \(5,\)"):
        simulate_dataflow(layer, np.zeros(5, dtype=int), w, "2x2")
    with pytest.raises(
        InputError, match=r"w: expected integers in \[-128, 127\].*300 at index \(1, 2\)"
    ):
        w2 = w.copy()
        w2[1, 2] = 300
        simulate_dataflow(layer, x, w2, "2x2")
    with pytest.raises(InputError, match="encoding: expected one of twos, sign-magnitude"):
        simulate_dataflow(layer, x, w, "2x2", encoding="ones")
    with pytest.raises(InputError, match="x: sign-magnitude codes of 8 bits hold"):
        simulate_dataflow(layer, x - 128, w, "2x2", encoding="sign-magnitude")


def test_pann_power_and_energy():
    layer = Linear("fc", 8, 8)
    x, w = sample_tensors(layer, "uniform", "uniform", 1)
    r = simulate_dataflow(layer, x, w, "4x4", "os", energy_per_flip=2e-15)
    assert r.pann_power == sum(r.flips.values())  # every fold ran: flips per inference
    assert r.energy_j == pytest.approx(2e-15 * r.pann_power)
    assert r.to_dict()["energy_j"] == r.energy_j
    with pytest.raises(InputError, match="energy_per_flip: expected joules >= 0"):
        simulate_dataflow(layer, x, w, "4x4", "os", energy_per_flip=-1)


@given(
    cin=st.integers(1, 3),
    cout=st.integers(1, 4),
    k=st.integers(1, 3),
    hw=st.integers(3, 5),
    stride=st.integers(1, 2),
    rows=st.integers(1, 4),
    cols=st.integers(1, 4),
    dataflow=st.sampled_from(["ws", "os", "is"]),
    gating=st.booleans(),
    max_folds=st.sampled_from([None, 2]),
    seed=st.integers(0, 2**32),
)
@settings(max_examples=25)
def test_equal_to_oracle_for_any_shape(
    cin, cout, k, hw, stride, rows, cols, dataflow, gating, max_folds, seed
):
    layer = Conv2d("c", cin, cout, k, (hw, hw), stride=stride, padding=k // 2, w_format="int4")
    x, w = sample_tensors(layer, "normal", "uniform", seed)
    r = simulate_dataflow(
        layer, x, w, Array(rows, cols), dataflow, acc_bits=16, gating=gating, max_folds=None
    )
    expected = oracle(layer, x, w, Array(rows, cols), dataflow, 16, gating, "twos")
    assert r.flips == {s: expected.get(s, 0) for s in r.sites}
    sampled = simulate_dataflow(
        layer,
        x,
        w,
        Array(rows, cols),
        dataflow,
        acc_bits=16,
        gating=gating,
        max_folds=max_folds,
        seed=seed % 7,
        threads=2,
    )
    assert sampled.folds_simulated == min(max_folds or 10**9, r.mapping.folds)
    if not sampled.sampled:
        assert sampled.flips == r.flips
