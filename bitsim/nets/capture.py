"""Real operand streams: run a model on real inputs and capture, layer by layer, the integer
operands of every convolution, transposed convolution, linear layer, matrix product and einsum.

``capture(model, inputs)`` exports a PyTorch model (``bitsim.nets.pytorch``), runs the exported
graph on every example of ``inputs`` in lock step, node by node, and yields one ``Captured`` per
layer as soon as its operands exist, freeing every tensor after its last use: memory holds the
live activations of the forward passes and one layer's operands, never the whole network's
tensors. ``capture_onnx`` runs an ONNX graph with onnxruntime once per layer, fetching only
that layer's operands. ``pe_streams`` then gathers only the sampled outputs' operands (no
im2col of the whole layer), so the streams grow with the sample, not with the layer.

Quantization: the graph's own, where it has one. An operand that the graph quantizes (PT2E's
quantize/dequantize_per_tensor, dequantize_per_channel, fake_quantize_per_tensor/channel_affine;
ONNX QuantizeLinear/DequantizeLinear, QONNX Quant; the integer inputs of QLinearConv,
QLinearMatMul, QGemm, ConvInteger and MatMulInteger) is captured as exactly the graph's
integers, q = clamp(round(v / scale) + zero_point, quant_min, quant_max) (``GraphQuant``),
when the layer's format for it is the graph's (an override to another width re-quantizes it
as below); per-tensor quantization is followed through layout operations, per-channel only
straight into a convolution's or linear layer's weight. Zero points: the MAC multiplies the
stored integers, zero points included, as the integer kernels of gemmlowp and ONNX
QLinearMatMul/MatMulInteger do (sum (x - zx)(w - zw) = sum x w - zw sum x - zx sum w + K zx
zw: the MAC array computes sum x w; the other terms are per-output corrections added outside
it, like a bias); a convolution's padding is the activations' zero point (real 0). The
``Captured`` carries the zero points and scales, and ``source`` says which operands came from
the graph.

Tensors the graph leaves in floating point take bitsim's post-training quantization
(calibrated on the data itself, as onnxruntime's MinMax calibrator does): activations per
tensor over all examples, weights per output channel, both symmetric with zero point 0: a
b-bit signed value is round(v / s) clipped to [-(2^(b-1) - 1), 2^(b-1) - 1] with s = max|v| /
(2^(b-1) - 1); an unsigned one round(v / s) clipped to [0, 2^b - 1] with s = max(v) / (2^b - 1)
(negative values clip to 0: meant for activations after ReLU). The right operand of a MatMul
is an activation and is quantized like one. Biases are left out: the accumulator starts at 0
and a bias is added once per output, after the K products.

Processing-element order (``pe_streams``), the default order of issue 15: outputs in the
row-major order of the layer's output tensor (batch, output channel, row, column for a
(transposed) convolution; batch, token, output feature for a linear layer; batch, row, column
for a matrix product; for an einsum, its batch letters, then the left operand's free letters,
then the right one's), and for each output its K products in the order of the weight's
flattened axes (input channel, kernel row, kernel column; for an einsum, its summed letters in
the order of the left operand). A transposed convolution's output sums, per input channel, the
kernel taps of its phase (sub-pixel convolution): the taps t with (o + padding - t dilation)
divisible by the stride, in increasing order, padded to the most any output has (K =
``ConvTranspose2d.k``) with taps holding a real 0 weight; a tap whose input row or column is
outside the input multiplies the zero point. Attention's QK^T and AV are matrix products (AV's
left operand the attention probabilities). A sample of outputs (chosen at random with a seed,
kept in that order) bounds the stream; ``pe_streams`` states how many were taken.

Not captured: an einsum with a letter repeated in one operand or summed over in one operand
only, and a weight einsum with a batch letter (a weight per batch index).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from bitsim._core.checks import InputError, MissingExtra, check_int, check_seed
from bitsim.nets.pytorch import (
    Traced,
    _fn,
    _torch,
    declared_format,
    eval_mode,
    quant_range,
    quant_source,
    trace,
)
from bitsim.sim.formats import IntFormat

__all__ = [
    "Captured",
    "GraphQuant",
    "capture",
    "capture_onnx",
    "pe_streams",
    "quantize",
    "run_quantized",
    "zero_gated_flips",
]


@dataclass
class Captured:
    """One layer's integer operands over all examples.

    layer : Conv2d, ConvTranspose2d, Linear or MatMul
        With the formats the operands are integers of.
    x_values : numpy.ndarray
        The layer's input tensor with all examples stacked on the first axis: (N, C, H, W) for
        a (transposed) convolution, (P, K) for a linear layer (P = examples x positions), (B,
        m, K) for a matrix product (B = examples x batch): integers, or float activations whose
        per-tensor quantization ``x_deferred`` is applied by ``x`` (the integers) and by
        ``pe_streams`` to the values it gathers only.
    w : numpy.ndarray
        Integer weights: (out_channels, C / groups, kh, kw) for a convolution, (C, out_channels
        / groups, kh, kw) for a transposed one, (out_features, K), or for a matrix product the
        right operand as (B, n, K) (each row one output column's operands).
    x_scale, w_scale : float or numpy.ndarray
        Real value of one integer step (w_scale per output channel for calibrated weights).
    index : int
        Position of the layer in the model's layer list (``from_torch(...).layers``).
    x_zero, w_zero : int or numpy.ndarray
        Zero points: the integer of a real 0 (x_zero per example when the graph quantizes
        dynamically), the value of a convolution's padding.
    source : str
        Where the integers come from: 'graph' (both operands quantized by the model's own
        quantization nodes), 'calibrated' (bitsim's symmetric quantizer, both) or
        'graph+calibrated'.
    pads : (top, left) or None
        The padding a convolution applies before its first row and column when it differs from
        ``layer.padding`` (an ONNX Conv with asymmetric or SAME padding).
    """

    layer: Any
    x_values: np.ndarray
    w: np.ndarray
    x_scale: Any
    w_scale: Any
    index: int
    x_zero: Any = 0
    w_zero: Any = 0
    source: str = "calibrated"
    pads: Optional[Tuple[int, int]] = None
    x_deferred: Optional[_Deferred] = None

    @property
    def x(self) -> np.ndarray:
        """The integer activations (computed from ``x_values`` when their quantization is
        deferred)."""
        return self.x_values if self.x_deferred is None else self.x_deferred(self.x_values)

    @property
    def k(self) -> int:
        return int(self.layer.k)

    @property
    def outputs(self) -> int:
        """Dot products of the layer over all examples."""
        shape = self.x_values.shape
        if self.layer.kind in ("conv", "convtranspose"):
            oh, ow = self.layer.output_hw
            return shape[0] * self.layer.out_channels * oh * ow
        if self.layer.kind == "linear":
            return shape[0] * self.w.shape[0]
        return shape[0] * shape[1] * self.w.shape[1]

    def weight_rows(self) -> Optional[np.ndarray]:
        """The weights of each output channel, one row each (None for a matrix product of two
        activations): what the weight-aware accumulator bound reads."""
        if self.layer.kind in ("conv", "linear"):
            return self.w.reshape(len(self.w), -1)
        if self.layer.kind == "convtranspose":
            g, per = self.layer.groups, self.w.shape[1]
            w = self.w.reshape(g, -1, per, *self.w.shape[2:])  # (g, C / g, out / g, kh, kw)
            return np.moveaxis(w, 2, 1).reshape(g * per, -1)
        return None


@dataclass(frozen=True)
class GraphQuant:
    """An affine quantization a model's graph applies (QDQ, PT2E, fake quantization, QONNX
    Quant): the integer of a real value v is q = clamp(round(v / scale) + zero_point, lo, hi)
    (round half to even, as ONNX QuantizeLinear and torch), its real value (q - zero_point) x
    scale; ``scale`` and ``zero_point`` per index of ``axis`` when it is set. ``raw``: the
    operand already is the integer tensor (QLinear*, *Integer operators)."""

    scale: Any
    zero_point: Any
    lo: int
    hi: int
    axis: Optional[int] = None
    raw: bool = False

    @property
    def format(self) -> IntFormat:
        return IntFormat.of_range(self.lo, self.hi)

    def _along(self, v, ndim: int) -> np.ndarray:
        v = np.asarray(v, dtype=np.float64)
        if v.size == 1:
            return v.reshape(())
        if self.axis is None:  # QONNX Quant: numpy broadcasting
            return v
        shape = [1] * ndim
        shape[self.axis % ndim] = -1
        return v.reshape(shape)

    def integers(self, values) -> np.ndarray:
        """The graph's integers of a tensor (its dequantized values, or the integers when
        ``raw``), as int32."""
        v = _numpy(values)
        if self.raw:
            return v.astype(np.int32)
        v = v.astype(np.float64)
        q = np.round(v / self._along(self.scale, v.ndim)) + self._along(self.zero_point, v.ndim)
        return np.clip(q, self.lo, self.hi).astype(np.int32)

    def zero(self):
        """The zero point as a Python number or an array."""
        z = np.asarray(self.zero_point)
        return int(z.reshape(())) if z.size == 1 else z.astype(np.int64)


def _numpy(v) -> np.ndarray:
    return v.detach().cpu().numpy() if hasattr(v, "detach") else np.asarray(v)


def quantize(values, fmt: IntFormat, axis: Optional[int] = None):
    """(integers, scale): symmetric quantization of a float tensor (see the module docstring);
    ``axis``: one scale per index of that axis (per output channel), else one per tensor."""
    scale = _calibrate(values, fmt, axis)
    q = _apply(values, scale, fmt)
    return q, scale.flatten().numpy() if axis is not None else float(scale)


def _calibrate(values, fmt: IntFormat, axis: Optional[int] = None):
    """The scale tensor of ``quantize`` (keepdim along ``axis``)."""
    torch = _torch()
    v = values.detach().float()
    hi = fmt.hi if fmt.signed else 2**fmt.bits - 1
    if axis is None:
        lo_v, hi_v = torch.aminmax(v)
        peak = torch.maximum(-lo_v, hi_v) if fmt.signed else hi_v.clamp(min=0)
    else:
        dims = [d for d in range(v.dim()) if d != axis]
        peak = v.abs().amax(dim=dims, keepdim=True) if fmt.signed else v.clamp(min=0).amax(dims)
    return torch.where(peak > 0, peak / hi, torch.ones_like(peak))


def _apply(values, scale, fmt: IntFormat) -> np.ndarray:
    """The integers of ``quantize`` for a scale from ``_calibrate`` (int32)."""
    torch = _torch()
    v = values if hasattr(values, "detach") else torch.from_numpy(np.asarray(values))
    hi = fmt.hi if fmt.signed else 2**fmt.bits - 1
    q = torch.div(v.detach().float(), scale)
    return q.round_().clamp_(-hi if fmt.signed else 0, hi).to(torch.int32).numpy()


@dataclass(frozen=True)
class _Deferred:
    """Per-tensor quantization still to apply to float activations (``Captured.x_values``): the
    streams quantize only the values they gather."""

    scale: Any
    fmt: IntFormat

    def __call__(self, values) -> np.ndarray:
        return _apply(values, self.scale, self.fmt)


def _run(gm, examples: List[Tuple[tuple, dict]]) -> Iterator[Tuple[Any, List[Dict[Any, Any]]]]:
    """Evaluate the exported graph on every example in lock step, freeing each value after its
    last use; yield (node, envs) after each node (envs[example][node] -> value: the node's
    value and its inputs', which the caller may replace) and last for the output node."""
    from torch.fx.node import map_arg

    nodes = list(gm.graph.nodes)
    last: Dict[Any, int] = {}
    for i, node in enumerate(nodes):
        for used in node.all_input_nodes:
            last[used] = i
    flats = [_flat_inputs(gm, a, kw) for a, kw in examples]
    envs: List[Dict[Any, Any]] = [{} for _ in examples]
    placeholder = 0
    for i, node in enumerate(nodes):
        if node.op == "output":
            yield node, envs
            return
        for e, env in enumerate(envs):
            if node.op == "placeholder":
                env[node] = flats[e][placeholder]
            elif node.op == "get_attr":
                obj = gm
                for part in str(node.target).split("."):
                    obj = getattr(obj, part)
                env[node] = obj
            elif node.op == "call_function":
                args = map_arg(node.args, env.__getitem__)
                kwargs = map_arg(node.kwargs, env.__getitem__)
                env[node] = node.target(*args, **kwargs)
            else:  # call_module: the export's input guards
                env[node] = None
        placeholder += node.op == "placeholder"
        yield node, envs
        for used in node.all_input_nodes:
            if last.get(used) == i:
                for env in envs:
                    env.pop(used, None)


def _flat_inputs(gm, args: tuple, kwargs: dict) -> list:
    """The exported graph's placeholders' values: args, then kwargs in the export's order."""
    import torch.utils._pytree as pytree

    spec = gm.graph._codegen.pytree_info.in_spec
    keys = spec.child(1).context if kwargs else []
    return pytree.tree_leaves(args) + pytree.tree_leaves([kwargs[k] for k in keys])


def _attention_probs(node, env: Dict[Any, Any]):
    """The attention probabilities softmax(q k^T scale + mask) of a scaled_dot_product_attention
    node (its mask, causality, scale and grouped heads), from aten's reference kernel; a boolean
    mask (True: may attend) becomes 0 / -inf as scaled_dot_product_attention makes it."""
    torch = _torch()
    from torch.fx.node import map_arg

    args = map_arg(node.args, env.__getitem__)
    kwargs = map_arg(node.kwargs, env.__getitem__)
    q, k, v = args[:3]
    mask = args[3] if len(args) > 3 else kwargs.get("attn_mask")
    causal = args[5] if len(args) > 5 else kwargs.get("is_causal", False)
    if mask is not None and mask.dtype == torch.bool:  # True: may attend
        # as torch.nn.functional.scaled_dot_product_attention does before dispatching
        # (convert_boolean_attn_mask): the math kernel itself would add the booleans as 0/1
        mask = torch.zeros(mask.shape, dtype=q.dtype).masked_fill_(~mask, float("-inf"))
    _, probs = torch.ops.aten._scaled_dot_product_attention_math(
        q,
        k,
        v,
        mask,
        0.0,
        causal,
        scale=kwargs.get("scale"),
        enable_gqa=kwargs.get("enable_gqa", False),
    )
    if probs.shape[:-2] != q.shape[:-2]:
        probs = probs.expand(*q.shape[:-2], *probs.shape[-2:])
    return probs


def _rows_cols(xs: list, ys: list):
    """Left operands (..., m, K) and right ones as rows (..., n, K), one pair per example, with
    their batch axes broadcast and flattened: (B, m, K), (B, n, K) over all examples."""
    torch = _torch()
    rows, cols = [], []
    for x, y in zip(xs, ys):
        x = x if x.dim() > 1 else x[None]
        shape = torch.broadcast_shapes(x.shape[:-2], y.shape[:-2])
        rows.append(x.expand(*shape, *x.shape[-2:]).reshape(-1, *x.shape[-2:]))
        cols.append(y.expand(*shape, *y.shape[-2:]).reshape(-1, *y.shape[-2:]))
    return torch.cat(rows), torch.cat(cols)


def _einsum_operands(equation: str, a, b):
    """A two-operand einsum as a batched product: a as (batch, m, K), b as (batch, n, K), the
    letters of each group in the order they appear; None for what that form cannot hold (a
    letter repeated in one operand, or summed over in one operand only)."""
    try:
        lhs, out = equation.replace(" ", "").split("->")
        la, lb = lhs.split(",")
    except ValueError:
        return None
    if len(set(la)) != len(la) or len(set(lb)) != len(lb):
        return None
    batch = [c for c in la if c in lb and c in out]
    k = [c for c in la if c in lb and c not in out]
    m = [c for c in la if c not in lb]
    n = [c for c in lb if c not in la]
    if any(c not in out for c in m + n):
        return None

    def arrange(t, letters, groups):
        t = t.permute([letters.index(c) for c in groups[0] + groups[1] + groups[2]])
        sizes = [math.prod(t.shape[: len(groups[0])])]
        sizes.append(math.prod(t.shape[len(groups[0]) : len(groups[0]) + len(groups[1])]))
        return t.reshape(*sizes, -1)

    return arrange(a, la, (batch, m, k)), arrange(b, lb, (batch, n, k))


def _arrange(kind: str, role: str, xs: list, ys: list, equation: str = ""):
    """Per-example operands (tensors) in the layout of ``Captured``, or None (not captured).
    role: 'conv' and 'convtranspose' (x (1, C, H, W), weight), 'linear' (x (..., K), y (n,
    K)), 'linear_t' (y (K, n)), 'matmul' (x @ y), 'rows' (y already (..., n, K): attention's
    keys, and the transposed values of AV) or 'einsum'."""
    torch = _torch()
    if role in ("conv", "convtranspose"):
        return torch.cat(xs), ys[0]
    if role == "einsum":
        pairs = [_einsum_operands(equation, x, y) for x, y in zip(xs, ys)]
        if any(p is None for p in pairs):
            return None
        if kind == "linear":  # one weight matrix: no batch axis
            if any(p[1].shape[0] != 1 for p in pairs):
                return None
            return torch.cat([p[0].reshape(-1, p[0].shape[-1]) for p in pairs]), pairs[0][1][0]
        return torch.cat([p[0] for p in pairs]), torch.cat([p[1] for p in pairs])
    if role in ("linear", "linear_t"):
        w = ys[0] if role == "linear" else ys[0].transpose(0, 1)
        return torch.cat([x.reshape(-1, x.shape[-1]) for x in xs]), w
    if role == "matmul":  # columns of the right operand as rows of K values
        ys = [y.transpose(-1, -2) if y.dim() > 1 else y[None] for y in ys]
    return _rows_cols(xs, ys)


_ROLES = {"qk": "rows", "av": "matmul"}


def _example_operands(t: Traced, envs: List[Dict[Any, Any]]):
    """Float (x, right operand) of one traced layer, one pair per example."""
    xs = [env[t.x] for env in envs]
    if t.role == "av":
        xs = [_attention_probs(t.node, env) for env in envs]
    return xs, [env[t.y] for env in envs]


def _calibration_axis(layer) -> Optional[int]:
    """The axis of a calibrated weight's per-output-channel scales (None: per tensor)."""
    return {"conv": 0, "linear": 0, "convtranspose": 1}.get(layer.kind)


def _graph_integers(values: list, quants: Optional[list], fmt):
    """(integer tensors, scale, zero point) of an operand's examples when the graph quantizes
    it to the layer's format (one GraphQuant per example: dynamic quantization differs), else
    None. The zero point is one number, or one per example when they differ."""
    if not quants or quants[0] is None or quants[0].format != fmt:
        return None
    torch = _torch()
    ints = [torch.from_numpy(gq.integers(v)) for gq, v in zip(quants, values)]
    zeros = [gq.zero() for gq in quants]
    same = all(np.array_equal(z, zeros[0]) for z in zeros)
    return ints, quants[0].scale, zeros[0] if same else np.array([int(z) for z in zeros])


def _source(graph: Sequence[bool]) -> str:
    return "graph" if all(graph) else "graph+calibrated" if any(graph) else "calibrated"


def capture(
    model,
    inputs,
    *,
    layers: Optional[Sequence[Any]] = None,
    a_bits: int = 8,
    w_bits: int = 8,
    a_signed: bool = True,
    w_signed: bool = True,
) -> Iterator[Captured]:
    """Integer operands of every convolution, transposed convolution, linear layer, matrix
    product and einsum of a PyTorch model, layer by layer, on real inputs.

    Parameters
    ----------
    model : torch.nn.Module
    inputs : tensor, tuple of tensors or dict of keyword tensors
        Real examples, batch on the first axis (images, token ids and attention masks).
    layers : list of layers, optional
        The model's layers (``from_torch(model, inputs=inputs).layers``) with the formats to
        quantize to (``bitsim.nets.report.apply_precision``); default: a_bits/w_bits.
    a_bits, w_bits, a_signed, w_signed : int, bool
        Formats when ``layers`` is not given (a MatMul's right operand takes the activation
        format).

    Yields
    ------
    Captured
        In execution order (see the module docstring for what is left out).
    """
    for item in _walk(model, inputs, layers, a_bits, w_bits, a_signed, w_signed, False):
        if isinstance(item, Captured):
            yield item


def run_quantized(model, inputs, **formats) -> list:
    """The model's outputs, one per example, when every convolution and linear layer computes
    on its quantized operands (dequantized integers: fake quantization, the check that the
    quantization of ``capture`` keeps the model working). Matrix products of activations stay
    in floating point. ``formats``: ``layers`` or a_bits, w_bits, a_signed, w_signed as for
    ``capture``."""
    outputs: list = []
    for item in _walk(model, inputs, **formats, requantize=True):
        if not isinstance(item, Captured):
            outputs = item
    return outputs


def _quant_params(qnode, env: Dict[Any, Any]) -> GraphQuant:
    """The GraphQuant of a quantize, dequantize or fake-quantize node (its arguments' values)."""
    from torch.fx.node import map_arg

    args = map_arg(qnode.args, env.__getitem__)
    lo, hi = quant_range(qnode)
    per_channel = "per_channel" in _fn(qnode)
    scale, zero = _numpy(args[1]).astype(np.float64), _numpy(args[2]).astype(np.float64)
    return GraphQuant(scale, zero, int(lo), int(hi), int(args[3]) if per_channel else None)


def _graph_quant(t: Traced, node, operand: str):
    """The quantize/dequantize node whose integers a layer operand are, or None: per-tensor
    quantization through any layout operations, per-channel only for the weights of a
    convolution or linear layer fed straight from it (along output channels)."""
    if node is None or (operand == "x" and t.role == "av") or declared_format(node) is None:
        return None
    qnode, direct = quant_source(node)
    if "per_channel" in _fn(qnode):
        axis = qnode.args[3]
        if not (operand == "w" and direct and t.role in ("conv", "linear") and axis == 0):
            return None
    return qnode


def _walk(
    model,
    inputs,
    layers=None,
    a_bits: int = 8,
    w_bits: int = 8,
    a_signed: bool = True,
    w_signed: bool = True,
    requantize: bool = False,
):
    """capture's generator; with ``requantize`` conv and linear layers are recomputed on the
    dequantized operands, and the outputs come last."""
    torch = _torch()
    from torch.fx.node import map_arg

    examples = _examples(inputs)
    gm, traced = trace(model, inputs=inputs)
    if layers is not None:
        if [layer.name for layer in layers] != [t.layer.name for t in traced]:
            raise InputError("layers: expected the model's own layer list (from_torch)")
        for t, layer in zip(traced, layers):
            t.layer = layer
    else:
        fa = IntFormat(check_int(a_bits, "a_bits", 1, 32), bool(a_signed))
        fw = IntFormat(check_int(w_bits, "w_bits", 1, 32), bool(w_signed))
        for t in traced:
            if t.layer.kind != "elementwise":
                t.layer = t.layer.with_formats(fa, fa if t.layer.kind == "matmul" else fw, fa)
    by_node: Dict[Any, List[Tuple[int, Traced]]] = {}
    sources: Dict[Tuple[int, str], Any] = {}
    for i, t in enumerate(traced):
        if t.layer.kind != "elementwise":
            by_node.setdefault(t.node, []).append((i, t))
            for operand, node in (("x", t.x), ("w", t.y)):
                sources[i, operand] = _graph_quant(t, node, operand)
    wanted = {q for q in sources.values() if q is not None}
    params: Dict[Any, List[GraphQuant]] = {}
    with eval_mode(model), torch.no_grad():
        for node, envs in _run(gm, examples):
            if node.op == "output":
                process = gm.graph._codegen.process_outputs
                yield [process(map_arg(node.args[0], env.__getitem__)) for env in envs]
                return
            if node in wanted:
                params[node] = [_quant_params(node, env) for env in envs]
            for i, t in by_node.get(node, []):
                c = _captured(i, t, envs, [params.get(sources[i, k]) for k in ("x", "w")])
                if c is None:
                    continue
                if requantize and t.role in ("conv", "linear"):
                    _requantize(t, c, envs)
                yield c


def _captured(i: int, t: Traced, envs, quants) -> Optional[Captured]:
    """The Captured of traced layer i (None: not captured); quants: the graph's quantization
    of x and of the right operand, one GraphQuant per example, or None."""
    xs, ys = _example_operands(t, envs)
    lay = t.layer
    gx = _graph_integers(xs, quants[0], lay.a_format)
    gw = _graph_integers(ys, quants[1], lay.w_format)
    equation = t.node.args[0] if t.role == "einsum" else ""
    arranged = _arrange(
        lay.kind,
        _ROLES.get(t.role, t.role),
        gx[0] if gx else xs,
        gw[0] if gw else ys,
        equation,
    )
    return _finish(lay, i, arranged, gx, gw)


def _finish(lay, index: int, arranged, gx, gw, pads=None) -> Optional[Captured]:
    """The Captured of arranged operands: the graph's integers (gx, gw from
    ``_graph_integers``) or, where None, bitsim's calibrated quantization."""
    if arranged is None:
        return None
    x, y = arranged
    deferred = None
    if gx:
        xq, x_scale, x_zero = x.numpy().astype(np.int32), gx[1], gx[2]
    else:
        scale = _calibrate(x, lay.a_format)
        deferred = _Deferred(scale, lay.a_format)
        xq, x_scale, x_zero = x.detach().float().numpy(), float(scale), 0
    if gw:
        wq, w_scale, w_zero = y.numpy().astype(np.int32), gw[1], gw[2]
    else:
        (wq, w_scale), w_zero = quantize(y, lay.w_format, _calibration_axis(lay)), 0
    source = _source((gx is not None, gw is not None))
    return Captured(lay, xq, wq, x_scale, w_scale, index, x_zero, w_zero, source, pads, deferred)


def _real(q: np.ndarray, scale, zero, channel_axis: Optional[int]):
    """Real values (q - zero) x scale of integers, scale and zero per index of
    ``channel_axis`` when they are arrays."""
    torch = _torch()

    def along(v):
        v = np.asarray(v, dtype=np.float32)
        if v.ndim == 0 or channel_axis is None:
            return torch.from_numpy(v.reshape(()) if v.size == 1 else v)
        shape = [1] * q.ndim
        shape[channel_axis] = -1
        return torch.from_numpy(v.reshape(shape))

    return (torch.from_numpy(q.astype(np.float32)) - along(zero)) * along(scale)


def _requantize(t: Traced, c: Captured, envs: List[Dict[Any, Any]]) -> None:
    """Recompute a conv or linear node on its dequantized operands, in place."""
    examples = len(envs)
    w = _real(c.w, c.w_scale, c.w_zero, 0)
    x_all = _real(c.x, c.x_scale, c.x_zero, None)
    rows = len(c.x) // examples
    for e, env in enumerate(envs):
        x = x_all[e * rows : (e + 1) * rows].reshape(env[t.x].shape)
        args = (x, w, *[env[a] if hasattr(a, "op") else a for a in t.node.args[2:]])
        env[t.node] = t.node.target(*args)


def capture_onnx(
    model, inputs, *, layers: Optional[Sequence[Any]] = None, input_shapes=None
) -> Iterator[Captured]:
    """``capture`` for an ONNX model (a path or ModelProto): onnxruntime runs the graph on each
    example (``inputs``: an array or tensor for a one-input model, a tuple in input order, or a
    dict by input name; batch on the first axis), once per layer, fetching only that layer's
    operands (and the scales and zero points of their quantization), so memory holds one
    layer's operands. Every Conv, ConvTranspose, Gemm, MatMul and two-operand Einsum is
    captured, and QLinearConv, QLinearMatMul, ConvInteger, MatMulInteger and QGemm with the
    integers they are given. QONNX ``Quant`` nodes run as standard operators
    (``bitsim.nets.onnx.standard_quant``); a graph onnxruntime cannot run is an error.
    ``layers``: the model's layers with formats (default 8-bit signed)."""
    torch = _torch()
    try:
        import onnx
        import onnxruntime as ort
    except ImportError:
        raise MissingExtra(
            "measuring ONNX models needs onnxruntime: pip install 'bitsim[onnx]'"
        ) from None
    from bitsim.nets.onnx import onnx_import, standard_quant

    net, operands, proto = onnx_import(model, input_shapes)
    if layers is None:
        fa = IntFormat(8, True)
        layers = [
            lay if lay.kind == "elementwise" else lay.with_formats(fa, fa, fa) for lay in net.layers
        ]
    elif [lay.name for lay in layers] != [lay.name for lay in net.layers]:
        raise InputError("layers: expected the model's own layer list (from_onnx)")
    inits = {t.name for t in proto.graph.initializer}
    names = [i.name for i in proto.graph.input if i.name not in inits]
    feeds = _onnx_feeds(inputs, names)
    wanted = set()
    for o in operands:
        if o is not None:
            wanted |= {o.x, o.w}
            for ref in (o.x_quant, o.w_quant):
                if ref is not None:
                    wanted |= {n for n in (ref.scale, ref.zero) if n}
    known = {o.name for o in proto.graph.output}
    for name in sorted(wanted):
        if name not in known and name not in names and name not in inits:
            proto.graph.output.append(onnx.ValueInfoProto(name=name))
    options = ort.SessionOptions()
    options.log_severity_level = 3
    try:
        session = ort.InferenceSession(
            standard_quant(proto).SerializeToString(), options, providers=["CPUExecutionProvider"]
        )
    except Exception as err:  # noqa: BLE001 - onnxruntime's errors name the operator
        raise InputError(
            f"model: onnxruntime cannot run the graph to measure it: {str(err).strip()[:300]}"
        ) from None
    init_values = {t.name: t for t in proto.graph.initializer}

    def value(name, feed):
        if name in feed:
            return feed[name]
        if name in init_values:
            return onnx.numpy_helper.to_array(init_values[name])
        return session.run([name], feed)[0]

    def graph_quant(ref, feed) -> Optional[GraphQuant]:
        if ref is None:
            return None
        scale = value(ref.scale, feed) if ref.scale else np.float64(1.0)
        zero = value(ref.zero, feed) if ref.zero else np.int64(0)
        return GraphQuant(scale, zero, ref.lo, ref.hi, ref.axis, ref.raw)

    def tensor(v):
        return torch.from_numpy(np.ascontiguousarray(v))

    for index, (layer, op) in enumerate(zip(layers, operands)):
        if op is None:
            continue

        def values(name, examples, conv=op.op == "Conv"):
            out = []
            for f in examples:
                v = value(name, f)
                out.append(v[:, :, None] if conv and v.ndim == 3 else v)  # Conv1d
            return out

        constant = layer.kind in ("conv", "convtranspose", "linear")
        x_feeds, w_feeds = feeds, feeds[:1] if constant else feeds
        xv, wv = values(op.x, x_feeds), values(op.w, w_feeds)
        gx = _graph_integers(xv, [graph_quant(op.x_quant, f) for f in x_feeds], layer.a_format)
        gw = _graph_integers(wv, [graph_quant(op.w_quant, f) for f in w_feeds], layer.w_format)
        xs = gx[0] if gx else [tensor(v.astype(np.float32)) for v in xv]
        ys = gw[0] if gw else [tensor(v.astype(np.float32)) for v in wv]
        if op.op == "Gemm":
            xs = [v.T if op.trans_a else v for v in xs]
            ys = [v if op.trans_b else v.T for v in ys]
            role = "linear" if layer.kind == "linear" else "rows"
        elif op.op == "MatMul":
            role = "linear_t" if layer.kind == "linear" else "matmul"
        else:
            role = "einsum" if op.op == "Einsum" else "conv"
        arranged = _arrange(layer.kind, role, xs, ys, op.equation)
        pads = (op.pads[0], op.pads[1]) if any(op.pads) else None
        c = _finish(layer, index, arranged, gx, gw, pads)
        if c is not None:
            yield c


def _onnx_feeds(inputs, names: List[str]) -> List[Dict[str, np.ndarray]]:
    """One feed dict per example (batch-1 slices of every input)."""

    def arr(v):
        return v.detach().cpu().numpy() if hasattr(v, "detach") else np.asarray(v)

    if isinstance(inputs, dict):
        unknown = sorted(set(inputs) - set(names))
        if unknown:
            raise InputError(f"inputs: the model has no input {', '.join(map(repr, unknown))}")
        columns = {k: arr(v) for k, v in inputs.items()}
    else:
        values = list(inputs) if isinstance(inputs, (tuple, list)) else [inputs]
        if len(values) != len(names):
            raise InputError(
                f"inputs: the model takes {len(names)} input(s) ({', '.join(names)}), "
                f"found {len(values)}"
            )
        columns = {k: arr(v) for k, v in zip(names, values)}
    n = len(next(iter(columns.values())))
    return [{k: v[i : i + 1] for k, v in columns.items()} for i in range(n)]


def _examples(inputs) -> List[Tuple[tuple, dict]]:
    torch = _torch()
    if isinstance(inputs, dict):
        n = len(next(iter(inputs.values())))
        return [((), {k: v[i : i + 1] for k, v in inputs.items()}) for i in range(n)]
    if isinstance(inputs, torch.Tensor):
        inputs = (inputs,)
    n = len(inputs[0])
    return [(tuple(v[i : i + 1] for v in inputs), {}) for i in range(n)]


def _sample(total: int, max_outputs: Optional[int], seed: int) -> np.ndarray:
    if max_outputs is not None and max_outputs < total:
        rng = np.random.default_rng(check_seed(seed))
        return np.sort(
            rng.choice(total, size=check_int(max_outputs, "max_outputs", 1), replace=False)
        )
    return np.arange(total)


def _pad_value(c: Captured, b: np.ndarray) -> np.ndarray:
    """The padding value of each sampled output's example in ``x_values``: real 0 for
    deferred float activations, else the zero point (a number or one per example)."""
    if c.x_deferred is not None:
        return np.zeros(len(b), dtype=c.x_values.dtype)
    z = np.asarray(c.x_zero)
    return np.full(len(b), int(z)) if z.ndim == 0 else z[b]


def _output_coords(c: Captured, idx: np.ndarray):
    """Of each sampled output of a (transposed) convolution, flat index ``idx`` over (example,
    output channel, row, column): the example, output channel, row and column, and the input
    channels of its group, (outputs, C / groups)."""
    lay = c.layer
    channels = c.x_values.shape[1]
    g = lay.groups
    per_group = lay.out_channels // g
    oh_n, ow_n = lay.output_hw
    b, rest = np.divmod(idx, lay.out_channels * oh_n * ow_n)
    co, pos = np.divmod(rest, oh_n * ow_n)
    oh, ow = np.divmod(pos, ow_n)
    chans = (co // per_group)[:, None] * (channels // g) + np.arange(channels // g)
    return b, co, oh, ow, chans


def _conv_streams(c: Captured, idx: np.ndarray):
    """Operands of sampled convolution outputs: (outputs, C / groups, kh, kw) each, padding
    positions holding the activations' zero point."""
    lay = c.layer
    b, co, oh, ow, chans = _output_coords(c, idx)
    (kh, kw), (sh, sw), (dh, dw) = lay.kernel_hw, lay.stride, lay.dilation
    top, left = c.pads if c.pads is not None else lay.padding
    rows = oh[:, None] * sh - top + np.arange(kh) * dh
    cols = ow[:, None] * sw - left + np.arange(kw) * dw
    xs = _gather(c.x_values, b, chans, rows, cols, _pad_value(c, b))
    return xs, c.w.reshape(lay.out_channels, -1)[co]


def _gather(x: np.ndarray, b, chans, rows, cols, zero) -> np.ndarray:
    """x[b, chans, rows, cols] as (outputs, channels, rows, cols), ``zero`` where a row or
    column is outside the tensor (-1 included)."""
    inside = ((rows >= 0) & (rows < x.shape[2]))[:, None, :, None] & (
        (cols >= 0) & (cols < x.shape[3])
    )[:, None, None, :]
    vals = x[
        b[:, None, None, None],
        chans[:, :, None, None],
        np.clip(rows, 0, x.shape[2] - 1)[:, None, :, None],
        np.clip(cols, 0, x.shape[3] - 1)[:, None, None, :],
    ]
    return np.where(inside, vals, zero[:, None, None, None])


def _transposed_taps(out: int, kernel: int, stride: int, pad: int, dilation: int, size: int):
    """Per output row (column) of a transposed convolution, the kernel taps that reach it in
    increasing order, padded with -1 to the most any output has, and their input rows (-1:
    none, or outside the input)."""
    taps = []
    for o in range(out):
        taps.append([t for t in range(kernel) if (o + pad - t * dilation) % stride == 0])
    most = max(1, max(len(t) for t in taps))
    tap = np.full((out, most), -1)
    src = np.full((out, most), -1)
    for o, ts in enumerate(taps):
        for j, t in enumerate(ts):
            i = (o + pad - t * dilation) // stride
            tap[o, j] = t
            src[o, j] = i if 0 <= i < size else -1
    return tap, src


def _convtranspose_streams(c: Captured, idx: np.ndarray):
    """Operands of sampled transposed-convolution outputs, gathered as the sub-pixel
    convolution of each output's phase (see the module docstring)."""
    lay = c.layer
    _, _, h, w = c.x_values.shape
    per_group = lay.out_channels // lay.groups
    oh_n, ow_n = lay.output_hw
    b, co, oh, ow, chans = _output_coords(c, idx)
    (kh, kw), (sh, sw), (dh, dw) = lay.kernel_hw, lay.stride, lay.dilation
    (ph, pw) = lay.padding
    tap_h, src_h = _transposed_taps(oh_n, kh, sh, ph, dh, h)
    tap_w, src_w = _transposed_taps(ow_n, kw, sw, pw, dw, w)
    xs = _gather(c.x_values, b, chans, src_h[oh], src_w[ow], _pad_value(c, b))
    th, tw = tap_h[oh], tap_w[ow]
    has = (th >= 0)[:, None, :, None] & (tw >= 0)[:, None, None, :]
    ws = c.w[
        chans[:, :, None, None],
        (co % per_group)[:, None, None, None],
        np.clip(th, 0, None)[:, None, :, None],
        np.clip(tw, 0, None)[:, None, None, :],
    ]
    wz = np.asarray(c.w_zero)  # a tap no input reaches multiplies a real 0 weight
    fill = wz if wz.ndim == 0 else wz.reshape(-1)[co % per_group][:, None, None, None]
    return xs, np.where(has, ws, fill)


def pe_streams(
    c: Captured, max_outputs: Optional[int] = None, seed: int = 0
) -> Tuple[np.ndarray, np.ndarray, int]:
    """(x, w, outputs taken): the operand streams a processing element sees, K products per
    output in the order of the module docstring; at most ``max_outputs`` outputs, a random
    sample (seeded) kept in order. Only the sampled outputs' operands are gathered: memory
    grows with the sample, not with the layer."""
    idx = _sample(c.outputs, max_outputs, seed)
    layer = c.layer
    if layer.kind == "conv":
        xs, ws = _conv_streams(c, idx)
    elif layer.kind == "convtranspose":
        xs, ws = _convtranspose_streams(c, idx)
    elif layer.kind == "linear":
        p, o = np.divmod(idx, c.w.shape[0])
        xs, ws = c.x_values[p], c.w[o]
    else:
        m, n_cols = c.x_values.shape[1], c.w.shape[1]
        b, rest = np.divmod(idx, m * n_cols)
        i, j = np.divmod(rest, n_cols)
        xs, ws = c.x_values[b, i], c.w[b, j]
    if c.x_deferred is not None:
        xs = c.x_deferred(np.ascontiguousarray(xs))
    xs = np.ascontiguousarray(xs, dtype=np.int64).ravel()
    ws = np.ascontiguousarray(ws, dtype=np.int64).ravel()
    return xs, ws, len(idx)


_GATING_CHUNK = 1 << 16  # MACs per block of zero_gated_flips


def zero_gated_flips(
    xs: np.ndarray,
    ws: np.ndarray,
    k: int,
    *,
    x_bits: int = 8,
    w_bits: int = 8,
    acc_bits: int = 32,
    x_signed: bool = True,
    w_signed: bool = True,
) -> Dict[str, float]:
    """Bit flips per MAC of every site of ``bitsim.sim.mac.SITES`` when a MAC with a zero
    operand is gated, over a stream of dot products of k terms in PE order.

    A gated MAC holds every register (x, w, product, acc) and the adder's inputs, so the
    adder's nets (addend, carry) hold too: the sites change only at the dot product's live
    MACs (both operands nonzero), each a MAC of the ungated model (``bitsim.sim.mac``) whose
    accumulator adds the partial sum of the live terms before it, or 0 at the first live term
    of its dot product. A dot product whose every MAC is gated clears the accumulator to 0 once
    (its result), the adder's first input then 0 (first term) and its addend held, so its
    carries fall to 0. Per MAC issued (gated ones included), from the reset state (every site
    0); exact integers (Python integers where int64 could overflow).
    """
    from bitsim.backends.reference.mac import adder_carries, bit_flips, low_bits
    from bitsim.sim.mac import SITES, MacConfig

    cfg = MacConfig(x_bits, w_bits, acc_bits, x_signed, w_signed, k)
    n = len(xs)
    if n == 0:
        return {site: 0.0 for site in SITES}
    if n % k:
        raise InputError(f"xs: expected whole dot products of k = {k} terms, found {n} MACs")
    wide = x_bits + w_bits + math.ceil(math.log2(k + 1)) + 1 > 62
    dtype = object if wide else np.int64
    x_all = np.asarray(xs).astype(dtype).reshape(-1, k)
    w_all = np.asarray(ws).astype(dtype).reshape(-1, k)
    widths = (x_bits, w_bits, cfg.product_bits)
    flips = np.zeros(len(SITES))
    words = [0] * len(SITES)  # each site's last value (uint64 words)
    held = [0, 0, 0]  # x, w, product values of the last live MAC
    dots = max(1, _GATING_CHUNK // k)
    for start in range(0, len(x_all), dots):
        x, w = x_all[start : start + dots], w_all[start : start + dots]
        live = (x != 0) & (w != 0)
        p = x * w
        sums = np.cumsum(p, axis=1)  # gated terms add 0: the live partial sums
        first = live & (np.cumsum(live, axis=1) == 1)
        empty = ~live.any(axis=1)
        event = live.copy()
        event[empty, -1] = True  # the clear of a dot product with no live MAC
        first[empty, -1] = True
        on = live[event]
        values = []
        for v, last in zip((x[event], w[event], p[event]), held):
            pick = np.maximum.accumulate(np.where(on, np.arange(len(on)), -1))
            values.append(np.where(pick >= 0, v[np.maximum(pick, 0)], last))
        held = [v[-1] for v in values]
        regs = [low_bits(np.asarray(v, dtype=dtype), b) for v, b in zip(values, widths)]
        acc = low_bits(np.where(on, sums[event], 0).astype(dtype), acc_bits)
        addend = low_bits(np.asarray(values[2], dtype=dtype), acc_bits)
        before = np.concatenate([np.array([words[3]], dtype=np.uint64), acc[:-1]])
        kept = np.where(first[event], np.uint64(0), before)
        for site, reg in enumerate([*regs, acc, addend, adder_carries(kept, addend)]):
            flips[site] += float(bit_flips(reg, words[site]).sum())
            words[site] = int(reg[-1])
    return {site: flips[i] / n for i, site in enumerate(SITES)}
