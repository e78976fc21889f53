"""Methods that cut bit flips without changing a result, as baselines to reproduce.

* Channel reordering: output channels (``axis='out'``) or input channels (``axis='in'``) are
  permuted so that consecutive channels' weights differ in few bits: an open tour over the
  Hamming distance between the channels' weight vectors (their two's complement codes in the
  layer's weight format), built greedily (nearest neighbour from channel 0) and improved by
  2-opt moves (segment reversals) until none shortens it or ``passes`` rounds are done (Li, Li &
  Chandra, ASP-DAC 2021, optimise operand Hamming distance the same way; no public code). The
  tour's length is exactly the flips of the w register of a PE that streams the weights over
  that axis (is streams output channels, os the window whose innermost axis is the input
  channel). Permuting input channels permutes x's channels and w's second axis together and
  changes no output; permuting output channels permutes the outputs, which the next layer reads
  in the same permuted order (its input channels permuted alike): no value changes.
* Zero-gating and sign-magnitude encoding: options of ``simulate_dataflow``.

``compare`` runs a baseline and a method on the same layer and tensors and reports the saving.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Tuple

import numpy as np

from bitsim._core.checks import InputError, check_choice, check_int
from bitsim.dataflow.operands import tensor_shapes
from bitsim.dataflow.simulate import DataflowFlips, simulate_dataflow

__all__ = ["AXES", "Comparison", "apply_order", "channel_order", "compare", "tour_length"]

AXES = ("out", "in")


def _codes(w: np.ndarray, bits: int) -> np.ndarray:
    """(rows, cols * bits) 0/1 float32 bit planes of the two's complement codes of w (rows,
    cols)."""
    u = w.astype(np.int64).view(np.uint64) & np.uint64((1 << bits) - 1)
    shifts = np.arange(bits, dtype=np.uint64)
    planes = (u[:, :, None] >> shifts) & np.uint64(1)
    return planes.reshape(w.shape[0], -1).astype(np.float32)


def hamming_matrix(vectors: np.ndarray, bits: int) -> np.ndarray:
    """Hamming distances (bits of ``bits``-bit codes that differ) between the rows of
    ``vectors`` (channels x values), exact (integer-valued float64)."""
    b = _codes(vectors, bits)
    ones = b.sum(axis=1, dtype=np.float64)
    common = b @ b.T
    return np.rint(ones[:, None] + ones[None, :] - 2 * common.astype(np.float64))


def tour_length(order: np.ndarray, dist: np.ndarray) -> int:
    """Length of the open tour visiting ``order``."""
    return int(dist[order[:-1], order[1:]].sum())


def _greedy(dist: np.ndarray) -> np.ndarray:
    n = len(dist)
    order = [0]
    free = np.ones(n, dtype=bool)
    free[0] = False
    for _ in range(n - 1):
        d = np.where(free, dist[order[-1]], np.inf)
        nxt = int(np.argmin(d))
        order.append(nxt)
        free[nxt] = False
    return np.array(order, dtype=np.int64)


def _two_opt(order: np.ndarray, dist: np.ndarray, passes: int) -> np.ndarray:
    """Reverse segments order[i+1 .. j] while one shortens the open tour (first improvement
    of each i, vectorised over j)."""
    n = len(order)
    for _ in range(passes):
        improved = False
        for i in range(n - 2):
            a, b = order[i], order[i + 1]
            js = np.arange(i + 2, n)
            c = order[js]
            d_next = np.append(order[js[:-1] + 1], -1)
            gain = dist[a, b] - dist[a, c]
            inner = d_next >= 0
            gain[inner] += dist[c[inner], d_next[inner]] - dist[b, d_next[inner]]
            k = int(np.argmax(gain))
            if gain[k] > 0:
                j = int(js[k])
                order[i + 1 : j + 1] = order[i + 1 : j + 1][::-1].copy()
                improved = True
        if not improved:
            break
    return order


def _channel_vectors(layer, w: np.ndarray, axis: str) -> np.ndarray:
    if layer.kind == "linear":
        return w if axis == "out" else w.T
    if layer.kind == "matmul":  # w is (K, M)
        return w.T if axis == "out" else w
    if axis == "out":
        return w.reshape(w.shape[0], -1)
    return np.moveaxis(w, 1, 0).reshape(w.shape[1], -1)


def channel_order(layer, w, axis: str = "out", passes: int = 4) -> np.ndarray:
    """A permutation of the layer's output or input channels (module docstring) from its
    weights ``w`` (PyTorch layout); ``passes`` rounds of 2-opt after the greedy tour (0: greedy
    only)."""
    check_choice(axis, "reorder", AXES)
    check_int(passes, "passes", 0)
    if layer.groups != 1:
        raise InputError(
            f"reorder: channels of grouped convolutions are not reordered, found groups "
            f"{layer.groups} in {layer.name!r}"
        )
    w = np.asarray(w)
    if w.shape != tensor_shapes(layer)[1]:
        raise InputError(f"w: expected shape {tensor_shapes(layer)[1]}, found {w.shape}")
    vectors = _channel_vectors(layer, w, axis)
    if len(vectors) < 3:
        return np.arange(len(vectors))
    dist = hamming_matrix(vectors, layer.w_format.bits)
    return _two_opt(_greedy(dist), dist, passes)


def apply_order(layer, x, w, order, axis: str) -> Tuple[np.ndarray, np.ndarray]:
    """(x, w) with the channels of ``axis`` in ``order``."""
    x, w = np.asarray(x), np.asarray(w)
    if layer.kind == "matmul":
        return (x, w[:, order]) if axis == "out" else (x[:, order], w[order])
    if axis == "out":
        return x, w[order]
    return x[order], w[:, order]


@dataclass
class Comparison:
    """A method against the baseline on one layer, array and dataflow."""

    baseline: DataflowFlips
    method: DataflowFlips

    @property
    def saving(self) -> float:
        """1 - flips per MAC with the method / without it (a fraction; negative: more)."""
        base = self.baseline.mean()
        return 1.0 - self.method.mean() / base if base else 0.0

    def to_dict(self) -> dict:
        out = self.method.to_dict()
        out["baseline"] = {"flips": self.baseline.mean_flips}
        out["saving"] = self.saving
        return out


def compare(
    layer,
    x,
    w,
    array,
    dataflow: str = "ws",
    *,
    reorder: Optional[str] = None,
    gating: bool = False,
    encoding: str = "twos",
    passes: int = 4,
    **kwargs,
) -> Comparison:
    """Simulate the layer as it is and with the methods (channel reordering along ``reorder``,
    zero-gating, an operand encoding); other keywords go to ``simulate_dataflow`` (both runs
    share them, so a sampled layer compares the same folds)."""
    base = simulate_dataflow(layer, x, w, array, dataflow, **kwargs)
    if reorder is not None:
        order = channel_order(layer, w, reorder, passes)
        x, w = apply_order(layer, x, w, order, reorder)
    options: Dict[str, object] = {"reorder": reorder}
    method = simulate_dataflow(
        layer, x, w, array, dataflow, gating=gating, encoding=encoding, options=options, **kwargs
    )
    return Comparison(base, method)
