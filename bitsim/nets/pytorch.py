"""Import a PyTorch model's layers (optional extra ``bitsim[torch]``).

``from_torch(model, input_shape)`` traces the model with torch.fx, propagates the shape of a
batch-1 input and records, in execution order, every Conv2d and Linear, and the elementwise
layers: BatchNorm, ReLU/ReLU6, residual additions (``+``, ``+=``, ``torch.add``), elementwise
products, and max/average pooling. Shape-only operations (flatten, view, dropout, identity,
adaptive pooling that keeps the shape) are left out, as in the built-in networks; any other
operation is an error that names it. Layers are named after their modules; a functional
operation takes its enclosing module's name and the operation's ("layer1.0.add"), so a
torchvision-style ResNet imports as exactly the built-in list.
"""

from __future__ import annotations

import math
from typing import Dict, Optional, Sequence

from bitsim._core.checks import InputError, InputTypeError, MissingExtra, check_int
from bitsim.models.layers import Conv2d, Elementwise, Linear
from bitsim.nets.zoo import Network

__all__ = ["from_torch"]

_SHAPE_ONLY_FUNCTIONS = {
    "flatten",
    "view",
    "reshape",
    "size",
    "contiguous",
    "squeeze",
    "unsqueeze",
    "dropout",
    "getattr",
    "getitem",
    "permute",
    "transpose",
}


def _numel(node) -> int:
    return math.prod(node.meta["tensor_meta"].shape)


def _shape(node):
    return tuple(node.meta["tensor_meta"].shape)


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def _scope(node) -> str:
    stack = node.meta.get("nn_module_stack") or {}
    paths = [v[0] if isinstance(v, tuple) else v for v in stack.values()]
    return paths[-1] if paths and paths[-1] else ""


def _function_name(node) -> str:
    target = node.target
    if isinstance(target, str):
        return target.rstrip("_")
    name = getattr(target, "__name__", str(target))
    return {"iadd": "add", "imul": "mul"}.get(name, name).rstrip("_")


def _conv(name, mod, x):
    padding = mod.padding
    if isinstance(padding, str):  # 'valid' or 'same' (stride 1)
        padding = (
            (0, 0)
            if padding == "valid"
            else tuple(
                d * (k - 1) // 2 for k, d in zip(_pair(mod.kernel_size), _pair(mod.dilation))
            )
        )
    return Conv2d(
        name,
        mod.in_channels,
        mod.out_channels,
        _pair(mod.kernel_size),
        _shape(x)[2:],
        _pair(mod.stride),
        _pair(padding),
        _pair(mod.dilation),
        mod.groups,
        mod.bias is not None,
    )


def _pool(name, op, x, out, window):
    return Elementwise(name, op, _numel(out), window=window, inputs=_numel(x))


def _module_layer(name, mod, node, nn):
    x = node.args[0]
    if isinstance(mod, nn.Conv2d):
        return _conv(name, mod, x)
    if isinstance(mod, nn.Linear):
        return Linear(name, mod.in_features, mod.out_features, mod.bias is not None)
    if isinstance(mod, (nn.BatchNorm1d, nn.BatchNorm2d)):
        return Elementwise(name, "batchnorm", _numel(node))
    if isinstance(mod, nn.ReLU):
        return Elementwise(name, "compare", _numel(node))
    if isinstance(mod, (nn.ReLU6, nn.Hardtanh)):
        return Elementwise(name, "clip", _numel(node))
    if isinstance(mod, nn.MaxPool2d):
        kh, kw = _pair(mod.kernel_size)
        return _pool(name, "maxpool", x, node, kh * kw)
    if isinstance(mod, nn.AvgPool2d):
        kh, kw = _pair(mod.kernel_size)
        return _pool(name, "avgpool", x, node, kh * kw)
    if isinstance(mod, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
        if _shape(x) == _shape(node):
            return None
        (h, w), (oh, ow) = _shape(x)[2:], _shape(node)[2:]
        if h % oh or w % ow:
            raise InputError(f"model: {name} pools {h}x{w} to {oh}x{ow} with uneven windows")
        op = "avgpool" if isinstance(mod, nn.AdaptiveAvgPool2d) else "maxpool"
        return _pool(name, op, x, node, (h // oh) * (w // ow))
    if isinstance(mod, (nn.Dropout, nn.Identity, nn.Flatten)):
        return None
    raise InputError(f"model: unsupported module {name!r} of type {type(mod).__name__}")


def _function_layer(node, counts):
    fn = _function_name(node)
    if fn in _SHAPE_ONLY_FUNCTIONS:
        return None
    op = {"add": "add", "mul": "mul", "relu": "compare", "relu6": "clip"}.get(fn)
    if op is None:
        raise InputError(f"model: unsupported operation {fn!r} (node {node.name!r})")
    scope = _scope(node)
    base = f"{scope}.{fn}" if scope else fn
    counts[base] = counts.get(base, 0) + 1
    name = base if counts[base] == 1 else f"{base}_{counts[base] - 1}"
    tensors = sum(1 for a in node.args if hasattr(a, "meta") and "tensor_meta" in a.meta)
    return Elementwise(
        name, op, _numel(node), tensors=max(1, tensors) if op in ("add", "mul") else 1
    )


def from_torch(model, input_shape: Sequence[int], name: Optional[str] = None) -> Network:
    """The layers of a PyTorch module for one input of ``input_shape`` (C, H, W or features)."""
    try:
        import torch
        import torch.fx
        from torch import nn
        from torch.fx.passes.shape_prop import ShapeProp
    except ImportError:
        raise MissingExtra("from_torch needs PyTorch: pip install 'bitsim[torch]'") from None
    if not isinstance(model, nn.Module):
        raise InputTypeError(f"model: expected a torch.nn.Module, found {type(model).__name__}")
    if isinstance(input_shape, (str, bytes)) or not hasattr(input_shape, "__iter__"):
        raise InputTypeError(
            f"input_shape: expected a sequence of positive integers, found "
            f"{type(input_shape).__name__}"
        )
    shape = tuple(check_int(v, "input_shape", 1, 1 << 31) for v in input_shape)
    try:
        gm = torch.fx.symbolic_trace(model)
    except Exception as err:  # noqa: BLE001 - fx refuses data-dependent control flow, ...
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise InputError(
            f"model: torch.fx cannot trace {type(model).__name__} (control flow that depends "
            f"on the data, or an operation fx does not support): {reason}"
        ) from None
    was_training = model.training
    gm.eval()
    try:
        with torch.no_grad():
            ShapeProp(gm).propagate(torch.zeros((1, *shape)))
    except Exception as err:  # noqa: BLE001 - any failure of the model on that input
        raise InputError(
            f"input_shape: the model does not run on a batch of shape {(1, *shape)}: "
            f"{str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__}"
        ) from None
    finally:
        model.train(was_training)
    modules = dict(gm.named_modules())
    layers = []
    counts: Dict[str, int] = {}
    for node in gm.graph.nodes:
        if node.op == "call_module":
            layer = _module_layer(node.target, modules[node.target], node, nn)
        elif node.op in ("call_function", "call_method"):
            layer = _function_layer(node, counts)
        else:
            layer = None
        if layer is not None:
            layers.append(layer)
    return Network(name or type(model).__name__.lower(), shape, layers)
