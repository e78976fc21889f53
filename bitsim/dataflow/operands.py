"""The matrix operands of a layer: X (N x K, im2col of the input) and W (K x M), per group.

Orders follow SCALE-Sim (``scalesim/compute/operand_matrix.py``): output pixels row by row
(row ``oh * Wo + ow`` of X), and the K elements of a convolution window with channels
innermost, (kh, kw, c) (its ``calc_ifmap_elem_addr`` and ``calc_filter_elem_addr``). Tensors
come as PyTorch lays them out: input (C, H, W), weights (Cout, Cin / groups, KH, KW); a linear
layer's input (IN,) and weights (OUT, IN); a MatMul's (N, K) and (K, M) matrices. Padding is
zeros. Operands are kept in the smallest integer dtype that holds them, one group at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List

import numpy as np

from bitsim._core.checks import InputError, InputTypeError
from bitsim.backends.reference.sampling import fetch
from bitsim.sim.formats import IntFormat
from bitsim.sim.operands import make_stream

__all__ = ["Gemm", "layer_gemms", "sample_tensors", "tensor_shapes"]


@dataclass(frozen=True)
class Gemm:
    """One group's operands: ``x`` (N, K) and ``w`` (K, M), integers."""

    x: np.ndarray
    w: np.ndarray


def tensor_shapes(layer):
    """(input shape, weight shape) a layer's tensors must have."""
    if layer.kind == "linear":
        return (layer.in_features,), (layer.out_features, layer.in_features)
    if layer.kind == "matmul":
        return (layer.m, layer.k), (layer.k, layer.n)
    (h, w), (kh, kw) = layer.input_hw_pair, layer.kernel_hw
    cin = layer.in_channels
    return (cin, h, w), (layer.out_channels, cin // layer.groups, kh, kw)


def _formats(layer):
    out = []
    for name in ("a_format", "w_format"):
        fmt = getattr(layer, name)
        if fmt.is_float:
            raise InputError(f"{name}: expected an integer format, found {fmt} in {layer.name!r}")
        out.append(IntFormat(fmt.bits, fmt.signed))
    return out


def _checked(value, name: str, shape, fmt: IntFormat) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        raise InputTypeError(f"{name}: expected an array of integers, found dtype {arr.dtype}")
    if arr.shape != tuple(shape):
        raise InputError(f"{name}: expected shape {tuple(shape)}, found {arr.shape}")
    if arr.size and (arr.min() < fmt.lo or arr.max() > fmt.hi):
        bad = np.flatnonzero((arr.ravel() < fmt.lo) | (arr.ravel() > fmt.hi))[0]
        where = tuple(int(i) for i in np.unravel_index(bad, arr.shape))
        raise InputError(
            f"{name}: expected integers in [{fmt.lo}, {fmt.hi}] ({fmt.describe()}), found "
            f"{int(arr.ravel()[bad])} at index {where}"
        )
    small = np.result_type(np.min_scalar_type(fmt.lo), np.min_scalar_type(fmt.hi))
    return arr.astype(small, copy=False)


def layer_gemms(layer, x, w) -> List[Gemm]:
    """The (X, W) operands of every group of a Conv2d, Linear or MatMul layer, from its input
    ``x`` and weights ``w`` (integers in the layer's a_format and w_format)."""
    x_fmt, w_fmt = _formats(layer)
    x_shape, w_shape = tensor_shapes(layer)
    x = _checked(x, "x", x_shape, x_fmt)
    w = _checked(w, "w", w_shape, w_fmt)
    if layer.kind == "linear":
        return [Gemm(np.ascontiguousarray(x[None, :]), np.ascontiguousarray(w.T))]
    if layer.kind == "matmul":
        return [Gemm(np.ascontiguousarray(x), np.ascontiguousarray(w))]
    (ph, pw), (sh, sw) = layer.padding, layer.stride
    (kh, kw), (oh, ow) = layer.kernel_hw, layer.output_hw
    padded = np.pad(x, ((0, 0), (ph, ph), (pw, pw)))
    g, cg = layer.groups, layer.in_channels // layer.groups
    m = layer.out_channels // g
    out = []
    for i in range(g):
        part = padded[i * cg : (i + 1) * cg].transpose(1, 2, 0)  # (H, W, c)
        win = np.lib.stride_tricks.sliding_window_view(part, (kh, kw), axis=(0, 1))
        win = win[: (oh - 1) * sh + 1 : sh, : (ow - 1) * sw + 1 : sw]  # (oh, ow, c, kh, kw)
        gx = np.ascontiguousarray(win.transpose(0, 1, 3, 4, 2)).reshape(oh * ow, kh * kw * cg)
        gw = w[i * m : (i + 1) * m].transpose(0, 2, 3, 1).reshape(m, kh * kw * cg)
        out.append(Gemm(gx, np.ascontiguousarray(gw.T)))
    return out


def sample_tensors(layer, x_dist, w_dist, seed: int):
    """Input and weight tensors of a layer drawn from samplers (names or Distributions, as
    ``simulate_mac`` takes them) with bitsim's counter-based streams: the same seed gives the
    same tensors."""
    x_fmt, w_fmt = _formats(layer)
    x_shape, w_shape = tensor_shapes(layer)
    xs = make_stream(x_dist, "x_dist", x_fmt, seed, 0)
    ws = make_stream(w_dist, "w_dist", w_fmt, seed, 1)
    return (
        fetch(xs, 0, int(np.prod(x_shape))).reshape(x_shape),
        fetch(ws, 0, int(np.prod(w_shape))).reshape(w_shape),
    )
