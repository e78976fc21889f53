"""Analytic metrics against hand-computed values and the published numbers."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bitsim.models.costs import (
    ace_elementwise,
    ace_v2_elementwise,
    layer_cost,
    network_cost,
    total_cost,
)
from bitsim.models.layers import Conv2d, Elementwise, Linear
from bitsim.sim.formats import BF16, FP16, FP32, FloatFormat, IntFormat, parse_format

I8, I16 = IntFormat(8), IntFormat(16)


def test_pokebnn_appendix_numbers():
    """PokeBNN appendix 1.1: 81.9 M adds + 38.4 M multiplies in bf16 -> 30.8e9 ACE; the adds in
    int16 -> 1.3e9; 17.9 M int16 x int8 BatchNorm multiplies -> 2.3e9; total 3.6e9."""
    adds = Elementwise("adds", "add", 81_900_000, BF16, BF16)
    muls = Elementwise("muls", "mul", 38_400_000, BF16, BF16)
    bf16 = total_cost([layer_cost(adds), layer_cost(muls)]).ace
    assert round(bf16 / 1e9, 1) == 30.8
    int_adds = layer_cost(Elementwise("adds", "add", 81_900_000, I16, I16)).ace
    bn_muls = layer_cost(Elementwise("bn", "mul", 17_900_000, I16, I8)).ace
    assert round(int_adds / 1e9, 1) == 1.3 and round(bn_muls / 1e9, 1) == 2.3
    assert round((int_adds + bn_muls) / 1e9, 1) == 3.6


@pytest.mark.parametrize(
    "op,a,b,ace,ace_v2",
    [
        ("mul", IntFormat(4), IntFormat(4), 16, 12),  # i*j, i*j - max(i, j)
        ("mul", IntFormat(16), IntFormat(8), 128, 112),
        ("add", IntFormat(16), IntFormat(8), 16, 16),  # i, max(i, j)
        ("add", BF16, BF16, 256, 96),  # 16*16, 6 * max(i, j)
        ("add", FP32, FP32, 1024, 192),
        ("shift", IntFormat(16), IntFormat(4), 0, 16 * 2 / 5),  # free, i log2(j) / 5
        ("compare", IntFormat(8), IntFormat(8), 8, 8),
        ("mul", FP16, FP16, 256, 11 * 11 - 11 + 5),  # extension: mantissa product + exponent
    ],
)
def test_elementwise_op_costs(op, a, b, ace, ace_v2):
    assert ace_elementwise(op, a, b) == pytest.approx(ace)
    assert ace_v2_elementwise(op, a, b) == pytest.approx(ace_v2)


def test_pikelpn_multiplier_adders_match_dadda_plus_ripple():
    """PikeLPN supp. 1: an i x i multiply needs i^2 - 3i + 2 (Dadda) + 2i - 2 (RCA) adders."""
    for i in range(2, 17):
        assert (
            ace_v2_elementwise("mul", IntFormat(i), IntFormat(i)) == i * i - 3 * i + 2 + 2 * i - 2
        )


def test_conv_metrics_by_hand():
    conv = Conv2d(
        "c",
        64,
        128,
        3,
        (56, 56),
        stride=2,
        padding=1,
        bias=True,
        a_format=IntFormat(4, False),
        w_format=IntFormat(2),
    )
    assert conv.output_hw == (28, 28) and conv.k == 64 * 9
    c = layer_cost(conv)
    macs = 28 * 28 * 128 * 576
    assert c.macs == macs and c.k == 576
    assert c.ace == macs * 8 and c.ace_v2 == macs * 8
    assert c.compute_cost == macs * 6
    assert c.bops == pytest.approx(28 * 28 * 128 * 64 * 9 * (8 + 4 + 2 + math.log2(576)))
    assert c.weight_bits == 128 * 576 * 2 + 128 * 32  # weights + 32-bit bias
    assert c.input_bits == 64 * 56 * 56 * 4 and c.output_bits == 128 * 28 * 28 * 4
    assert c.ops == 28 * 28 * 64 * 128 * 10
    assert c.ops_per_bit == pytest.approx(c.ops / (c.weight_bits + c.input_bits + c.output_bits))


def test_depthwise_and_grouped_convolutions():
    dw = Conv2d("dw", 32, 32, 3, 112, padding=1, groups=32)
    assert dw.k == 9 and dw.macs == 112 * 112 * 32 * 9 and dw.weights == 32 * 9
    c = layer_cost(dw)
    assert c.bops == pytest.approx(112 * 112 * 32 * 1 * 9 * (64 + 16 + math.log2(9)))
    assert c.ops == 112 * 112 * 32 * 10
    g = Conv2d("g", 64, 128, 3, 8, padding=1, groups=4)
    assert g.k == 16 * 9 and g.macs == 64 * 128 * 144


def test_linear_and_elementwise_by_hand():
    fc = layer_cost(Linear("fc", 512, 1000))
    assert (fc.macs, fc.k, fc.ops) == (512_000, 512, 512 * 1000 * 2)
    assert fc.bops == pytest.approx(1000 * 512 * (64 + 16 + 9))
    add = layer_cost(Elementwise("res", "add", 1000, I8, I8, tensors=2))
    assert (add.ace, add.ace_v2, add.bops, add.ops) == (8000, 8000, 8000, 1000)
    assert add.input_bits == 2 * 1000 * 8 and add.output_bits == 8000 and add.macs == 0
    pool = layer_cost(Elementwise("avg", "avgpool", 10, I8, I8, window=9))
    assert pool.ace == 10 * (8 * 8 + 8 * 8) and pool.ops == 10 * 9
    pool4 = layer_cost(Elementwise("avg", "avgpool", 10, I8, IntFormat(2), window=4))
    assert pool4.ace == 10 * 3 * 8 and pool4.ace_v2 == pytest.approx(10 * (3 * 8 + 8 * 1 / 5))


@pytest.mark.parametrize(
    "kwargs,pattern",
    [
        (dict(in_channels=3, out_channels=8, kernel=5, input_hw=4), "input_hw: a 5x5 kernel"),
        (
            dict(in_channels=6, out_channels=8, kernel=3, input_hw=8, groups=4),
            "groups: expected a divisor",
        ),
        (dict(in_channels=0, out_channels=8, kernel=3, input_hw=8), "in_channels: .* found 0"),
        (
            dict(in_channels=3, out_channels=8, kernel=0, input_hw=8),
            "kernel: expected integers >= 1",
        ),
        (
            dict(in_channels=3, out_channels=8, kernel=3, input_hw=8, a_format="int0"),
            "a_format: format",
        ),
    ],
)
def test_impossible_layers(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        Conv2d("bad", **kwargs)


def test_formats_parse():
    assert parse_format("uint4") == IntFormat(4, False) and parse_format("int8") == IntFormat(8)
    assert parse_format("bf16") == BF16 and parse_format("e5m10") == FloatFormat(5, 10)
    assert FP32.bits == 32 and BF16.bits == 16
    with pytest.raises(ValueError, match="format: expected a name"):
        parse_format("int")


widths = st.integers(1, 16)


@given(widths, widths, widths, widths)
def test_metrics_are_monotone_in_bit_widths(a1, w1, a2, w2):
    conv = Conv2d("c", 16, 32, 3, 10, padding=1)
    lo = layer_cost(conv.with_formats(IntFormat(min(a1, a2)), IntFormat(min(w1, w2))))
    hi = layer_cost(conv.with_formats(IntFormat(max(a1, a2)), IntFormat(max(w1, w2))))
    for metric in (
        "ace",
        "ace_v2",
        "bops",
        "compute_cost",
        "weight_bits",
        "input_bits",
        "output_bits",
    ):
        assert getattr(lo, metric) <= getattr(hi, metric), metric
    for op in ("add", "mul", "shift", "compare"):
        small, big = IntFormat(min(a1, a2)), IntFormat(max(a1, a2))
        assert ace_elementwise(op, small, IntFormat(w1)) <= ace_elementwise(op, big, IntFormat(w1))
        assert ace_v2_elementwise(op, small, IntFormat(w1)) <= ace_v2_elementwise(
            op, big, IntFormat(w1)
        )


@given(
    st.lists(
        st.tuples(
            st.integers(1, 64),
            st.integers(1, 64),
            st.integers(1, 3),
            st.integers(3, 20),
            st.integers(2, 8),
        ),
        min_size=1,
        max_size=5,
    )
)
def test_totals_are_additive(specs):
    layers = [
        Conv2d(
            f"l{i}", cin, cout, k, hw, padding=k // 2, a_format=IntFormat(b), w_format=IntFormat(b)
        )
        for i, (cin, cout, k, hw, b) in enumerate(specs)
    ]
    costs = network_cost(layers)
    total = costs[-1]
    for metric in ("macs", "ace", "ace_v2", "bops", "compute_cost", "memory_bits", "ops"):
        assert getattr(total, metric) == pytest.approx(sum(getattr(c, metric) for c in costs[:-1]))
    halves = total_cost([total_cost(costs[:1]), total_cost(costs[1:-1])])
    assert halves.bops == pytest.approx(total.bops) and halves.macs == total.macs


def test_to_dict_and_dataframe():
    c = layer_cost(Linear("fc", 8, 4))
    d = c.to_dict()
    assert d["macs"] == 32 and d["memory_bits"] == c.memory_bits and "ops_per_bit" in d
    from bitsim.models.costs import to_dataframe  # pandas comes with the test extra

    assert list(to_dataframe([c])["macs"]) == [32]


def test_bops_by_name_hcm_and_qonnx():
    conv = Conv2d("c", 64, 128, 3, 56, padding=1, a_format=IntFormat(4), w_format=IntFormat(2))
    hcm, qonnx = layer_cost(conv), layer_cost(conv, "qonnx")
    assert hcm.bops_definition == "hcm" and qonnx.bops_definition == "qonnx"
    assert hcm.bops == pytest.approx(56 * 56 * 128 * 64 * 9 * (8 + 4 + 2 + math.log2(576)))
    assert qonnx.bops == conv.macs * 4 * 2 == qonnx.ace  # QONNX inference_cost / FINN
    add = Elementwise("res", "add", 1000, I8, I8, tensors=2)
    assert layer_cost(add).bops == 8000 and layer_cost(add, "qonnx").bops == 0  # zero-cost op
    fc = Linear("fc", 512, 1000)
    total = network_cost([conv, add, fc], bops="qonnx")[-1]
    assert total.bops == conv.macs * 8 + fc.macs * 64 and total.bops_definition == "qonnx"
    with pytest.raises(ValueError, match="costs: expected one BOPS definition, found hcm, qonnx"):
        total_cost([hcm, qonnx])
    with pytest.raises(ValueError, match="bops: expected one of"):
        layer_cost(conv, "bops")
