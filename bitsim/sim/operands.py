"""Operand formats and operand streams: user arrays or seeded, counter-based samplers.

A stream is the sequence of values one MAC input register sees, in processing order. Sampled
streams are never materialised by the compiled kernel: element ``i`` of a stream with key ``k``
is derived from the draw ``u_j = mix64(k + (j + 1) * GOLDEN)`` (SplitMix64, Steele, Lea & Flood
2014), j = i for alias tables and j = i >> p for uniform streams, which pack 2**p operands into
one draw (``bitsim._core.rng``), so any chunk of a stream can be produced alone and every result
is identical whatever the chunk size or thread count. ``bitsim.backends.reference.sampling``
computes the same values with numpy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from bitsim._core.checks import InputError, InputTypeError, check_count
from bitsim._core.rng import stream_key
from bitsim.sim.distributions import AliasTable, Distribution, Uniform, resolve_distribution
from bitsim.sim.formats import IntFormat

__all__ = ["Stream", "as_operand_array", "make_stream", "make_streams", "stream_count"]


@dataclass(frozen=True, eq=False)
class Stream:
    """One operand stream: a 1-D contiguous integer array, or a sampler with its key."""

    name: str
    fmt: IntFormat
    array: Optional[np.ndarray] = None
    dist: Optional[Distribution] = None
    key: int = 0
    table: Optional[AliasTable] = None

    @property
    def length(self) -> Optional[int]:
        return None if self.array is None else len(self.array)

    def range_error(self, index: int) -> InputError:
        assert self.array is not None  # only array streams are range-checked
        value = int(self.array[index])
        return InputError(
            f"{self.name}: expected integers in [{self.fmt.lo}, {self.fmt.hi}] "
            f"({self.fmt.describe()}), found {value} at index {index}"
        )

    def check_range(self, start: int, stop: int) -> None:
        """Raise range_error for the first value of array[start:stop] outside the format."""
        assert self.array is not None  # only array streams are range-checked
        part = self.array[start:stop]
        if part.size and (part.min() < self.fmt.lo or part.max() > self.fmt.hi):
            bad = np.flatnonzero((part < self.fmt.lo) | (part > self.fmt.hi))[0]
            raise self.range_error(start + int(bad))


def as_operand_array(value, name: str) -> np.ndarray:
    """A 1-D, C-contiguous, native-byte-order integer array, or a TypeError/ValueError.

    Strided input is copied; integer arrays of any width are kept as they are (the kernels read
    int8 ... uint64 directly), so no full-size int64 copy is made.
    """
    arr = np.asarray(value)
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        raise InputTypeError(f"{name}: expected an array of integers, found dtype {arr.dtype}")
    if arr.ndim != 1:
        raise InputError(
            f"{name}: expected a 1-D array of operands in processing order, found shape "
            f"{arr.shape}; flatten it in the order the processing element sees the values"
        )
    if not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    return np.ascontiguousarray(arr)


def make_stream(spec, name: str, fmt: IntFormat, seed: int, operand: int) -> Stream:
    """A stream from an array-like of integers, a distribution name or a Distribution."""
    if isinstance(spec, (str, Distribution)):
        dist = resolve_distribution(spec, name)
        table = None if isinstance(dist, Uniform) else dist.alias_table(fmt)
        return Stream(name, fmt, dist=dist, key=stream_key(seed, operand), table=table)
    return Stream(name, fmt, array=as_operand_array(spec, name))


def make_streams(x, w, x_fmt: IntFormat, w_fmt: IntFormat, seed: int):
    """The x (operand 0) and w (operand 1) streams of one simulation."""
    return make_stream(x, "x", x_fmt, seed, 0), make_stream(w, "w", w_fmt, seed, 1)


def stream_count(
    xs: Stream, ws: Stream, n, name: str = "n", what: str = "the number of MACs"
) -> int:
    """Operands per stream: the arrays' common length, or ``n`` when both are sampled (an
    explicit ``n`` must agree with the arrays)."""
    lengths = [s.length for s in (xs, ws) if s.length is not None]
    if len(lengths) == 2 and lengths[0] != lengths[1]:
        raise InputError(
            f"x, w: expected arrays of equal length, found {lengths[0]} and {lengths[1]}"
        )
    if n is None:
        if not lengths:
            raise InputError(f"{name}: expected {what} when both operands are sampled, found None")
        return lengths[0]
    n = check_count(n, name)
    if lengths and n != lengths[0]:
        raise InputError(f"{name}: expected {lengths[0]} (the operand arrays' length), found {n}")
    return n
