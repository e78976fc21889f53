"""What each processing element (PE) of a fold sees, cycle by cycle of the fold's stream.

For PE (r, c) of a fold whose top-left element is (row0, col0) of (Sr, Sc) (mapping.py), at
step t of the fold's T steps (X: N x K, W: K x M, operands.py):

========  =====================  =====================  ==========================
dataflow  x (activation)         w (weight)             partial sums
========  =====================  =====================  ==========================
ws        X[t, row0 + r]         W[row0 + r, col0 + c]  down the column: psum link
os        X[row0 + r, t]         W[t, col0 + c]         in the PE's accumulator
is        X[col0 + c, row0 + r]  W[row0 + r, t]         down the column: psum link
========  =====================  =====================  ==========================

The streamed operands move from PE to PE: in ws x enters at the left edge and each PE's x
register forwards it to its right neighbour; in os x moves right and w moves down; in is w
moves right. A PE's operand register is the register that forwards (Kung's systolic cell, as in
SCALE-Sim's ``code-examples/systolic-array-rtl``), so the flips of the forwarding registers are
the flips of the x and w registers. In ws and is the PE has no accumulator: it adds its product
to the partial sum arriving from the PE above and registers the sum, which moves down: the
partial-sum link register of PE (r, c) holds sum over r' <= r of the fold's products at step t.
The pipeline skew delays PE (r, c) by r + c cycles and does not change the order of its values;
registers hold their values in cycles without data (between folds, in PEs a fold leaves idle).
Not modelled: the path by which a stationary operand reaches its PE before a fold (SCALE-Sim
shifts it down the column over R cycles; only the change of the PE's own register is counted),
the drain of os results out of the array, and the memories.
"""

from __future__ import annotations

from typing import Tuple

import numpy as np

from bitsim.dataflow.mapping import Fold, Mapping
from bitsim.dataflow.operands import Gemm

__all__ = ["PSUM_DATAFLOWS", "FORWARDED", "fold_operands", "partial_sums"]

PSUM_DATAFLOWS = ("ws", "is")  # dataflows whose partial sums move between PEs
FORWARDED = {"ws": ("x",), "os": ("x", "w"), "is": ("w",)}  # operand registers that forward


def fold_operands(gemm: Gemm, mapping: Mapping, fold: Fold) -> Tuple[np.ndarray, np.ndarray]:
    """x and w of every PE of a fold at every step: two (T, rows_used, cols_used) arrays
    (read-only broadcast views of the operands, no copy)."""
    r0, ru, c0, cu = fold.row0, fold.rows_used, fold.col0, fold.cols_used
    x, w = gemm.x, gemm.w
    t = mapping.dims[2]
    shape = (t, ru, cu)
    if mapping.dataflow == "ws":
        xv = x[:, r0 : r0 + ru][:, :, None]
        wv = w[r0 : r0 + ru, c0 : c0 + cu][None, :, :]
    elif mapping.dataflow == "os":
        xv = x[r0 : r0 + ru, :].T[:, :, None]
        wv = w[:, c0 : c0 + cu][:, None, :]
    else:  # is
        xv = x[c0 : c0 + cu, r0 : r0 + ru].T[None, :, :]
        wv = w[r0 : r0 + ru, :].T[:, :, None]
    return np.broadcast_to(xv, shape), np.broadcast_to(wv, shape)


def partial_sums(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Partial sums leaving each PE of a ws or is fold: cumulative products down the rows
    (int64; exact while |sum| < 2^63, which callers check)."""
    return np.cumsum(x.astype(np.int64) * w.astype(np.int64), axis=1)
