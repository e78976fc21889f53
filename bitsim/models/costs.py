"""Analytic hardware cost of a layer, every metric named with its paper and equation.

Units: MACs and operations are counts per inference (batch 1); ACE, ACE_v2 and BOPS are in their
papers' units (full-adder equivalents and bit operations); memory traffic is in bits.

* ACE (PokeBNN, Zhang et al. 2022, sec. 3 and appendix 1.1): an integer MAC costs b_a * b_w; an
  elementwise i-bit integer add costs i, an i x j integer multiply i * j; a floating-point
  elementwise op "without optimisation" costs 16 * 16 = 256 in bf16, which we generalise to
  bits ** 2 for any float format; shifts by constants are free ("negligible energy").
* ACE_v2 (PikeLPN, Neseem et al. 2024, sec. 3.2 and supplement 1-2): MACs as ACE; an i x j
  elementwise multiply costs i * j - max(i, j) (Dadda tree + ripple-carry adder), an integer
  add max(i, j), a floating-point add 6 * max(i, j), a shift of an i-bit value by a j-bit amount
  i * log2(j) / 5. Floating-point multiplies are not covered by PikeLPN; bitsim charges the
  mantissa multiply (m+1)(m+1) - (m+1) plus the exponent add e (our extension).
* BOPS, two definitions by name (``BOPS_DEFINITIONS``, argument ``bops``):

  - ``hcm`` (Baskin et al. 2021, HCM eq. 1; also used by the UNIQ/NICE line of work it cites):
    a convolution costs m n k^2 (b_a b_w + b_a + b_w + log2(n k^2)) bit operations per output
    position, n the input channels per group (the multiplier, and an accumulator as wide as the
    product plus the carry bits); elementwise: n * m for an n x m multiply, max(n, m) for an add
    or a compare. Elementwise layers are made of these basic operations (``element_ops``):
    BatchNorm (inference) is a multiply by a constant and an add, ReLU a compare, ReLU6 two,
    max pooling window - 1 compares, average pooling window - 1 adds and a multiply (a shift for
    2^n).
  - ``qonnx`` (QONNX ``inference_cost`` / FINN, Pappalardo et al. 2022): MACs x b_a x b_w for
    convolution and linear layers (equal to ACE); elementwise layers (Add, Mul, BatchNorm,
    pooling, ReLU, Clip) cost 0, as in QONNX's list of zero-cost ops. QONNX also discounts
    zero weights (``discount_sparsity``); bitsim counts dense layers.
* Nonlinear functions of transformers (exp, sigmoid, SiLU, GELU, softmax, LayerNorm) are made of
  the basic operations of their integer-only kernels in I-BERT (Kim et al. 2021, "I-BERT:
  Integer-only BERT Quantization", ICML, sec. 3.3-3.5 and Algorithms 2-4): second-order
  polynomials for exp and erf, per-row max, sum and reciprocal for softmax, per-row mean and
  variance for LayerNorm (``element_ops`` lists them). Work done once per row (LayerNorm's
  integer square root, softmax's reciprocal of the sum) is amortised over the row and not
  counted; a division by a per-element value is charged as one multiply (our simplification).
  Sigmoid, which I-BERT does not cover, is 1 / (1 + exp(-x)): i-exp, an add and a division;
  SiLU x sigmoid(x) and tanh 2 sigmoid(2x) - 1 follow from it.
* Compute cost (WRPN, Mishra et al. 2018; HCM eq. 3): MACs x (b_a + b_w). Elementwise ops: 0.
* Memory traffic (HCM sec. 3.3): bits of weights (and bias) read + input activations read +
  output activations written. OPS (HCM sec. 4): n m (k^2 + 1) operations per output pixel of a
  convolution, one per elementwise op (window per pooling output); OPS/bit = OPS / memory bits.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import List, Sequence

from bitsim._core.checks import InputError, MissingExtra, check_choice
from bitsim.sim.formats import FloatFormat

__all__ = [
    "ADDITIVE",
    "BIAS_BITS",
    "BOPS_DEFINITIONS",
    "LayerCost",
    "ace_elementwise",
    "ace_v2_elementwise",
    "element_ops",
    "layer_cost",
    "network_cost",
    "to_dataframe",
    "total_cost",
]

BIAS_BITS = 32  # a bias is added to the accumulator: stored at 32 bits unless stated
BOPS_DEFINITIONS = ("hcm", "qonnx")


@dataclass
class LayerCost:
    """Cost of one layer (or, for totals, of several)."""

    name: str
    kind: str
    shape: str
    macs: int  # multiply-accumulates
    k: int  # dot-product length (0 for elementwise layers)
    elementwise_ops: int
    ace: float
    ace_v2: float
    bops: float  # by the definition bops_definition
    compute_cost: int  # MACs x (b_a + b_w), bit-MACs
    weight_bits: int
    input_bits: int
    output_bits: int
    ops: int  # HCM operations
    bops_definition: str = "hcm"

    @property
    def memory_bits(self) -> int:
        return self.weight_bits + self.input_bits + self.output_bits

    @property
    def ops_per_bit(self) -> float:
        return self.ops / self.memory_bits if self.memory_bits else 0.0

    def to_dict(self) -> dict:
        d = asdict(self)
        d["memory_bits"] = self.memory_bits
        d["ops_per_bit"] = self.ops_per_bit
        return d


ADDITIVE = [
    f.name
    for f in fields(LayerCost)
    if f.name not in ("name", "kind", "shape", "k", "bops_definition")
]


def ace_elementwise(op: str, a, b) -> float:
    """ACE of one elementwise operation on operands of formats a and b (PokeBNN app. 1.1)."""
    if a.is_float or b.is_float:
        return 0.0 if op == "shift" else float(max(a.bits, b.bits) ** 2)
    if op == "mul":
        return float(a.bits * b.bits)
    if op == "shift":
        return 0.0
    return float(max(a.bits, b.bits))  # add, compare (a subtraction)


def _float_mul_v2(f: FloatFormat) -> float:
    m = f.mantissa + 1
    return m * m - m + f.exponent


def ace_v2_elementwise(op: str, a, b) -> float:
    """ACE_v2 of one elementwise operation (PikeLPN supplement, secs. 1-2 and footnote 1)."""
    if op == "mul":
        if a.is_float or b.is_float:
            return _float_mul_v2(a if a.is_float else b)
        return float(a.bits * b.bits - max(a.bits, b.bits))
    if op == "shift":
        return a.bits * math.log2(b.bits) / 5 if b.bits > 1 else 0.0
    if a.is_float or b.is_float:
        return 6.0 * max(a.bits, b.bits)
    return float(max(a.bits, b.bits))


def _bops_elementwise(op: str, a, b) -> float:
    if op == "mul":
        return float(a.bits * b.bits)
    if op == "shift":
        return 0.0
    return float(max(a.bits, b.bits))


def _exp_ops(a, b):
    """I-BERT's i-exp (Algorithm 2): z = floor(-x / ln 2) (multiply by a constant), p = x + z ln 2
    (multiply by a constant, add), L(p) = a (p + b)^2 + c (add, square, multiply by a constant,
    add), then a right shift by z."""
    return [("mul", a, b, 3), ("mul", a, a, 1), ("add", a, a, 3), ("shift", a, b, 1)]


def element_ops(layer):
    """(op, a format, b format, count) of the basic operations of one output element."""
    a, b = layer.a_format, layer.b_format
    if layer.op == "exp":
        return _exp_ops(a, b)
    if layer.op in ("sigmoid", "silu", "tanh"):
        # sigmoid = 1 / (1 + exp(-x)); SiLU multiplies it by x; tanh(x) = 2 sigmoid(2x) - 1
        # (two shifts and an add more)
        extra = {"sigmoid": [], "silu": [("mul", a, a, 1)]}.get(
            layer.op, [("shift", a, b, 2), ("add", a, a, 1)]
        )
        return _exp_ops(a, b) + [("add", a, a, 1), ("mul", a, a, 1)] + extra
    if layer.op == "gelu":
        # i-GELU (I-BERT Algorithm 3): x / sqrt 2 (multiply by a constant); i-erf: sign and |x|,
        # clip at -b (2 compares), (+ b) add, square, times a (constant), + c add; 1 + erf add;
        # x * (1 + erf) multiply; / 2 shift.
        return [
            ("mul", a, b, 2),
            ("mul", a, a, 2),
            ("compare", a, a, 2),
            ("add", a, a, 3),
            ("shift", a, b, 1),
        ]
    if layer.op == "softmax":
        # I-BERT sec. 3.4: row max (a compare per element), x - max (add), i-exp, row sum (add),
        # division by the sum (a multiply).
        return [("compare", a, a, 1), ("add", a, a, 2), ("mul", a, a, 1)] + _exp_ops(a, b)
    if layer.op == "layernorm":
        # I-BERT sec. 3.5: row mean (add), x - mean (add), square and row sum (multiply, add),
        # division by the standard deviation (a multiply), affine gamma x + beta (a multiply by
        # a constant and an add).
        return [("add", a, a, 4), ("mul", a, a, 2), ("mul", a, b, 1)]
    if layer.op == "avgpool":
        shift = layer.window & (layer.window - 1) == 0
        return [("add", a, a, layer.window - 1), ("shift" if shift else "mul", a, b, 1)]
    if layer.op == "sum":
        return [("add", a, a, layer.window - 1)]
    if layer.op == "maxpool":
        return [("compare", a, a, layer.window - 1)]
    if layer.op == "clip":
        return [("compare", a, b, 2)]
    if layer.op == "batchnorm":
        return [("mul", a, b, 1), ("add", a, a, 1)]
    return [(layer.op, a, b, 1)]


def layer_cost(layer, bops: str = "hcm") -> LayerCost:
    """Every analytic metric of one Conv2d, Linear, MatMul or Elementwise layer; ``bops``
    names the definition of BOPS ('hcm' or 'qonnx', module docstring)."""
    check_choice(bops, "bops", BOPS_DEFINITIONS)
    if layer.kind == "elementwise":
        parts = element_ops(layer)
        per = [
            sum(n * f(op, a, b) for op, a, b, n in parts)
            for f in (ace_elementwise, ace_v2_elementwise, _bops_elementwise)
        ]
        if bops == "qonnx":
            per[2] = 0.0
        ops_each = sum(n for *_, n in parts)
        return LayerCost(
            layer.name,
            layer.kind,
            layer.shape,
            0,
            0,
            layer.count * ops_each,
            layer.count * per[0],
            layer.count * per[1],
            layer.count * per[2],
            0,
            0,
            layer.input_elements * layer.a_format.bits,
            layer.output_elements * layer.output_format.bits,
            layer.count * ops_each,
            bops,
        )
    ba, bw = layer.a_format.bits, layer.w_format.bits
    kh, kw = layer.kernel_hw
    n = layer.in_channels // layer.groups
    m, positions = layer.out_channels, layer.positions
    mac_ace = ba * bw
    if bops == "hcm":
        bops_value = positions * m * n * kh * kw * (ba * bw + ba + bw + math.log2(n * kh * kw))
    else:
        bops_value = float(layer.macs * ba * bw)
    bias_bits = layer.out_channels * BIAS_BITS if layer.bias else 0
    input_bits = layer.input_elements * ba
    if layer.kind == "matmul":  # the right operand is an activation read from memory too
        input_bits += layer.right_elements * bw
    return LayerCost(
        layer.name,
        layer.kind,
        layer.shape,
        layer.macs,
        layer.k,
        0,
        float(layer.macs * mac_ace),
        float(layer.macs * mac_ace),
        bops_value,
        layer.macs * (ba + bw),
        layer.weights * bw + bias_bits,
        input_bits,
        layer.output_elements * layer.output_format.bits,
        positions * n * m * (kh * kw + 1),
        bops,
    )


def total_cost(costs: Sequence[LayerCost], name: str = "total") -> LayerCost:
    """The sum of the additive metrics of several layers (k: the largest), all with one BOPS
    definition."""
    definitions = sorted({c.bops_definition for c in costs})
    if len(definitions) > 1:
        raise InputError(
            f"costs: expected one BOPS definition, found {', '.join(definitions)}: "
            f"BOPS of different definitions do not add"
        )
    sums = {f: sum(getattr(c, f) for c in costs) for f in ADDITIVE}
    return LayerCost(
        name=name,
        kind="total",
        shape="",
        k=max((c.k for c in costs), default=0),
        **sums,
        bops_definition=definitions[0] if definitions else "hcm",
    )


def network_cost(layers, bops: str = "hcm") -> List[LayerCost]:
    """layer_cost of every layer (BOPS by the definition ``bops``), then the totals row."""
    costs = [layer_cost(layer, bops) for layer in layers]
    return costs + [total_cost(costs)]


def to_dataframe(costs: Sequence[LayerCost]):
    """A pandas DataFrame with one row per cost (needs the optional pandas dependency)."""
    try:
        import pandas as pd
    except ImportError:
        raise MissingExtra("to_dataframe needs pandas: pip install 'bitsim[pandas]'") from None
    return pd.DataFrame([c.to_dict() for c in costs])
