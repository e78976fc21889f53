"""Import a PyTorch model's layers (optional extra ``bitsim[torch]``).

``from_torch(model, input_shape)`` exports the model with ``torch.export`` (an ATen graph, so
data-dependent Python, ``F.scaled_dot_product_attention``, ``nn.MultiheadAttention``, ``bmm``,
``matmul``/``@``, ``einsum`` and ``linear`` are all seen) on a batch-1 input and records, in
execution order:

* convolutions (Conv1d as a 1 x L Conv2d), 2-D transposed convolutions and linear layers
  (``linear``, ``addmm``, and any ``mm``/``matmul``/``bmm``/``einsum`` whose right operand is a
  parameter) with their number of output positions (the tokens of a sequence);
* MatMul layers for products of two activations: attention's QK^T (K = head dimension) and AV
  (K = sequence length), each ``scaled_dot_product_attention`` giving ``.qk``, ``.softmax`` and
  ``.av`` (its 1/sqrt(d) scale and mask are taken as folded into the scores and not counted);
* elementwise layers: additions and subtractions, products (a division as a product), ReLU,
  ReLU6/hardtanh/clamp, BatchNorm, LayerNorm, softmax, GELU, sigmoid, SiLU, tanh, exp, max and
  average pooling, means and sums.

Operations without arithmetic on activations are left out, as in the built-in networks: shape
and copy operations, dropout, padding, concatenation, embedding look-ups, and anything whose
result is an integer or boolean tensor (masks, positions). Any other operation is an error that
names it. Layers are named after their modules; an operation that is not the single operation
of a leaf module takes its enclosing module's name and the operation's ("layer1.0.add",
"encoder.layer.0.attention.self.sdpa.qk"), so a torchvision-style ResNet imports as exactly the
built-in list.

Quantized models: the widths of PT2E-quantized graphs (``quantized_decomposed``
quantize/dequantize operations) and of fake quantization (``fake_quantize_per_tensor_affine``,
``..._per_channel_affine``, as QAT libraries export them) are read from each operand's
quant_min/quant_max into ``Network.declared`` (per-layer precision overrides of the report),
and ``bitsim.nets.capture`` measures their integers. A PT2E-converted GraphModule that
refuses ``eval()`` is exported as it is. Eager ``torch.ao`` quantized modules and Brevitas
layers are first replaced by reference modules written with those operations
(``bitsim.nets.quantized``), so they give their widths and integers the same way.

Model inputs: ``input_shape`` is the shape of one example without the batch dimension (a float
tensor of zeros), or a mapping of keyword inputs to full shapes such as ``{"input_ids": (1,
128)}`` (``*_ids`` and ``*_mask`` inputs are integer tensors of ones, others float zeros); or
pass ``inputs``, real example tensors (a tensor, a tuple, or a dict of keyword tensors), of
which the first batch element is used.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from bitsim._core.checks import InputError, InputTypeError, MissingExtra, check_int
from bitsim.models.layers import (
    Conv2d,
    ConvTranspose2d,
    Elementwise,
    Linear,
    MatMul,
    einsum_dims,
)
from bitsim.nets.zoo import Network
from bitsim.sim.formats import IntFormat

__all__ = [
    "Traced",
    "declared_format",
    "declared_widths",
    "example_inputs",
    "from_torch",
    "quant_range",
    "quant_source",
    "trace",
]

_NO_ARITHMETIC = {
    "view",
    "reshape",
    "_unsafe_view",
    "flatten",
    "unflatten",
    "size",
    "contiguous",
    "clone",
    "squeeze",
    "unsqueeze",
    "expand",
    "expand_as",
    "repeat",
    "permute",
    "transpose",
    "t",
    "dropout",
    "alias",
    "detach",
    "slice",
    "select",
    "index",
    "index_select",
    "narrow",
    "split",
    "split_with_sizes",
    "chunk",
    "unbind",
    "cat",
    "stack",
    "pad",
    "constant_pad_nd",
    "embedding",
    "to",
    "_to_copy",
    "type_as",
    "lift_fresh_copy",
    "zeros",
    "ones",
    "full",
    "zeros_like",
    "ones_like",
    "full_like",
    "new_zeros",
    "new_ones",
    "new_full",
    "arange",
    "_assert_tensor_metadata",
    "_assert_scalar",
    "sym_size",
    "getitem",
}
_ELEMENTWISE = {
    "add": "add",
    "sub": "add",
    "rsub": "add",
    "mul": "mul",
    "div": "mul",
    "relu": "compare",
    "hardtanh": "clip",
    "relu6": "clip",
    "clamp": "clip",
    "batch_norm": "batchnorm",
    "_native_batch_norm_legit_no_training": "batchnorm",
    "layer_norm": "layernorm",
    "softmax": "softmax",
    "_softmax": "softmax",
    "gelu": "gelu",
    "sigmoid": "sigmoid",
    "silu": "silu",
    "tanh": "tanh",
    "exp": "exp",
}


def _torch():
    try:
        import torch
    except ImportError:
        raise MissingExtra("from_torch needs PyTorch: pip install 'bitsim[torch]'") from None
    return torch


def _val(node):
    return node.meta.get("val") if hasattr(node, "meta") else None


def _shape(node) -> Tuple[int, ...]:
    return tuple(int(v) for v in _val(node).shape)


def _numel(node) -> int:
    return math.prod(_shape(node))


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def _fn(node) -> str:
    packet = getattr(node.target, "__name__", str(node.target)).split(".")[0]
    return {"iadd": "add", "imul": "mul"}.get(packet, packet).rstrip("_")


@dataclass
class _Scope:
    key: str  # the innermost module call
    path: str  # its module path ('' for the model itself)
    leaf: bool  # a module without children


def _scope(node, leaves) -> _Scope:
    stack = node.meta.get("nn_module_stack") or {}
    if not stack:
        return _Scope("", "", False)
    key, value = list(stack.items())[-1]
    path = value[0] if isinstance(value, tuple) else str(value)
    path = "" if path in ("", "L__self__") else path
    return _Scope(key, path, path in leaves)


def _is_float(node) -> bool:
    val = _val(node)
    return val is not None and hasattr(val, "dtype") and val.dtype.is_floating_point


# quantize/dequantize operations (PT2E's quantized_decomposed, fake quantization): the index of
# quant_min in their arguments; they carry the width, not arithmetic of their own
_QUANT_OPS = {
    "quantize_per_tensor": 3,
    "dequantize_per_tensor": 3,
    "quantize_per_channel": 4,
    "dequantize_per_channel": 4,
    "fake_quantize_per_tensor_affine": 3,
    "fake_quantize_per_channel_affine": 4,
}
_LAYOUT = (
    "t",
    "transpose",
    "permute",
    "view",
    "reshape",
    "flatten",
    "unflatten",
    "squeeze",
    "unsqueeze",
    "_unsafe_view",
    "detach",
    "to",
    "_to_copy",
    "contiguous",
    "clone",
)


# operations whose outputs stay on their input's quantization grid (a quantized ReLU or max
# pooling keeps its input's scale and zero point: integers max(q, zero point), or a selection)
_ON_GRID = ("relu", "max_pool2d", "max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool1d")


def quant_source(node) -> Tuple[Any, bool]:
    """(the dequantize or fake-quantize node a graph value went through last, followed back
    through layout operations, ReLU and max pooling, or None; whether no operation lies in
    between)."""
    direct = True
    while hasattr(node, "op") and node.op == "call_function":
        fn = _fn(node)
        if fn in _QUANT_OPS:
            return node, direct
        if fn not in _LAYOUT and fn not in _ON_GRID:
            return None, direct
        node, direct = node.args[0], False
    return None, direct


def quant_range(qnode) -> Tuple[Any, Any]:
    """(quant_min, quant_max) arguments of a quantize/dequantize/fake-quantize node."""
    i = _QUANT_OPS[_fn(qnode)]
    return qnode.args[i], qnode.args[i + 1]


def declared_format(node) -> Optional[Tuple[int, bool]]:
    """(bits, signed) of the quantization a graph value went through last (a dequantize or
    fake-quantize operation, followed back through layout operations, ReLU and max pooling),
    or None.
    bits = ceil(log2(quant_max - quant_min + 1)), signed when quant_min < 0."""
    qnode, _ = quant_source(node)
    if qnode is None:
        return None
    lo, hi = quant_range(qnode)
    if not isinstance(lo, int) or not isinstance(hi, int) or hi <= lo:
        return None
    fmt = IntFormat.of_range(lo, hi)
    return fmt.bits, fmt.signed


def _param(node) -> Optional[str]:
    """The parameter a node is (through transposes and views), or None."""
    while hasattr(node, "op"):
        if node.op == "get_attr":
            return str(node.target)
        if node.op != "call_function" or _fn(node) not in _LAYOUT + tuple(_QUANT_OPS):
            return None
        node = node.args[0]
    return None


@dataclass
class Traced:
    """One layer of an exported model and the graph node that computes it.

    For a Conv2d, Linear or MatMul layer: ``x`` and ``y`` are the nodes of the left operand
    and the right one, and ``role`` says how they multiply: 'conv', 'linear' (y is a weight
    (out, in)), 'linear_t' (x @ y, y (in, out) derived from a parameter), 'matmul' (x @ y),
    'einsum', 'qk' (q @ k^T of an attention, x = q, y = k) or 'av' (softmax(q k^T) @ v of an
    attention, x = q, y = v).
    """

    layer: Any
    node: Any
    role: str = ""
    x: Any = None
    y: Any = None


def _conv(name, node) -> Traced:
    x, w = node.args[0], node.args[1]
    fn = _fn(node)
    args = list(node.args) + [None] * 9
    if fn == "convolution":
        bias, stride, padding, dilation, transposed, output_padding, groups = args[2:9]
        if transposed:
            return _conv_transpose(
                name, node, bias, stride, padding, output_padding, groups, dilation
            )
    elif fn.startswith("conv_transpose"):
        bias, stride, padding, output_padding, groups, dilation = args[2:8]
        return _conv_transpose(name, node, bias, stride, padding, output_padding, groups, dilation)
    else:
        bias, stride, padding, dilation, groups = args[2:7]
    stride, padding = stride or 1, padding or 0
    dilation, groups = dilation or 1, groups or 1
    wshape, xshape = _shape(w), _shape(x)
    one_d = len(wshape) == 3
    kernel = (1, wshape[2]) if one_d else wshape[2:]
    hw = (1, xshape[-1]) if one_d else xshape[2:]
    if one_d:
        stride, dilation = (1, _pair(stride)[0]), (1, _pair(dilation)[0])
        padding = padding if isinstance(padding, str) else (0, _pair(padding)[0])
    if isinstance(padding, str):  # 'valid' or 'same' (stride 1)
        padding = (
            (0, 0)
            if padding == "valid"
            else tuple(d * (k - 1) // 2 for k, d in zip(kernel, _pair(dilation)))
        )
    layer = Conv2d(
        name,
        xshape[1],
        wshape[0],
        (int(kernel[0]), int(kernel[1])),
        (int(hw[0]), int(hw[1])),
        _pair(stride),
        _pair(padding),
        _pair(dilation),
        groups,
        bias is not None,
    )
    return Traced(layer, node, "conv", x, w)


def _conv_transpose(name, node, bias, stride, padding, output_padding, groups, dilation):
    x, w = node.args[0], node.args[1]
    xs, ws = _shape(x), _shape(w)  # weight (in, out / groups, kh, kw)
    if len(ws) != 4:
        raise InputError(f"model: only 2-D transposed convolutions are supported ({name!r})")
    groups = groups or 1
    layer = ConvTranspose2d(
        name,
        xs[1],
        ws[1] * groups,
        (ws[2], ws[3]),
        (xs[2], xs[3]),
        _pair(stride or 1),
        _pair(padding or 0),
        _pair(output_padding or 0),
        _pair(dilation or 1),
        groups,
        bias is not None,
    )
    return Traced(layer, node, "convtranspose", x, w)


def _linear(name, node, x, w, role, bias) -> Traced:
    xs = _shape(x)
    k = xs[-1]
    ws = _shape(w)
    out = ws[0] if role == "linear" else ws[-1]
    return Traced(
        Linear(name, k, out, bias, positions=math.prod(xs[:-1]) or 1),
        node,
        role,
        x,
        w,
    )


def _matmul(name, node, x, y, role="matmul") -> Traced:
    """x @ y (role 'matmul'), q @ k^T ('qk', x = q, y = k) or softmax(q k^T) @ v ('av', x = q,
    y = v); batch dimensions broadcast as in torch.matmul."""
    xs, ys = _shape(x), _shape(y)
    if len(xs) == 1:
        xs = (1, *xs)
    if role == "matmul":
        m, k, n = xs[-2], xs[-1], ys[-1] if len(ys) > 1 else 1
        out = _shape(node)
        batch = math.prod(out[:-2]) if len(out) > 2 else 1
    else:
        m, k, n = xs[-2], (xs[-1] if role == "qk" else ys[-2]), (ys[-2] if role == "qk" else ys[-1])
        batch = math.prod(xs[:-2])
    return Traced(MatMul(name, m, k, n, max(1, batch)), node, role, x, y)


def _einsum(name, node) -> Traced:
    equation, ops = node.args[0], node.args[1]
    if len(ops) != 2:
        raise InputError(f"model: einsum with {len(ops)} operands (node {node.name!r})")
    batch, m, k, n = einsum_dims(equation, _shape(ops[0]), _shape(ops[1]))
    if _param(ops[1]) is not None:
        return Traced(Linear(name, k, n, positions=batch * m), node, "einsum", ops[0], ops[1])
    return Traced(MatMul(name, m, k, n, batch), node, "einsum", ops[0], ops[1])


def _elementwise(name, op, node) -> Elementwise:
    tensors = sum(1 for a in node.args if _val(a) is not None and hasattr(_val(a), "shape"))
    if op in ("add", "mul"):
        return Elementwise(name, op, _numel(node), tensors=max(1, tensors))
    return Elementwise(name, op, _numel(node))


def _pool(name, op, node) -> Optional[Elementwise]:
    x = node.args[0]
    n_in, n_out = _numel(x), _numel(node)
    if n_in == n_out:
        return None
    if n_in % n_out:
        raise InputError(f"model: {name} pools {_shape(x)} to {_shape(node)} unevenly")
    fn = _fn(node)
    if fn in ("max_pool2d", "avg_pool2d", "max_pool1d", "avg_pool1d"):
        window = math.prod(_pair(node.args[1])) if "2d" in fn else int(_pair(node.args[1])[0])
    else:
        window = n_in // n_out
    return Elementwise(name, op, n_out, window=window, inputs=n_in)


def _layers(node, base: str) -> List[Traced]:
    """The layers of one graph node (empty for operations without arithmetic)."""
    fn = _fn(node)
    if fn in ("conv1d", "conv2d", "convolution", "_convolution", "conv_transpose2d"):
        return [_conv(base, node)]
    if fn == "linear":
        return [_linear(base, node, node.args[0], node.args[1], "linear", _bias(node, 2))]
    if fn in ("addmm", "mm", "matmul", "bmm"):
        x, y = (node.args[1], node.args[2]) if fn == "addmm" else node.args[:2]
        if _param(y) is not None:
            return [_linear(base, node, x, y, "linear_t", fn == "addmm")]
        return [_matmul(base, node, x, y)]
    if fn == "einsum":
        return [_einsum(base, node)]
    if fn == "scaled_dot_product_attention":
        q, k, v = node.args[:3]
        scores = _matmul(f"{base}.qk", node, q, k, "qk")
        s = scores.layer
        probs = Elementwise(f"{base}.softmax", "softmax", s.batch * s.m * s.n)
        return [scores, Traced(probs, node), _matmul(f"{base}.av", node, q, v, "av")]
    if fn in ("max_pool1d", "max_pool2d", "adaptive_max_pool1d", "adaptive_max_pool2d"):
        layer = _pool(base, "maxpool", node)
        return [Traced(layer, node)] if layer else []
    if fn in ("avg_pool1d", "avg_pool2d", "adaptive_avg_pool1d", "adaptive_avg_pool2d", "mean"):
        layer = _pool(base, "avgpool", node)
        return [Traced(layer, node)] if layer else []
    if fn == "sum" and _is_float(node):
        layer = _pool(base, "sum", node)
        return [Traced(layer, node)] if layer else []
    if fn in _NO_ARITHMETIC or fn in _QUANT_OPS or not _is_float(node):
        return []
    if fn in _ELEMENTWISE:
        return [Traced(_elementwise(base, _ELEMENTWISE[fn], node), node)]
    raise InputError(f"model: unsupported operation {fn!r} (node {node.name!r})")


def _bias(node, index) -> bool:
    return len(node.args) > index and node.args[index] is not None


def _named(nodes, leaves) -> Iterator[Traced]:
    """Layers of the graph, named after their modules (see the module docstring)."""
    runs: List[Tuple[_Scope, List]] = []
    for node in nodes:
        if node.op != "call_function":
            continue
        scope = _scope(node, leaves)
        if runs and runs[-1][0].key == scope.key:
            runs[-1][1].append(node)
        else:
            runs.append((scope, [node]))
    counts: Dict[str, int] = {}
    for scope, run in runs:
        found = [(node, _layers(node, "")) for node in run]
        single = scope.leaf and sum(len(ts) for _, ts in found) == 1
        for node, traced in found:
            if not traced:
                continue
            if single:
                name = scope.path
            else:
                fn = "sdpa" if _fn(node) == "scaled_dot_product_attention" else _fn(node)
                base = f"{scope.path}.{fn}" if scope.path else fn
                counts[base] = counts.get(base, 0) + 1
                name = base if counts[base] == 1 else f"{base}_{counts[base] - 1}"
            yield from _layers(node, name)


def example_inputs(input_shape=None, inputs=None) -> Tuple[tuple, dict]:
    """(args, kwargs) of one batch-1 example (see the module docstring)."""
    torch = _torch()
    if inputs is not None:
        if isinstance(inputs, dict):
            return (), {k: v[:1] for k, v in inputs.items()}
        if isinstance(inputs, (tuple, list)):
            return tuple(v[:1] for v in inputs), {}
        if isinstance(inputs, torch.Tensor):
            return (inputs[:1],), {}
        raise InputTypeError(
            "inputs: expected a tensor, a tuple or a dict of tensors, "
            f"found {type(inputs).__name__}"
        )
    if input_shape is None:
        raise InputError("input_shape: expected the model's input shape (or inputs), found None")
    if isinstance(input_shape, dict):
        kwargs = {}
        for key, shape in input_shape.items():
            shape = _shape_of(shape, f"input_shape[{key!r}]")
            if key.endswith(("_ids", "_mask")):
                kwargs[key] = torch.ones(shape, dtype=torch.long)
            else:
                kwargs[key] = torch.zeros(shape)
        return (), kwargs
    return (torch.zeros((1, *_shape_of(input_shape, "input_shape"))),), {}


def _shape_of(shape, name: str) -> Tuple[int, ...]:
    """A tensor shape: a sequence of positive integers, or an error naming ``name``."""
    if isinstance(shape, (str, bytes)) or not hasattr(shape, "__iter__"):
        raise InputTypeError(
            f"{name}: expected a sequence of positive integers, found {type(shape).__name__}"
        )
    return tuple(check_int(v, name, 1, 1 << 31) for v in shape)


def export(model, args: tuple, kwargs: dict):
    """``torch.export.export`` of the model in eval mode, errors naming the input."""
    torch = _torch()
    from torch import nn

    if not isinstance(model, nn.Module):
        raise InputTypeError(f"model: expected a torch.nn.Module, found {type(model).__name__}")
    with eval_mode(model), torch.no_grad():
        try:
            model(*args, **kwargs)
        except Exception as err:  # noqa: BLE001 - any failure of the model on that input
            shapes = [tuple(a.shape) for a in args] + [
                f"{k}={tuple(v.shape)}" for k, v in kwargs.items()
            ]
            raise InputError(
                f"input_shape: the model does not run on inputs of shape "
                f"{', '.join(map(str, shapes))}: {_first_line(err)}"
            ) from None
        try:
            return torch.export.export(model, args, kwargs)
        except Exception as err:  # noqa: BLE001 - export refuses data-dependent control flow
            raise InputError(
                f"model: torch.export cannot export {type(model).__name__} (control flow "
                f"that depends on the data, or an operation export does not support): "
                f"{_first_line(err)}"
            ) from None


@contextmanager
def eval_mode(model) -> Iterator[None]:
    """The model in eval mode, its mode restored after; a model that refuses the switch (a
    PT2E-converted GraphModule raises NotImplementedError) runs as it is."""
    was_training = model.training
    try:
        model.eval()
    except NotImplementedError:
        yield
        return
    try:
        yield
    finally:
        model.train(was_training)


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def trace(model, input_shape=None, inputs=None) -> Tuple[Any, List[Traced]]:
    """The exported graph module (``ExportedProgram.module()``, parameters as attributes) and
    its layers with their graph nodes (used by ``bitsim.nets.capture``)."""
    from bitsim.nets.quantized import reference

    args, kwargs = example_inputs(input_shape, inputs)
    model = reference(model, args, kwargs)
    ep = export(model, args, kwargs)
    leaves = {
        name
        for name, mod in model.named_modules()
        if name and not any(True for _ in mod.children())
    }
    gm = ep.module()
    return gm, list(_named(gm.graph.nodes, leaves))


def declared_widths(traced: Sequence[Traced]) -> Dict[str, dict]:
    """Layer name -> a_bits, a_signed, w_bits, w_signed that the graph's quantization
    operations declare for its operands (a MatMul's both from the left operand's)."""
    out: Dict[str, dict] = {}
    for t in traced:
        if t.layer.kind == "elementwise" or t.x is None:
            continue
        spec: Dict[str, Any] = {}
        for (bits, signed), node in ((("a_bits", "a_signed"), t.x), (("w_bits", "w_signed"), t.y)):
            fmt = declared_format(node)
            if fmt is not None:
                spec[bits], spec[signed] = fmt
        if t.layer.kind == "matmul":
            spec.pop("w_bits", None)
            spec.pop("w_signed", None)
        if spec:
            out[t.layer.name] = spec
    return out


def from_torch(
    model,
    input_shape=None,
    name: Optional[str] = None,
    *,
    inputs=None,
) -> Network:
    """The layers of a PyTorch module for one input of ``input_shape`` (C, H, W or features;
    or a dict of keyword input shapes) or for the first example of ``inputs``."""
    _, traced = trace(model, input_shape, inputs)
    if inputs is not None or isinstance(input_shape, dict):
        shape: Sequence[int] = ()
    else:
        shape = tuple(int(v) for v in input_shape)
    return Network(
        name or type(model).__name__.lower(),
        tuple(shape),
        [t.layer for t in traced],
        declared_widths(traced),
    )
