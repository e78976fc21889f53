"""Import an ONNX model's layers (optional extra ``bitsim[onnx]``).

``from_onnx(path, input_shapes)`` reads the graph with the ``onnx`` package, fixes the dynamic
axes of its inputs from ``input_shapes`` (``{"input_ids": (1, 128)}``; the CLI's
``--input-shape input_ids=1x128``), infers every tensor's shape with ONNX shape inference and
lists, in graph order (shapes that inference cannot know, those of onnxruntime's contrib
operators, come from one onnxruntime run on zero inputs, when onnxruntime is installed):

* Conv / ConvInteger / QLinearConv as Conv2d (groups, dilations, strides; symmetric pads as
  padding; asymmetric pads and auto_pad SAME_* enlarge the input by the padding instead, which
  gives the same MACs);
* Gemm, and MatMul / MatMulInteger / QLinearMatMul whose right operand is a constant (an
  initializer, or computed from initializers only: constant subgraphs are folded), as Linear
  (positions: the rows of the left operand; an Add of a constant vector right after a MatMul is
  its bias); a MatMul of two activations (attention's QK^T and AV, any rank, batched) as MatMul;
* pooling (MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool, ReduceMean, ReduceSum) and
  elementwise operations (Add, Sub, Mul, Div, Relu, Clip, BatchNormalization,
  LayerNormalization, Softmax, Gelu, Sigmoid, Tanh, Exp, Erf as a GELU's polynomial, and
  onnxruntime's QLinearAdd, QLinearMul, QLinearGlobalAveragePool, ...) as Elementwise layers.

Operations without arithmetic on activations (shape and layout operations, Pad, Concat,
Gather, Cast, Constant, Dropout, the quantization nodes themselves) and those whose output is
not a float tensor are left out; any other operation is an error that names it. ConvTranspose
(2-D, symmetric pads) is a ConvTranspose2d layer. Layers are named after their graph nodes.

Quantization is read from the graph, per layer operand, by following the operand back through
layout operations: QONNX ``Quant`` (bit width input, ``signed`` attribute; ``narrow`` does not
change the width), ``BipolarQuant`` (1 bit), ``Trunc`` (output bit width); QDQ
(``DequantizeLinear``: the integer type of its input, int8/uint8/int16/uint16/int4/uint4);
``QLinearConv``, ``QLinearMatMul``, ``MatMulInteger`` and ``ConvInteger`` (their integer input
types); weight-only exports where an integer initializer is ``Cast`` to float and multiplied by
a scale. Those widths and signedness become the report's per-layer overrides
(``Network.declared``); unquantized operands take the report's default widths.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

from bitsim._core.checks import InputError, MissingExtra
from bitsim.models.layers import (
    Conv2d,
    ConvTranspose2d,
    Elementwise,
    Linear,
    MatMul,
    einsum_dims,
)
from bitsim.nets.zoo import Network

__all__ = ["Operands", "QuantRef", "from_onnx", "onnx_import", "standard_quant"]

_LAYOUT = {
    "Reshape",
    "Transpose",
    "Flatten",
    "Squeeze",
    "Unsqueeze",
    "Identity",
    "Expand",
    "Slice",
    "Gather",
    "Split",
    "Concat",
    "Pad",
    "Dropout",
    "Cast",
    "CastLike",
    "Tile",
}
_NO_ARITHMETIC = _LAYOUT | {
    "Constant",
    "ConstantOfShape",
    "Shape",
    "Size",
    "Range",
    "QuantizeLinear",
    "DequantizeLinear",
    "DynamicQuantizeLinear",
    "Quant",
    "BipolarQuant",
    "Trunc",
    "Sqrt",  # of constants (attention scales) only; see _layers
}
_ELEMENTWISE = {
    "Add": "add",
    "Sub": "add",
    "Mul": "mul",
    "Div": "mul",
    "Relu": "compare",
    "Clip": "clip",
    "BatchNormalization": "batchnorm",
    "LayerNormalization": "layernorm",
    "Softmax": "softmax",
    "Gelu": "gelu",
    "Erf": "gelu",
    "Sigmoid": "sigmoid",
    "Tanh": "tanh",
    "Exp": "exp",
}
_QLINEAR = {  # onnxruntime's quantized operators (com.microsoft domain)
    "QLinearAdd": "add",
    "QLinearMul": "mul",
    "QLinearGlobalAveragePool": "avgpool",
    "QLinearAveragePool": "avgpool",
    "QLinearSigmoid": "sigmoid",
    "QLinearSoftmax": "softmax",
    "QLinearLeakyRelu": "compare",
}
_INT_TYPES = {  # onnx.TensorProto data types -> (bits, signed)
    2: (8, False),  # UINT8
    3: (8, True),  # INT8
    4: (16, False),  # UINT16
    5: (16, True),  # INT16
    21: (4, False),  # UINT4
    22: (4, True),  # INT4
}


class _Graph:
    def __init__(self, model):
        import onnx

        self.onnx = onnx
        g = model.graph
        self.nodes = list(g.node)
        self.producer = {out: node for node in self.nodes for out in node.output}
        self.consumers: Dict[str, List[Any]] = {}
        for node in self.nodes:
            for name in node.input:
                self.consumers.setdefault(name, []).append(node)
        self.inits = {t.name: t for t in g.initializer}
        self.types: Dict[str, int] = {t.name: t.data_type for t in g.initializer}
        self.shapes: Dict[str, Tuple[int, ...]] = {
            t.name: tuple(int(d) for d in t.dims) for t in g.initializer
        }
        for vi in list(g.value_info) + list(g.input) + list(g.output):
            tt = vi.type.tensor_type
            self.types.setdefault(vi.name, tt.elem_type)
            dims = tt.shape.dim
            if tt.HasField("shape") and all(d.HasField("dim_value") for d in dims):
                self.shapes.setdefault(vi.name, tuple(int(d.dim_value) for d in dims))
        self.constant: Dict[str, bool] = {}

    def is_constant(self, name: str) -> bool:
        """Computed from initializers and Constant nodes only (a folded constant subgraph)."""
        if name in self.constant:
            return self.constant[name]
        if name in self.inits:
            return True
        node = self.producer.get(name)
        result = node is not None and all(self.is_constant(i) for i in node.input if i)
        self.constant[name] = result
        return result

    def shape(self, name: str, node) -> Tuple[int, ...]:
        if name not in self.shapes:
            raise InputError(
                f"model: the shape of {name!r} (node {node.name!r}, {node.op_type}) is unknown; "
                f"give the inputs' shapes (--input-shape name=1x128)"
            )
        return self.shapes[name]

    def attr(self, node, name: str, default=None):
        for a in node.attribute:
            if a.name == name:
                return self.onnx.helper.get_attribute_value(a)
        return default

    def int_value(self, name: str) -> Optional[int]:
        if name in self.inits:
            return int(self.onnx.numpy_helper.to_array(self.inits[name]).ravel()[0])
        node = self.producer.get(name)
        if node is not None and node.op_type == "Constant":
            value = self.onnx.numpy_helper.to_array(self.attr(node, "value"))
            return int(value.ravel()[0])
        return None

    def declared(self, name: str) -> Optional[Tuple[int, bool]]:
        """(bits, signed) of the integers a float tensor was dequantized from, or None."""
        seen = 0
        while seen < 64:
            seen += 1
            if self.types.get(name) in _INT_TYPES:
                return _INT_TYPES[self.types[name]]
            node = self.producer.get(name)
            if node is None:
                return None
            op = node.op_type
            if op == "DequantizeLinear":
                name = node.input[0]
            elif op in ("Quant", "Trunc"):
                bits = self.int_value(node.input[3 if op == "Quant" else 4])
                if bits is None:
                    return None
                signed = bool(self.attr(node, "signed", 1))
                return int(bits), signed
            elif op == "BipolarQuant":
                return 1, True
            elif op in ("Mul", "Div"):  # integer x scale (weight-only exports)
                found = [self.declared(i) for i in node.input[: 1 if op == "Div" else 2]]
                return next((f for f in found if f is not None), None)
            elif op in _LAYOUT:
                name = node.input[0]
            else:
                return None
        return None


def _set_input_shapes(model, input_shapes) -> None:
    inits = {t.name for t in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in inits]
    if isinstance(input_shapes, (tuple, list)):  # one unnamed shape: the only input's
        if len(inputs) != 1:
            raise InputError(
                f"input_shape: the model has {len(inputs)} inputs; name them "
                f"({', '.join(i.name for i in inputs)}), e.g. {inputs[0].name}=1x128"
            )
        input_shapes = {inputs[0].name: input_shapes}
    shapes = dict(input_shapes or {})
    unknown = sorted(set(shapes) - {i.name for i in inputs})
    if unknown:
        raise InputError(
            f"input_shape: the model has no input {', '.join(map(repr, unknown))} "
            f"(inputs: {', '.join(i.name for i in inputs)})"
        )
    for inp in inputs:
        dims = inp.type.tensor_type.shape.dim
        if inp.name in shapes:
            shape = tuple(int(v) for v in shapes[inp.name])
            if len(shape) != len(dims):
                raise InputError(
                    f"input_shape: {inp.name} has {len(dims)} axes, found {len(shape)} "
                    f"({'x'.join(map(str, shape))})"
                )
            for d, v in zip(dims, shape):
                d.ClearField("dim_param")
                d.dim_value = v
        elif any(not d.HasField("dim_value") for d in dims):
            axes = "x".join(
                str(d.dim_value) if d.HasField("dim_value") else d.dim_param or "?" for d in dims
            )
            raise InputError(
                f"input_shape: input {inp.name!r} has dynamic axes ({axes}); "
                f"give its shape, e.g. --input-shape {inp.name}=1x128"
            )


def _conv(g: _Graph, node, name: str, x: str, w: str, bias: bool) -> Conv2d:
    xs, ws = g.shape(x, node), g.shape(w, node)
    one_d = len(ws) == 3
    kernel = (1, ws[2]) if one_d else (ws[2], ws[3])
    hw = (1, xs[2]) if one_d else (xs[2], xs[3])
    strides = list(g.attr(node, "strides", [1] * (len(ws) - 2)))
    dilations = list(g.attr(node, "dilations", [1] * (len(ws) - 2)))
    pads = list(g.attr(node, "pads", [0] * 2 * (len(ws) - 2)))
    if one_d:
        strides, dilations, pads = [1, *strides], [1, *dilations], [0, pads[0], 0, pads[1]]
    auto = g.attr(node, "auto_pad", b"NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else auto
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        pads = []
        for size, k, s, d in zip(hw, kernel, strides, dilations):
            total = max(0, (math.ceil(size / s) - 1) * s + d * (k - 1) + 1 - size)
            pads.append(total)
        hw = (hw[0] + pads[0], hw[1] + pads[1])
        padding = (0, 0)
    else:
        begin, end = pads[: len(pads) // 2], pads[len(pads) // 2 :]
        if begin == end:
            padding = (begin[0], begin[1])
        else:
            hw = (hw[0] + begin[0] + end[0], hw[1] + begin[1] + end[1])
            padding = (0, 0)
    return Conv2d(
        name,
        xs[1],
        ws[0],
        kernel,
        hw,
        (strides[0], strides[1]),
        padding,
        (dilations[0], dilations[1]),
        int(g.attr(node, "group", 1)),
        bias,
    )


def _matmul(g: _Graph, node, name: str, a: str, b: str) -> Any:
    xs, ys = g.shape(a, node), g.shape(b, node)
    if len(xs) == 1:
        xs = (1, *xs)
    k = xs[-1]
    n = ys[-1] if len(ys) > 1 else 1
    if g.is_constant(b) and len(ys) <= 2:
        return Linear(name, k, n, _bias_after(g, node), positions=math.prod(xs[:-1]))
    out = g.shape(node.output[0], node)
    batch = math.prod(out[:-2]) if len(out) > 2 else 1
    return MatMul(name, xs[-2], k, n, max(1, batch))


def _bias_after(g: _Graph, node) -> bool:
    users = g.consumers.get(node.output[0], [])
    return len(users) == 1 and users[0].op_type == "Add" and _is_bias_add(g, users[0])


def _is_bias_add(g: _Graph, node) -> bool:
    """An Add of a constant vector to the output of a MatMul with a constant right operand."""
    if len(node.input) != 2:
        return False
    for mine, other in (node.input, node.input[::-1]):
        prod = g.producer.get(mine)
        if (
            prod is not None
            and prod.op_type in ("MatMul", "MatMulInteger", "QLinearMatMul")
            and g.is_constant(other)
            and len(g.shapes.get(other, (0, 0))) == 1
            and g.is_constant(prod.input[3 if prod.op_type == "QLinearMatMul" else 1])
        ):
            return True
    return False


def _pool(g: _Graph, node, name: str, op: str) -> Optional[Elementwise]:
    n_in = math.prod(g.shape(node.input[0], node))
    n_out = math.prod(g.shape(node.output[0], node))
    if n_in == n_out:
        return None
    if node.op_type in ("MaxPool", "AveragePool"):
        window = math.prod(g.attr(node, "kernel_shape"))
    else:
        window = n_in // n_out
    return Elementwise(name, op, n_out, window=window, inputs=n_in)


def _is_float(g: _Graph, name: str) -> bool:
    return g.types.get(name) in (1, 10, 11, 16)


_ZERO_POINT = {  # operator -> its integer inputs' zero points (input index -> zero point's)
    "QLinearConv": {0: 2, 3: 5},
    "QLinearMatMul": {0: 2, 3: 5},
    "QGemm": {0: 2, 3: 5},
    "ConvInteger": {0: 2, 1: 3},
    "MatMulInteger": {0: 2, 1: 3},
}


def _declared(g: _Graph, node, name: str) -> Optional[Tuple[int, bool]]:
    """(bits, signed) of a layer operand: ``_Graph.declared``, or for the integer inputs of
    QLinear*/*Integer operators the type of their zero point when their own is unknown."""
    found = g.declared(name)
    if found is not None:
        return found
    ins = list(node.input)
    index = ins.index(name) if name in ins else -1
    zero = _ZERO_POINT.get(node.op_type, {}).get(index)
    if zero is None or zero >= len(ins) or not ins[zero]:
        return None
    dtype = g.types.get(ins[zero])
    return _INT_TYPES.get(dtype) if dtype is not None else None


def _layer(g: _Graph, node, name: str, declared: Dict[str, dict]) -> Optional[Any]:
    op = node.op_type
    ins = list(node.input)
    formats: List[Optional[Tuple[int, bool]]] = []
    layer: Any = None
    if op in ("Conv", "ConvInteger", "QLinearConv"):
        x, w = (ins[0], ins[3]) if op == "QLinearConv" else (ins[0], ins[1])
        bias_index = 8 if op == "QLinearConv" else (2 if op == "Conv" else 99)
        layer = _conv(g, node, name, x, w, len(ins) > bias_index and bool(ins[bias_index]))
        formats = [_declared(g, node, x), _declared(g, node, w)]
    elif op == "ConvTranspose":
        xs, ws = g.shape(ins[0], node), g.shape(ins[1], node)
        if len(ws) != 4:
            raise InputError(f"model: only 2-D ConvTranspose is supported (node {node.name!r})")
        pads = list(g.attr(node, "pads", [0, 0, 0, 0]))
        if pads[:2] != pads[2:]:
            raise InputError(f"model: asymmetric ConvTranspose pads {pads} (node {node.name!r})")
        groups = int(g.attr(node, "group", 1))
        layer = ConvTranspose2d(
            name,
            xs[1],
            ws[1] * groups,
            (ws[2], ws[3]),
            (xs[2], xs[3]),
            tuple(g.attr(node, "strides", [1, 1])),
            (pads[0], pads[1]),
            tuple(g.attr(node, "output_padding", [0, 0])),
            tuple(g.attr(node, "dilations", [1, 1])),
            groups,
            len(ins) > 2 and bool(ins[2]),
        )
        formats = [g.declared(ins[0]), g.declared(ins[1])]
    elif op in ("Gemm", "QGemm"):
        a, b = (ins[0], ins[3]) if op == "QGemm" else (ins[0], ins[1])
        xs, ws = g.shape(a, node), g.shape(b, node)
        k = xs[0] if g.attr(node, "transA", 0) else xs[1]
        m = xs[1] if g.attr(node, "transA", 0) else xs[0]
        n = ws[0] if g.attr(node, "transB", 0) else ws[1]
        bias = len(ins) > (6 if op == "QGemm" else 2) and bool(ins[6 if op == "QGemm" else 2])
        g.shapes.setdefault(node.output[0], (m, n))
        if g.is_constant(b):
            layer = Linear(name, k, n, bias, positions=m)
        else:
            layer = MatMul(name, m, k, n)
        formats = [_declared(g, node, a), _declared(g, node, b)]
    elif op in ("MatMul", "MatMulInteger", "QLinearMatMul"):
        a, b = (ins[0], ins[3]) if op == "QLinearMatMul" else (ins[0], ins[1])
        layer = _matmul(g, node, name, a, b)
        formats = [_declared(g, node, a), _declared(g, node, b)]
    elif op == "Einsum" and len(ins) == 2:
        equation = g.attr(node, "equation")
        equation = equation.decode() if isinstance(equation, bytes) else equation
        batch, m, k, n = einsum_dims(equation, g.shape(ins[0], node), g.shape(ins[1], node))
        layer = (
            Linear(name, k, n, positions=batch * m)
            if g.is_constant(ins[1])
            else MatMul(name, m, k, n, batch)
        )
        formats = [g.declared(ins[0]), g.declared(ins[1])]
    elif op in ("MaxPool", "GlobalMaxPool"):
        return _pool(g, node, name, "maxpool")
    elif op in _QLINEAR:  # contrib ops, unknown to ONNX shape inference: shapes set here
        kind, out = _QLINEAR[op], node.output[0]
        first = g.shape(ins[0], node)
        if kind == "avgpool" and op == "QLinearGlobalAveragePool":
            g.shapes.setdefault(out, (*first[:2], *[1] * (len(first) - 2)))
        elif kind in ("add", "mul"):
            other = g.shape(ins[3], node) if len(ins) > 3 and ins[3] else first
            g.shapes.setdefault(out, tuple(max(a, b) for a, b in zip(first, other)))
        else:
            g.shapes.setdefault(out, first)
        if kind == "avgpool":
            return _pool(g, node, name, kind)
        count = math.prod(g.shape(out, node))
        return Elementwise(name, kind, count, tensors=2 if kind in ("add", "mul") else 1)
    elif op in ("AveragePool", "GlobalAveragePool", "ReduceMean"):
        return _pool(g, node, name, "avgpool")
    elif op == "ReduceSum" and _is_float(g, node.output[0]):
        return _pool(g, node, name, "sum")
    elif op in _NO_ARITHMETIC or not _is_float(g, node.output[0]) or g.is_constant(node.output[0]):
        return None
    elif op == "Add" and _is_bias_add(g, node):
        return None
    elif op in _ELEMENTWISE:
        kind = _ELEMENTWISE[op]
        count = math.prod(g.shape(node.output[0], node))
        if kind in ("add", "mul"):
            tensors = sum(1 for i in ins if i and not g.is_constant(i))
            return Elementwise(name, kind, count, tensors=max(1, tensors))
        return Elementwise(name, kind, count)
    else:
        raise InputError(f"model: unsupported operation {op!r} (node {node.name!r})")
    spec: Dict[str, Any] = {}
    for (bits_key, signed_key), fmt in zip(
        (("a_bits", "a_signed"), ("w_bits", "w_signed")), formats
    ):
        if fmt is not None:
            spec[bits_key], spec[signed_key] = fmt
    if layer.kind == "matmul" and "a_bits" not in spec and "w_bits" in spec:
        spec["a_bits"], spec["a_signed"] = spec["w_bits"], spec["w_signed"]
    if layer.kind == "matmul":  # both operands are activations: the left one's format
        spec.pop("w_bits", None)
        spec.pop("w_signed", None)
    if spec:
        declared[name] = spec
    return layer


def _runtime_shapes(model, names: List[str]) -> Dict[str, Tuple[int, ...]]:
    """Shapes that ONNX shape inference leaves unknown (onnxruntime's contrib operators, QONNX
    Quant), from one onnxruntime run on zero inputs with every such tensor exposed as an output
    (QONNX Quant nodes as ``standard_quant`` writes them)."""
    try:
        import numpy as np
        import onnx
        import onnxruntime as ort
    except ImportError:
        return {}
    m = onnx.ModelProto()
    m.CopyFrom(model)
    known = {o.name for o in m.graph.output}
    for name in names:
        if name not in known:
            m.graph.output.append(onnx.ValueInfoProto(name=name))
    inits = {t.name for t in m.graph.initializer}
    feeds = {}
    for inp in m.graph.input:
        if inp.name in inits:
            continue
        tt = inp.type.tensor_type
        dtype = onnx.helper.tensor_dtype_to_np_dtype(tt.elem_type)
        feeds[inp.name] = np.zeros([d.dim_value for d in tt.shape.dim], dtype=dtype)
    try:
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        options.intra_op_num_threads = 1
        options.log_severity_level = 3
        session = ort.InferenceSession(
            standard_quant(m).SerializeToString(), options, providers=["CPUExecutionProvider"]
        )
        values = session.run(names, feeds)
    except Exception:  # noqa: BLE001 - shapes stay unknown and the layer that needs one says so
        return {}
    return {n: tuple(int(d) for d in v.shape) for n, v in zip(names, values)}


@dataclass
class QuantRef:
    """Where a graph quantizes a layer operand: the names of its scale and zero point (None: 1
    and 0), the integer range [lo, hi], the axis of per-axis scales (None: per tensor, or
    numpy broadcasting for QONNX Quant), and ``raw`` when the operand is the integer tensor
    itself (QLinear*, *Integer operators)."""

    scale: Optional[str]
    zero: Optional[str]
    lo: int
    hi: int
    axis: Optional[int] = None
    raw: bool = False


@dataclass
class Operands:
    """How to read a Conv, ConvTranspose, Gemm, MatMul or Einsum layer's operands (and those
    of their QLinear/Integer forms) from the graph's tensors: ``x`` and ``w`` (tensor names),
    Gemm's transposes, an Einsum's equation, the padding a Conv applies itself when its layer
    was given the padded input (asymmetric or SAME padding), (top, left, bottom, right), and
    the graph's quantization of each operand (None: a float tensor)."""

    op: str  # Conv, Gemm, MatMul or Einsum: the float operator of the same arithmetic
    x: str
    w: str
    trans_a: bool = False
    trans_b: bool = False
    pads: Tuple[int, int, int, int] = (0, 0, 0, 0)
    equation: str = ""
    x_quant: Optional[QuantRef] = None
    w_quant: Optional[QuantRef] = None


def _int_range(dtype: Optional[int]) -> Optional[Tuple[int, int]]:
    if dtype not in _INT_TYPES:
        return None
    bits, signed = _INT_TYPES[dtype]
    return (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)


def _int_type(g: _Graph, name: str, zero: Optional[str]) -> Optional[int]:
    """The integer type of a QLinear*/*Integer operand: its own, or its zero point's (the
    same type; the outputs of onnxruntime's contrib operators have no inferred type)."""
    found = g.types.get(name)
    return found if found in _INT_TYPES or not zero else g.types.get(zero)


def _quant_ref(g: _Graph, name: str) -> Optional[QuantRef]:
    """The graph's quantization of a float tensor: a DequantizeLinear or QONNX Quant it comes
    from, through layout operations when per tensor (per axis only straight from it)."""
    direct = True
    for _ in range(64):
        node = g.producer.get(name)
        if node is None:
            return None
        op, ins = node.op_type, list(node.input)
        zero = ins[2] if len(ins) > 2 and ins[2] else None
        if op == "DequantizeLinear":
            bounds = _int_range(g.types.get(ins[0]))
            if bounds is None or g.attr(node, "block_size", 0):
                return None
            per_axis = len(g.shapes.get(ins[1], ())) == 1 and g.shapes[ins[1]][0] > 1
            if per_axis and not direct:
                return None
            axis = int(g.attr(node, "axis", 1)) if per_axis else None
            return QuantRef(ins[1], zero, *bounds, axis=axis)
        if op == "Quant":
            bits = g.int_value(ins[3])
            rounding = g.attr(node, "rounding_mode", b"ROUND")
            rounding = rounding.decode() if isinstance(rounding, bytes) else rounding
            if bits is None or rounding != "ROUND":
                return None
            if math.prod(g.shapes.get(ins[1], ())) > 1 and not direct:
                return None
            narrow = int(g.attr(node, "narrow", 0))
            if int(g.attr(node, "signed", 1)):
                lo, hi = -(1 << (bits - 1)) + narrow, (1 << (bits - 1)) - 1
            else:
                lo, hi = 0, (1 << bits) - 1 - narrow
            return QuantRef(ins[1], zero, lo, hi)
        if op not in _LAYOUT:
            return None
        name, direct = ins[0], False
    return None


def _raw_ref(g: _Graph, name: str, scale: Optional[str], zero: Optional[str]) -> QuantRef:
    bounds = _int_range(_int_type(g, name, zero)) or (-(1 << 31), (1 << 31) - 1)
    return QuantRef(scale or None, zero or None, *bounds, raw=True)


def _conv_pads(g: _Graph, node, layer, x: str) -> Tuple[int, int, int, int]:
    pads = (0, 0, 0, 0)
    hw = g.shape(x, node)[2:]
    if layer.padding == (0, 0) and tuple(hw) != tuple(layer.input_hw_pair):
        explicit = list(g.attr(node, "pads", []))
        if len(explicit) == 4 and any(explicit):
            pads = (explicit[0], explicit[1], explicit[2], explicit[3])
        else:  # SAME_UPPER / SAME_LOWER: the extra row/column at the end / the start
            dh, dw = layer.input_hw_pair[0] - hw[0], layer.input_hw_pair[1] - hw[1]
            upper = g.attr(node, "auto_pad", b"") in (b"SAME_UPPER", "SAME_UPPER")
            first = (dh // 2, dw // 2) if upper else (dh - dh // 2, dw - dw // 2)
            pads = (first[0], first[1], dh - first[0], dw - first[1])
    return pads


def _operands(g: _Graph, node, layer) -> Optional[Operands]:
    op, ins = node.op_type, list(node.input) + [""] * 8
    if op in ("Gemm", "MatMul", "Conv", "ConvTranspose", "Einsum"):
        x, w = ins[0], ins[1]
        xq, wq = _quant_ref(g, x), _quant_ref(g, w)
        if op == "Gemm":
            ta, tb = bool(g.attr(node, "transA", 0)), bool(g.attr(node, "transB", 0))
            return Operands(op, x, w, ta, tb, x_quant=xq, w_quant=wq)
        if op == "Einsum":
            equation = g.attr(node, "equation")
            equation = equation.decode() if isinstance(equation, bytes) else equation
            return Operands(op, x, w, equation=equation, x_quant=xq, w_quant=wq)
        if op == "Conv":
            pads = _conv_pads(g, node, layer, x)
            return Operands(op, x, w, pads=pads, x_quant=xq, w_quant=wq)
        return Operands("Conv" if op == "ConvTranspose" else op, x, w, x_quant=xq, w_quant=wq)
    if op in ("QLinearConv", "QLinearMatMul", "QGemm"):
        x_ref = _raw_ref(g, ins[0], ins[1], ins[2])
        w_ref = _raw_ref(g, ins[3], ins[4], ins[5])
        if op == "QLinearConv":
            pads = _conv_pads(g, node, layer, ins[0])
            return Operands("Conv", ins[0], ins[3], pads=pads, x_quant=x_ref, w_quant=w_ref)
        if op == "QGemm":
            ta, tb = bool(g.attr(node, "transA", 0)), bool(g.attr(node, "transB", 0))
            return Operands("Gemm", ins[0], ins[3], ta, tb, x_quant=x_ref, w_quant=w_ref)
        return Operands("MatMul", ins[0], ins[3], x_quant=x_ref, w_quant=w_ref)
    if op in ("ConvInteger", "MatMulInteger"):
        x_ref, w_ref = _raw_ref(g, ins[0], None, ins[2]), _raw_ref(g, ins[1], None, ins[3])
        if op == "ConvInteger":
            pads = _conv_pads(g, node, layer, ins[0])
            return Operands("Conv", ins[0], ins[1], pads=pads, x_quant=x_ref, w_quant=w_ref)
        return Operands("MatMul", ins[0], ins[1], x_quant=x_ref, w_quant=w_ref)
    return None


def standard_quant(model):
    """A copy of the model whose QONNX ``Quant`` nodes (rounding ROUND) are written in standard
    ONNX operators, so that onnxruntime runs it: y = (clip(round(x / s + z), lo, hi) - z) s
    (Div, Add, Round, Clip, Sub, Mul; the QONNX definition), same output names; unchanged
    when there is none or the default opset is below 11 (Round)."""
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    g = _Graph(model)
    opset = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=0)
    quants = {id(n) for n in g.nodes if n.op_type == "Quant" and n.domain.startswith("qonnx")}
    if not quants or opset < 11:
        return model
    out = onnx.ModelProto()
    out.CopyFrom(model)
    del out.graph.node[:]
    for node in g.nodes:
        ref = _quant_ref(g, node.output[0]) if id(node) in quants else None
        if ref is None:
            out.graph.node.append(node)
            continue
        x, scale, zero = node.input[0], node.input[1], node.input[2]
        t = [f"{node.output[0]}__bitsim_{i}" for i in range(5)]
        out.graph.initializer.extend(
            [
                numpy_helper.from_array(np.array(ref.lo, np.float32), t[0] + "_lo"),
                numpy_helper.from_array(np.array(ref.hi, np.float32), t[0] + "_hi"),
            ]
        )
        out.graph.node.extend(
            [
                helper.make_node("Div", [x, scale], [t[0]]),
                helper.make_node("Add", [t[0], zero], [t[1]]),
                helper.make_node("Round", [t[1]], [t[2]]),
                helper.make_node("Clip", [t[2], t[0] + "_lo", t[0] + "_hi"], [t[3]]),
                helper.make_node("Sub", [t[3], zero], [t[4]]),
                helper.make_node("Mul", [t[4], scale], [node.output[0]], name=node.name),
            ]
        )
    return out


def onnx_import(model, input_shapes=None, name: Optional[str] = None):
    """(Network, operands, model with fixed shapes): ``from_onnx`` and, per layer, the
    ``Operands`` of its convolution, linear layer or matrix product (None for the others), for
    ``bitsim.nets.capture.capture_onnx``."""
    try:
        import onnx
    except ImportError:
        raise MissingExtra("ONNX import needs onnx: pip install 'bitsim[onnx]'") from None
    if isinstance(model, str):
        try:
            model = onnx.load(model)
        except OSError as err:
            raise InputError(f"model: cannot read {model!r}: {err}") from None
        except Exception as err:  # noqa: BLE001 - protobuf decode errors
            raise InputError(f"model: {model!r} is not an ONNX file: {err}") from None
    _set_input_shapes(model, input_shapes)
    try:
        model = onnx.shape_inference.infer_shapes(model, strict_mode=False, data_prop=True)
    except Exception as err:  # noqa: BLE001 - inference errors name the node
        raise InputError(f"model: ONNX shape inference failed: {err}") from None
    g = _Graph(model)
    missing = [out for node in g.nodes for out in node.output if out and out not in g.shapes]
    if missing:
        g.shapes.update(_runtime_shapes(model, missing))
    layers: List[Any] = []
    operands: List[Optional[Operands]] = []
    declared: Dict[str, dict] = {}
    seen: Dict[str, int] = {}
    for node in g.nodes:
        base = node.name or node.output[0]
        seen[base] = seen.get(base, 0) + 1
        label = base if seen[base] == 1 else f"{base}_{seen[base] - 1}"
        layer = _layer(g, node, label, declared)
        if layer is not None:
            layers.append(layer)
            operands.append(_operands(g, node, layer) if layer.kind != "elementwise" else None)
    graph_name = name or model.graph.name or "onnx"
    return Network(graph_name, (), layers, declared), operands, model


def from_onnx(model, input_shapes=None, name: Optional[str] = None) -> Network:
    """The layers of an ONNX model (a path or an ``onnx.ModelProto``) with the widths its
    quantization nodes declare (``Network.declared``: layer name -> a_bits, a_signed, w_bits,
    w_signed)."""
    return onnx_import(model, input_shapes, name)[0]
