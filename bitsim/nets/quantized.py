"""Quantized PyTorch modules as reference float modules that ``torch.export`` can read.

Eager ``torch.ao`` quantized modules keep their weights packed (``torch.export`` refuses
them) and Brevitas layers compute their quantizers at run time (their export inlines the
quantizer arithmetic). ``reference(model, args, kwargs)`` returns a copy of the model in which
each such module is replaced, under the same name, by a float module that does the same
arithmetic on dequantized integers and writes its quantization as ``quantized_decomposed``
quantize/dequantize operations, the form PT2E leaves in a graph: the importer then reads their
widths (``bitsim.nets.pytorch``) and the capture their integers (``bitsim.nets.capture``).

* ``torch.ao.nn.quantized``: ``Quantize`` (QuantStub) quantizes with its scale and zero point,
  ``DeQuantize`` is the identity, ``Conv2d``, ``Linear`` (and their fused ``ConvReLU2d``,
  ``LinearReLU``) compute on the integer weights (``weight().int_repr()``, per tensor or per
  channel) dequantized, then quantize their output with the module's scale and zero point;
  ``QFunctional`` add/mul/add_relu/cat likewise. Dynamic ``Linear`` (qint8 weights) quantizes
  its input per example with min/max parameters to [0, 127] (fbgemm's reduce_range, which the
  module asks for), then computes as above without output quantization.
* Brevitas (``brevitas.nn``, if installed): ``QuantConv2d`` and ``QuantLinear`` compute on the
  integers of ``quant_weight()`` (bit width, signedness, scale and zero point as the module
  gives them), after their input quantizer when it is enabled; ``QuantIdentity``, ``QuantReLU``
  and ``QuantHardTanh`` apply their function, then the scale, zero point, bit width and
  signedness their activation quantizer reports on the example (the quantizer's parameters in
  eval mode). Other Brevitas modules are left as they are.

A module whose quantization does not fit these forms is an error naming it.
"""

from __future__ import annotations

import copy
from typing import Any, Dict, List, Optional, Tuple

import torch
from torch import nn
from torch.nn import functional as F

from bitsim._core.checks import InputError

__all__ = ["is_quantized", "reference"]


def _dtype(lo: int, hi: int):
    """The smallest torch integer dtype holding [lo, hi] (quantized_decomposed's choices)."""
    if lo >= 0 and hi <= 255:
        return torch.uint8
    if -128 <= lo and hi <= 127:
        return torch.int8
    if -(1 << 15) <= lo and hi < (1 << 15):
        return torch.int16
    return torch.int32


def _qd():
    import importlib

    importlib.import_module("torch.ao.quantization.fx._decomposed")  # registers the ops
    return torch.ops.quantized_decomposed


class _Affine:
    """One per-tensor affine quantization: q = clamp(round(v / scale) + zero, lo, hi)."""

    def __init__(self, scale: float, zero: int, lo: int, hi: int):
        self.scale, self.zero, self.lo, self.hi = float(scale), int(zero), int(lo), int(hi)

    def fake(self, x):
        """x through quantize_per_tensor and dequantize_per_tensor."""
        qd, dtype = _qd(), _dtype(self.lo, self.hi)
        args = (self.scale, self.zero, self.lo, self.hi, dtype)
        return qd.dequantize_per_tensor(qd.quantize_per_tensor(x, *args), *args)


class FakeQuant(nn.Module):
    """fn(x) (identity or relu) then a per-tensor quantization."""

    def __init__(self, quant: Optional[_Affine], fn: str = "identity"):
        super().__init__()
        self.quant, self.fn = quant, fn

    def forward(self, x):
        if self.fn == "relu":
            x = torch.relu(x)
        return self.quant.fake(x) if self.quant is not None else x


class Weighted(nn.Module):
    """A convolution or linear layer on dequantized integer weights (a buffer), with
    optional input and output quantization and a fused ReLU."""

    def __init__(self, kind, weight_q, scale, zero, axis, lo, hi, bias, conv=None,
                 inp=None, out=None, relu=False, dynamic=None):  # fmt: skip
        super().__init__()
        self.kind, self.axis, self.lo, self.hi = kind, axis, int(lo), int(hi)
        self.register_buffer("weight_q", weight_q.to(_dtype(lo, hi)))
        self.register_buffer("w_scale", torch.as_tensor(scale, dtype=torch.float32))
        self.register_buffer("w_zero", torch.as_tensor(zero, dtype=torch.int64))
        self.per_tensor = (float(scale), int(zero)) if axis is None else (1.0, 0)
        self.bias = None if bias is None else nn.Parameter(bias.detach().float().clone())
        self.conv, self.inp, self.out, self.relu, self.dynamic = conv, inp, out, relu, dynamic

    def weight(self):
        qd, dtype = _qd(), _dtype(self.lo, self.hi)
        if self.axis is None:
            args = (*self.per_tensor, self.lo, self.hi, dtype)
            return qd.dequantize_per_tensor(self.weight_q, *args)
        return qd.dequantize_per_channel(
            self.weight_q, self.w_scale, self.w_zero, self.axis, self.lo, self.hi, dtype
        )

    def forward(self, x):
        if self.inp is not None:
            x = self.inp.fake(x)
        if self.dynamic is not None:  # per-example min/max parameters
            qd = _qd()
            lo, hi = self.dynamic
            scale, zero = qd.choose_qparams.tensor(x, lo, hi, 1e-5, torch.uint8)
            q = qd.quantize_per_tensor.tensor(x, scale, zero, lo, hi, torch.uint8)
            x = qd.dequantize_per_tensor.tensor(q, scale, zero, lo, hi, torch.uint8)
        if self.kind == "conv":
            stride, padding, dilation, groups = self.conv
            y = F.conv2d(x, self.weight(), self.bias, stride, padding, dilation, groups)
        else:
            y = F.linear(x, self.weight(), self.bias)
        if self.relu:
            y = torch.relu(y)
        return self.out.fake(y) if self.out is not None else y


class Functional(nn.Module):
    """torch.ao's QFunctional: the float operation, then its output quantization."""

    def __init__(self, quant: _Affine):
        super().__init__()
        self.quant = quant

    def add(self, a, b):
        return self.quant.fake(a + b)

    def add_scalar(self, a, b):
        return self.quant.fake(a + b)

    def mul(self, a, b):
        return self.quant.fake(a * b)

    def mul_scalar(self, a, b):
        return self.quant.fake(a * b)

    def add_relu(self, a, b):
        return self.quant.fake(torch.relu(a + b))

    def cat(self, xs, dim: int = 0):
        return self.quant.fake(torch.cat(xs, dim))


def _quint8_range(dtype) -> Tuple[int, int]:
    return (0, 255) if dtype == torch.quint8 else (-128, 127)


def _weight_of_packed(qw):
    """(int weights, scale, zero, axis, lo, hi) of a torch quantized weight tensor."""
    lo, hi = _quint8_range(qw.dtype)
    if qw.qscheme() in (torch.per_channel_affine, torch.per_channel_symmetric):
        return (
            qw.int_repr(),
            qw.q_per_channel_scales().float(),
            qw.q_per_channel_zero_points(),
            int(qw.q_per_channel_axis()),
            lo,
            hi,
        )
    return qw.int_repr(), qw.q_scale(), qw.q_zero_point(), None, lo, hi


def _ao_replacement(module):
    """The reference module of an eager torch.ao quantized module, or None."""
    import torch.ao.nn.intrinsic.quantized as nniq
    import torch.ao.nn.quantized as nnq
    import torch.ao.nn.quantized.dynamic as nnqd

    if isinstance(module, nnq.Quantize):
        lo, hi = _quint8_range(module.dtype)
        return FakeQuant(_Affine(float(module.scale), int(module.zero_point), lo, hi))
    if isinstance(module, nnq.DeQuantize):
        return torch.nn.Identity()
    if isinstance(module, nnq.QFunctional):
        return Functional(_Affine(module.scale, module.zero_point, 0, 255))
    if isinstance(module, nnqd.Linear):
        if module._packed_params.dtype != torch.qint8:
            raise InputError(f"model: dynamic Linear with {module._packed_params.dtype} weights")
        w, s, z, axis, lo, hi = _weight_of_packed(module.weight())
        return Weighted("linear", w, s, z, axis, lo, hi, module.bias(), dynamic=(0, 127))
    if isinstance(module, (nnq.Conv2d, nnq.Linear)):
        w, s, z, axis, lo, hi = _weight_of_packed(module.weight())
        out = _Affine(module.scale, module.zero_point, 0, 255)
        relu = isinstance(module, (nniq.ConvReLU2d, nniq.LinearReLU))
        if isinstance(module, nnq.Conv2d):
            if module.padding_mode != "zeros":
                raise InputError(f"model: quantized Conv2d with padding_mode {module.padding_mode}")
            conv = (module.stride, module.padding, module.dilation, module.groups)
            return Weighted("conv", w, s, z, axis, lo, hi, module.bias(), conv, out=out, relu=relu)
        return Weighted("linear", w, s, z, axis, lo, hi, module.bias(), out=out, relu=relu)
    return None


def _brevitas_range(bits: int, signed: bool, narrow: bool = False) -> Tuple[int, int]:
    if signed:
        return -(1 << (bits - 1)) + int(narrow), (1 << (bits - 1)) - 1
    return 0, (1 << bits) - 1


def _brevitas_quant(qt) -> _Affine:
    """The per-tensor _Affine of a Brevitas IntQuantTensor (an error if per channel)."""
    scale, zero = qt.scale.detach().flatten(), qt.zero_point.detach().flatten()
    if scale.numel() != 1 or zero.numel() != 1:
        raise InputError("model: Brevitas activations quantized per channel are not supported")
    lo, hi = _brevitas_range(int(qt.bit_width), bool(qt.signed))
    return _Affine(float(scale), int(zero), lo, hi)


def _brevitas_replacement(module, seen: Dict[Any, Any]):
    """The reference module of a Brevitas layer, or None (``seen``: the activation quantizers'
    outputs on the example, by module)."""
    try:
        import brevitas.nn as qnn
    except ImportError:
        return None
    if isinstance(module, (qnn.QuantConv2d, qnn.QuantLinear)):
        qw = module.quant_weight()
        scale, zero = qw.scale.detach(), qw.zero_point.detach()
        lo, hi = _brevitas_range(int(qw.bit_width), bool(qw.signed))
        per_channel = scale.numel() > 1
        if per_channel:
            scale, zero = scale.flatten(), zero.flatten().round().long()
            if len(scale) != module.weight.shape[0]:
                raise InputError(f"model: Brevitas weight scales of {type(module).__name__}")
        else:
            scale, zero = float(scale), int(zero)
        w = qw.int().detach()
        inp = seen.get(module.input_quant)
        inp_q = _brevitas_quant(inp) if inp is not None else None
        bias = module.bias
        if isinstance(module, qnn.QuantConv2d):
            if module.padding_mode != "zeros" or isinstance(module.padding, str):
                raise InputError("model: Brevitas QuantConv2d with string or non-zero padding")
            conv = (module.stride, module.padding, module.dilation, module.groups)
            axis = 0 if per_channel else None
            return Weighted("conv", w, scale, zero, axis, lo, hi, bias, conv, inp=inp_q)
        axis = 0 if per_channel else None
        return Weighted("linear", w, scale, zero, axis, lo, hi, bias, inp=inp_q)
    for cls, fn in ((qnn.QuantReLU, "relu"), (qnn.QuantIdentity, "identity")):
        if isinstance(module, cls):
            out = seen.get(module.act_quant)
            return FakeQuant(_brevitas_quant(out) if out is not None else None, fn)
    return None


def _brevitas_types() -> tuple:
    try:
        import brevitas.nn as qnn
    except ImportError:
        return ()
    return (qnn.QuantConv2d, qnn.QuantLinear, qnn.QuantReLU, qnn.QuantIdentity)


def is_quantized(model) -> bool:
    """Whether the model has a module ``reference`` replaces."""
    import torch.ao.nn.quantized as nnq
    import torch.ao.nn.quantized.dynamic as nnqd

    kinds = (nnq.Quantize, nnq.DeQuantize, nnq.QFunctional, nnq.Conv2d, nnq.Linear, nnqd.Linear)
    kinds = kinds + _brevitas_types()
    return isinstance(model, nn.Module) and any(isinstance(m, kinds) for m in model.modules())


def _activation_quantizers(model, args: tuple, kwargs: dict) -> Dict[Any, Any]:
    """The output of every Brevitas activation quantizer (and enabled input quantizer) on the
    example, by quantizer module."""
    seen: Dict[Any, Any] = {}
    hooks: List[Any] = []
    brevitas = _brevitas_types()
    if not brevitas:
        return seen
    for m in model.modules():
        if isinstance(m, brevitas[:2]) and m.input_quant.is_quant_enabled:
            proxies = [m.input_quant]
        elif isinstance(m, brevitas[2:]):
            proxies = [m.act_quant]
        else:
            continue
        for proxy in proxies:
            hooks.append(
                proxy.register_forward_hook(lambda mod, _i, out: seen.setdefault(mod, out))
            )
    if not hooks:
        return seen
    try:
        with torch.no_grad():
            model(*args, **kwargs)
    finally:
        for h in hooks:
            h.remove()
    return seen


def reference(model, args: tuple, kwargs: dict):
    """A copy of ``model`` with its quantized modules replaced (see the module docstring);
    ``args``/``kwargs``: one example (Brevitas activation quantizers report on it)."""
    if not is_quantized(model):
        return model
    seen = _activation_quantizers(model, args, kwargs)
    out = copy.deepcopy(model)
    originals = dict(model.named_modules())
    for name, _ in list(out.named_modules()):
        if not name:
            continue
        source = originals[name]
        new = _ao_replacement(source)
        if new is None:
            new = _brevitas_replacement(source, seen)
        if new is not None:
            parent_name, _, child = name.rpartition(".")
            parent = out.get_submodule(parent_name) if parent_name else out
            setattr(parent, child, new)
    return out
