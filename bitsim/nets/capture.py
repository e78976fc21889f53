"""Real operand streams: run a PyTorch model on real inputs and capture, layer by layer, the
integer operands of every convolution, linear layer and matrix product.

``capture(model, inputs)`` exports the model (``bitsim.nets.pytorch``), runs the exported graph
on every example of ``inputs`` in lock step, node by node, and yields one ``Captured`` per
Conv2d, Linear and MatMul layer as soon as its operands exist, freeing every tensor after its
last use: memory holds the live activations of the forward passes and one layer's operands,
never the whole network's tensors.

Quantization (post-training, calibrated on the data itself, as onnxruntime's MinMax calibrator
does): activations per tensor over all examples, weights per output channel, both symmetric
with zero point 0: a b-bit signed value is round(v / s) clipped to [-(2^(b-1) - 1), 2^(b-1) - 1]
with s = max|v| / (2^(b-1) - 1); an unsigned one round(v / s) clipped to [0, 2^b - 1] with
s = max(v) / (2^b - 1) (negative values clip to 0: meant for activations after ReLU). The
right operand of a MatMul is an activation and is quantized like one. Biases are left out: the
accumulator starts at 0 and a bias is added once per output, after the K products.

Processing-element order (``pe_streams``), the default order of issue 15: outputs in the
row-major order of the layer's output tensor (batch, output channel, row, column for a
convolution; batch, token, output feature for a linear layer; batch, row, column for a matrix
product), and for each output its K products in the order of the weight's flattened axes
(input channel, kernel row, kernel column). A sample of outputs (chosen at random with a seed,
kept in that order) bounds the stream; ``pe_streams`` states how many were taken.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from bitsim._core.checks import InputError, MissingExtra, check_int, check_seed
from bitsim.nets.pytorch import Traced, _torch, trace
from bitsim.sim.formats import IntFormat

__all__ = [
    "GATED_SITES",
    "Captured",
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

    layer : Conv2d, Linear or MatMul
        With the formats the operands were quantized to.
    x : numpy.ndarray
        Integer input activations, the layer's input tensor with all examples stacked on the
        first axis: (N, C, H, W) for a convolution, (P, K) for a linear layer (P = examples x
        positions), (B, m, K) for a matrix product (B = examples x batch).
    w : numpy.ndarray
        Integer weights: (out_channels, C / groups, kh, kw), (out_features, K), or for a
        matrix product the right operand as (B, n, K) (each row one output column's operands).
    x_scale, w_scale : float or numpy.ndarray
        Real value of one integer step (w_scale per output channel for weights).
    index : int
        Position of the layer in the model's layer list (``from_torch(...).layers``).
    """

    layer: Any
    x: np.ndarray
    w: np.ndarray
    x_scale: Any
    w_scale: Any
    index: int

    @property
    def k(self) -> int:
        return int(self.layer.k)

    @property
    def outputs(self) -> int:
        """Dot products of the layer over all examples."""
        if self.layer.kind == "conv":
            n = self.x.shape[0]
            return n * self.layer.out_channels * self.layer.positions
        if self.layer.kind == "linear":
            return self.x.shape[0] * self.w.shape[0]
        return self.x.shape[0] * self.x.shape[1] * self.w.shape[1]


def quantize(values, fmt: IntFormat, axis: Optional[int] = None):
    """(integers, scale): symmetric quantization of a float tensor (see the module docstring);
    ``axis``: one scale per index of that axis (per output channel), else one per tensor."""
    torch = _torch()
    v = values.detach().float()
    hi = fmt.hi if fmt.signed else 2**fmt.bits - 1
    if axis is None:
        peak = v.abs().max() if fmt.signed else v.clamp(min=0).max()
    else:
        dims = [d for d in range(v.dim()) if d != axis]
        peak = v.abs().amax(dim=dims, keepdim=True) if fmt.signed else v.clamp(min=0).amax(dims)
    scale = torch.where(peak > 0, peak / hi, torch.ones_like(peak))
    lo = -hi if fmt.signed else 0
    q = torch.clamp(torch.round(v / scale), lo, hi).to(torch.int32).numpy()
    s = scale.flatten().numpy() if axis is not None else float(scale)
    return q, s


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
    node (its mask, causality, scale and grouped heads), from aten's reference kernel."""
    torch = _torch()
    from torch.fx.node import map_arg

    args = map_arg(node.args, env.__getitem__)
    kwargs = map_arg(node.kwargs, env.__getitem__)
    q, k, v = args[:3]
    mask = args[3] if len(args) > 3 else kwargs.get("attn_mask")
    causal = args[5] if len(args) > 5 else kwargs.get("is_causal", False)
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


def _operands(t: Traced, envs: List[Dict[Any, Any]]):
    """Float (x, right operand) of one traced layer over all examples, shaped as ``Captured``."""
    examples = len(envs)

    def get(n, e):
        return envs[e][n]

    torch = _torch()
    xs = [get(t.x, e) for e in range(examples)]
    if t.role == "conv":
        return torch.cat(xs), get(t.y, 0)
    if t.role in ("linear", "linear_t"):
        w = get(t.y, 0)
        return torch.cat([x.reshape(-1, x.shape[-1]) for x in xs]), (
            w if t.role == "linear" else w.transpose(0, 1)
        )
    if t.role == "av":
        xs = [_attention_probs(t.node, envs[e]) for e in range(examples)]
    ys = [get(t.y, e) for e in range(examples)]
    if t.role in ("matmul", "av"):  # columns of the right operand as rows of K values
        ys = [y.transpose(-1, -2) if y.dim() > 1 else y[None] for y in ys]
    rows, cols = [], []
    for x, y in zip(xs, ys):
        x = x if x.dim() > 1 else x[None]
        shape = torch.broadcast_shapes(x.shape[:-2], y.shape[:-2])
        rows.append(x.expand(*shape, *x.shape[-2:]).reshape(-1, *x.shape[-2:]))
        cols.append(y.expand(*shape, *y.shape[-2:]).reshape(-1, *y.shape[-2:]))
    return torch.cat(rows), torch.cat(cols)


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
    """Integer operands of every Conv2d, Linear and MatMul layer of a PyTorch model, layer by
    layer, on real inputs.

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
        In execution order; einsum layers and transposed convolutions are not captured.
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
    for i, t in enumerate(traced):
        if t.layer.kind != "elementwise" and t.role not in ("einsum", "convtranspose"):
            by_node.setdefault(t.node, []).append((i, t))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for node, envs in _run(gm, examples):
                if node.op == "output":
                    process = gm.graph._codegen.process_outputs
                    yield [process(map_arg(node.args[0], env.__getitem__)) for env in envs]
                    return
                for i, t in by_node.get(node, []):
                    x, y = _operands(t, envs)
                    fa, fw = t.layer.a_format, t.layer.w_format
                    xq, xs = quantize(x, fa)
                    wq, ws = quantize(y, fw, axis=None if t.layer.kind == "matmul" else 0)
                    c = Captured(t.layer, xq, wq, xs, ws, i)
                    if requantize and t.role in ("conv", "linear"):
                        _requantize(t, c, envs)
                    yield c
    finally:
        model.train(was_training)


def _requantize(t: Traced, c: Captured, envs: List[Dict[Any, Any]]) -> None:
    """Recompute a conv or linear node on its dequantized operands, in place."""
    examples = len(envs)

    def get(n, e):
        return envs[e][n]

    torch = _torch()
    w = torch.from_numpy(c.w.astype(np.float32)) * torch.from_numpy(
        np.asarray(c.w_scale, dtype=np.float32)
    ).reshape(-1, *[1] * (c.w.ndim - 1))
    x_all = torch.from_numpy(c.x.astype(np.float32)) * c.x_scale
    rows = len(c.x) // examples
    for e in range(examples):
        x = x_all[e * rows : (e + 1) * rows].reshape(get(t.x, e).shape)
        args = (x, w, *[get(a, e) if hasattr(a, "op") else a for a in t.node.args[2:]])
        envs[e][t.node] = t.node.target(*args)


def capture_onnx(
    model, inputs, *, layers: Optional[Sequence[Any]] = None, input_shapes=None
) -> Iterator[Captured]:
    """``capture`` for an ONNX model (a path or ModelProto): onnxruntime runs the graph on each
    example (``inputs``: an array or tensor for a one-input model, a tuple in input order, or a
    dict by input name; batch on the first axis), once per layer, fetching only that layer's
    float operands, so memory holds one layer's operands. Float Conv, Gemm and MatMul layers are
    captured (in a QDQ graph their operands are the dequantized integers); QLinear* and
    *Integer operators and Einsum are not. ``layers``: the model's layers with formats
    (default 8-bit signed)."""
    torch = _torch()
    try:
        import onnx
        import onnxruntime as ort
    except ImportError:
        raise MissingExtra(
            "measuring ONNX models needs onnxruntime: pip install 'bitsim[onnx]'"
        ) from None
    from bitsim.nets.onnx import onnx_import

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
    wanted = sorted({n for o in operands if o is not None for n in (o.x, o.w)})
    known = {o.name for o in proto.graph.output}
    for name in wanted:
        if name not in known and name not in names and name not in inits:
            proto.graph.output.append(onnx.ValueInfoProto(name=name))
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(
        proto.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    init_values = {t.name: t for t in proto.graph.initializer}

    def value(name, feed):
        if name in feed:
            return feed[name]
        if name in init_values:
            return onnx.numpy_helper.to_array(init_values[name])
        return session.run([name], feed)[0]

    for index, (layer, op) in enumerate(zip(layers, operands)):
        if op is None:
            continue
        xs = [torch.from_numpy(np.array(value(op.x, f), dtype=np.float32)) for f in feeds]
        w = torch.from_numpy(np.array(value(op.w, feeds[0]), dtype=np.float32))
        if op.op == "Conv":
            x = torch.cat(xs)
            if any(op.pads):
                t, left, b, r = op.pads
                x = torch.nn.functional.pad(x, (left, r, t, b))
            if x.dim() == 3:  # Conv1d: (N, C, L) as a 1 x L image
                x, w = x[:, :, None], w[:, :, None]
        elif layer.kind == "linear":
            xs = [v.T if op.trans_a else v for v in xs]
            x = torch.cat([v.reshape(-1, v.shape[-1]) for v in xs])
            w = w if op.trans_b else w.T
        else:
            ys = [torch.from_numpy(np.array(value(op.w, f), dtype=np.float32)) for f in feeds]
            if op.op == "Gemm":
                xs = [v.T if op.trans_a else v for v in xs]
                ys = [v if op.trans_b else v.T for v in ys]
            else:
                ys = [v.transpose(-1, -2) for v in ys]
            rows, cols = [], []
            for a, c in zip(xs, ys):
                shape = torch.broadcast_shapes(a.shape[:-2], c.shape[:-2])
                rows.append(a.expand(*shape, *a.shape[-2:]).reshape(-1, *a.shape[-2:]))
                cols.append(c.expand(*shape, *c.shape[-2:]).reshape(-1, *c.shape[-2:]))
            x, w = torch.cat(rows), torch.cat(cols)
        fa, fw = layer.a_format, layer.w_format
        xq, x_scale = quantize(x, fa)
        wq, w_scale = quantize(w, fw, axis=None if layer.kind == "matmul" else 0)
        yield Captured(layer, xq, wq, x_scale, w_scale, index)


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


def pe_streams(
    c: Captured, max_outputs: Optional[int] = None, seed: int = 0
) -> Tuple[np.ndarray, np.ndarray, int]:
    """(x, w, outputs taken): the operand streams a processing element sees, K products per
    output in the order of the module docstring; at most ``max_outputs`` outputs, a random
    sample (seeded) kept in order."""
    torch = _torch()
    seed = check_seed(seed)
    total = c.outputs
    if max_outputs is not None and max_outputs < total:
        rng = np.random.default_rng(seed)
        idx = np.sort(
            rng.choice(total, size=check_int(max_outputs, "max_outputs", 1), replace=False)
        )
    else:
        idx = np.arange(total)
    layer = c.layer
    if layer.kind == "conv":
        x = torch.from_numpy(c.x.astype(np.float32))
        patches = torch.nn.functional.unfold(
            x, layer.kernel_hw, layer.dilation, layer.padding, layer.stride
        ).numpy()  # (N, C kh kw, L), exact: integers below 2^24
        n, ck, positions = patches.shape
        g = layer.groups
        patches = patches.reshape(n, g, ck // g, positions)
        per_group = layer.out_channels // g
        b, rest = np.divmod(idx, layer.out_channels * positions)
        co, pos = np.divmod(rest, positions)
        xs = patches[b, co // per_group, :, pos].astype(np.int32)
        ws = c.w.reshape(layer.out_channels, -1)[co]
    elif layer.kind == "linear":
        p, o = np.divmod(idx, c.w.shape[0])
        xs, ws = c.x[p], c.w[o]
    else:
        m, n_cols = c.x.shape[1], c.w.shape[1]
        b, rest = np.divmod(idx, m * n_cols)
        i, j = np.divmod(rest, n_cols)
        xs, ws = c.x[b, i], c.w[b, j]
    return np.ascontiguousarray(xs).ravel(), np.ascontiguousarray(ws).ravel(), len(idx)


GATED_SITES = ("x", "w", "product", "acc")  # the register sites zero_gated_flips models


def zero_gated_flips(xs: np.ndarray, ws: np.ndarray, k: int, **mac) -> Dict[str, float]:
    """Bit flips per MAC of each register site when a MAC with a zero operand is gated (it
    holds every register), over a stream of dot products of k terms in PE order.

    Exact with the ungated kernel (``simulate_mac``, keyword arguments ``mac``): the operand
    and product registers see only the non-gated MACs, in order (one endless run of them); the
    accumulator sees, per dot product, the partial sums of its non-gated terms, loaded over the
    previous result at its first non-gated term, which is the ungated accumulator run on each
    dot product reordered with its gated terms last (they add 0 and leave it unchanged). A dot
    product whose every MAC is gated loads 0 once (its result). Per MAC issued (gated ones
    included); only ``GATED_SITES`` are modelled.
    """
    from bitsim.sim.mac import simulate_mac

    n = len(xs)
    if n == 0:
        return {site: 0.0 for site in GATED_SITES}
    live = (xs != 0) & (ws != 0)
    out: Dict[str, float] = {}
    if live.any():
        sub = simulate_mac(xs[live], ws[live], length=None, **mac)
        out.update({site: sub.total(site) / n for site in ("x", "w", "product")})
    else:
        out.update({site: 0.0 for site in ("x", "w", "product")})
    order = np.argsort(~live.reshape(-1, k), axis=1, kind="stable")
    xr = np.take_along_axis(xs.reshape(-1, k), order, axis=1).ravel()
    wr = np.take_along_axis(ws.reshape(-1, k), order, axis=1).ravel()
    out["acc"] = simulate_mac(xr, wr, length=k, **mac).total("acc") / n
    return out
