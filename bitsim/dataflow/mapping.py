"""A convolution or linear layer mapped onto an R x C systolic array, with SCALE-Sim's conventions.

The layer is the matrix product O = X W of its im2col operands: X has N rows (output pixels,
``Conv2d.positions``; 1 for a linear layer; the rows of a MatMul) and K columns (the
dot-product length, ``layer.k``), W has K rows and M columns (output channels). SCALE-Sim
v2/v3 (Samajdar et al., ISPASS 2020; ``scalesim/topology_utils.py::calc_spatio_temporal_params``)
maps the three dimensions onto the array's rows (Sr), columns (Sc) and time (T):

=========  ==================  =====  =====  =====
dataflow   stationary operand  Sr     Sc     T
=========  ==================  =====  =====  =====
ws         weights             K      M      N
os         outputs             N      M      K
is         inputs              K      N      M
=========  ==================  =====  =====  =====

A layer larger than the array is cut into ceil(Sr / R) row folds and ceil(Sc / C) column
folds, visited column fold by column fold and, within one, row fold by row fold
(``scalesim/compute/systolic_compute_*.py``, loops ``for fc ...: for fr ...``). Each fold takes
(SCALE-Sim's demand matrices: fill, stream and drain, with the skew of the systolic pipeline)

* ws, is: 2R + C + T - 2 cycles (R cycles to load the stationary operand, T to stream, the rest
  to fill and drain the skewed pipeline);
* os: R + C + T - 2 cycles.

SCALE-Sim reports as "Total Cycles" the index of the last cycle of its demand matrix, counted
from 0, so ``cycles`` = folds x cycles per fold - 1, exactly as its COMPUTE_REPORT.csv (checked
by ``tests/dataflow/test_scalesim.py`` against scalesim 3.0.0). ``utilization`` is SCALE-Sim's
"Overall Util": MACs / (cycles x R x C); ``mapping_efficiency`` its "Mapping Efficiency", the
mean over folds of the share of processing elements a fold uses, Sr Sc / (folds R C).

SCALE-Sim has no padding and sizes outputs as ceil((H - KH + S) / S); a layer is compared with
the SCALE-Sim layer of the same operand matrices, whose input is (Ho - 1) S + KH rows high
(``scalesim_topology_row``). Grouped convolutions run one group after the other, each group
a GEMM of its own: the cycles of the groups add up. Dilation is not supported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Tuple

from bitsim._core.checks import InputError, check_choice, check_int

__all__ = ["DATAFLOWS", "Array", "Fold", "Mapping", "map_layer", "scalesim_topology_row"]

DATAFLOWS = ("ws", "os", "is")


@dataclass(frozen=True)
class Array:
    """An R x C systolic array of processing elements (PEs)."""

    rows: int
    cols: int

    def __post_init__(self):
        check_int(self.rows, "rows", 1, 1 << 16)
        check_int(self.cols, "cols", 1, 1 << 16)

    @classmethod
    def parse(cls, text: str, name: str = "array") -> "Array":
        """'32x32' -> Array(32, 32)."""
        parts = str(text).lower().split("x")
        try:
            rows, cols = (int(p) for p in parts)
        except ValueError:
            raise InputError(f"{name}: expected RxC (e.g. 32x32), found {text!r}") from None
        if rows < 1 or cols < 1:
            raise InputError(f"{name}: expected RxC with R, C >= 1, found {text!r}")
        return cls(rows, cols)

    @property
    def pes(self) -> int:
        return self.rows * self.cols

    def __str__(self) -> str:
        return f"{self.rows}x{self.cols}"


@dataclass(frozen=True)
class Fold:
    """One fold: rows [row0, row0 + rows_used) of Sr and columns [col0, col0 + cols_used) of Sc
    on the array's top-left PEs, its position ``index`` in SCALE-Sim's order."""

    index: int
    row0: int
    rows_used: int
    col0: int
    cols_used: int

    @property
    def pes(self) -> int:
        return self.rows_used * self.cols_used


@dataclass(frozen=True)
class Mapping:
    """One GEMM (N x K times K x M) of a layer on an array with a dataflow, ``groups`` times.

    Attributes: n (output pixels), k (dot-product length), m (output channels of one group),
    groups; sr, sc, t as in the module docstring.
    """

    array: Array
    dataflow: str
    n: int
    k: int
    m: int
    groups: int = 1

    def __post_init__(self):
        check_choice(self.dataflow, "dataflow", DATAFLOWS)
        for name in ("n", "k", "m", "groups"):
            check_int(getattr(self, name), name, 1)

    @property
    def dims(self) -> Tuple[int, int, int]:
        """(Sr, Sc, T)."""
        n, k, m = self.n, self.k, self.m
        return {"ws": (k, m, n), "os": (n, m, k), "is": (k, n, m)}[self.dataflow]

    @property
    def row_folds(self) -> int:
        return -(-self.dims[0] // self.array.rows)

    @property
    def col_folds(self) -> int:
        return -(-self.dims[1] // self.array.cols)

    @property
    def folds(self) -> int:
        """Folds of one group."""
        return self.row_folds * self.col_folds

    @property
    def cycles_per_fold(self) -> int:
        r, c, t = self.array.rows, self.array.cols, self.dims[2]
        return (r if self.dataflow == "os" else 2 * r) + c + t - 2

    @property
    def cycles(self) -> int:
        """SCALE-Sim's "Total Cycles": folds x cycles per fold - 1, summed over groups."""
        return self.groups * (self.folds * self.cycles_per_fold - 1)

    @property
    def macs(self) -> int:
        return self.groups * self.n * self.k * self.m

    @property
    def utilization(self) -> float:
        """SCALE-Sim's "Overall Util": MACs / (cycles x R x C), a fraction."""
        return self.macs / (self.cycles * self.array.pes)

    @property
    def mapping_efficiency(self) -> float:
        """SCALE-Sim's "Mapping Efficiency": mean share of PEs a fold uses, a fraction."""
        sr, sc, _ = self.dims
        return sr * sc / (self.folds * self.array.pes)

    def fold(self, index: int) -> Fold:
        """Fold ``index`` (0 .. folds - 1) of a group, in SCALE-Sim's order."""
        check_int(index, "fold", 0, self.folds - 1)
        fc, fr = divmod(index, self.row_folds)
        sr, sc, _ = self.dims
        r0, c0 = fr * self.array.rows, fc * self.array.cols
        return Fold(index, r0, min(self.array.rows, sr - r0), c0, min(self.array.cols, sc - c0))

    def all_folds(self) -> Iterator[Fold]:
        return (self.fold(i) for i in range(self.folds))

    def to_dict(self) -> dict:
        sr, sc, t = self.dims
        return {
            "array": str(self.array),
            "dataflow": self.dataflow,
            "gemm": {"n": self.n, "k": self.k, "m": self.m, "groups": self.groups},
            "sr": sr,
            "sc": sc,
            "t": t,
            "folds": self.groups * self.folds,
            "cycles": self.cycles,
            "macs": self.macs,
            "utilization": self.utilization,
            "mapping_efficiency": self.mapping_efficiency,
        }


def _check_layer(layer) -> None:
    if getattr(layer, "kind", None) not in ("conv", "linear", "matmul"):
        raise InputError(
            f"layer: expected a Conv2d, Linear or MatMul layer, found {type(layer).__name__}"
        )
    if layer.kind == "matmul" and layer.batch != 1:
        raise InputError(
            f"layer: one matrix product maps on the array, found a batch of {layer.batch} "
            f"(map each of {layer.name!r}'s products on its own)"
        )
    if layer.kind == "conv" and layer.dilation != (1, 1):
        raise InputError(
            f"layer: dilated convolutions are not supported, found dilation {layer.dilation}"
        )


def map_layer(layer, array: Array, dataflow: str) -> Mapping:
    """The Mapping of a Conv2d, Linear or MatMul layer (bitsim.models.layers) on ``array``."""
    _check_layer(layer)
    if not isinstance(array, Array):
        raise InputError(f"array: expected an Array, found {type(array).__name__}")
    groups = layer.groups
    return Mapping(array, dataflow, layer.positions, layer.k, layer.out_channels // groups, groups)


def scalesim_topology_row(layer) -> Tuple[int, int, int, int, int, int, int]:
    """SCALE-Sim's conv topology entry for one group of a layer with the same operand matrices:
    (IFMAP height, IFMAP width, filter height, filter width, channels, filters, stride)."""
    _check_layer(layer)
    if layer.kind == "linear":
        return (1, 1, 1, 1, layer.in_features, layer.out_features, 1)
    if layer.kind == "matmul":  # m output pixels of a 1 x m input, 1x1 filters, n filters
        return (1, layer.m, 1, 1, layer.k, layer.n, 1)
    (oh, ow), (kh, kw) = layer.output_hw, layer.kernel_hw
    sh, sw = layer.stride
    if sh != sw:
        raise InputError(f"layer: SCALE-Sim takes one stride, found {layer.stride}")
    g = layer.groups
    return (
        (oh - 1) * sh + kh,
        (ow - 1) * sw + kw,
        kh,
        kw,
        layer.in_channels // g,
        layer.out_channels // g,
        sh,
    )
