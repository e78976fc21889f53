"""Operand formats and operand streams: user arrays or seeded, counter-based samplers.

A stream is the sequence of values one MAC input register sees, in processing order. Sampled
streams are never materialised by the compiled kernel: element ``i`` of a stream with key ``k``
is derived from ``u_i = mix64(k + (i + 1) * GOLDEN)`` (SplitMix64, Steele, Lea & Flood 2014), so
any chunk of a stream can be produced alone and every result is identical whatever the chunk
size or thread count. ``bitsim.reference.sampling`` computes the same values with numpy.
"""
from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Optional

import numpy as np

from bitsim.distributions import AliasTable, Distribution, Uniform, resolve_distribution
from bitsim.formats import IntFormat

GOLDEN = 0x9E3779B97F4A7C15
MASK64 = (1 << 64) - 1


def mix64(z: int) -> int:
    """SplitMix64 output function on a Python int (the C kernel's ``bitsim_mix64``)."""
    z &= MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def stream_key(seed: int, operand: int) -> int:
    """Key of operand stream ``operand`` (0 = x, 1 = w) for a user seed in [0, 2**64)."""
    return mix64(mix64(seed) + (operand + 1) * GOLDEN)


def check_seed(seed) -> int:
    """The seed as an int in [0, 2**64), or a TypeError/ValueError naming ``seed``."""
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed: expected an integer in [0, 2**64), found {type(seed).__name__}")
    seed = int(seed)
    if not 0 <= seed <= MASK64:
        raise ValueError(f"seed: expected an integer in [0, 2**64), found {seed}")
    return seed


def check_int(value, name: str, lo: int, hi: Optional[int] = None) -> int:
    """``value`` as a Python int in [lo, hi] (hi None: unbounded), or a clear error."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}: expected an integer, found bool")
    try:
        value = operator.index(value)
    except TypeError:
        raise TypeError(f"{name}: expected an integer, found {type(value).__name__}") from None
    if value < lo or (hi is not None and value > hi):
        expected = f"in [{lo}, {hi}]" if hi is not None else f">= {lo}"
        raise ValueError(f"{name}: expected an integer {expected}, found {value}")
    return value


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

    def range_error(self, index: int) -> ValueError:
        value = int(self.array[index])
        return ValueError(
            f"{self.name}: expected integers in [{self.fmt.lo}, {self.fmt.hi}] "
            f"({self.fmt.describe()}), found {value} at index {index}")

    def check_range(self, start: int, stop: int) -> None:
        """Raise range_error for the first value of array[start:stop] outside the format."""
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
        raise TypeError(f"{name}: expected an array of integers, found dtype {arr.dtype}")
    if arr.ndim != 1:
        raise ValueError(
            f"{name}: expected a 1-D array of operands in processing order, found shape "
            f"{arr.shape}; flatten it in the order the processing element sees the values")
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
