"""Operand distributions of the built-in samplers, quantized onto an integer format.

Every distribution has a ``scale`` in units of the least significant bit (LSB). A sample is the
real value rounded to the nearest integer and clipped to the operand format, as a quantizer
with that step does:

* ``Uniform()``: every value of the format equally likely (the PANN paper's setting).
* ``Normal(scale)``: round(scale * Z), Z standard normal (weights, pre-activation values).
* ``HalfNormal(scale)``: round(scale * |Z|), never negative (post-ReLU activations).
* ``Laplace(scale)``: round(L), L Laplace with density exp(-|t| / scale) / (2 scale).

``scale=None`` means a quarter of the format's magnitude range: 2**(bits-1) / 4 for signed
formats, 2**bits / 4 for unsigned ones. A normal or Laplace distribution on an unsigned format
puts the clipped negative half at 0, like a ReLU.

Non-uniform samplers draw from an alias table (Walker 1977, Vose 1991) built here with exact
integer arithmetic: slot probabilities are resolved to 2**-64 of a slot, the table covers the
values within 40 scales of zero (64 for Laplace, whose tails are heavier; the mass beyond is
below 1e-27) and at most 2**20 values.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Dict, Optional, Tuple, Type

import numpy as np

from bitsim._core.checks import InputError, InputTypeError

__all__ = [
    "DISTRIBUTIONS",
    "MAX_TABLE_LOG2",
    "AliasTable",
    "Distribution",
    "HalfNormal",
    "Laplace",
    "Normal",
    "Uniform",
    "resolve_distribution",
]

MAX_TABLE_LOG2 = 20


@dataclass(frozen=True, eq=False)
class AliasTable:
    """Slot s keeps values[s] when (u << log2) < keep[s] and otherwise takes values[alias[s]]."""

    log2: int
    keep: np.ndarray  # uint64
    alias: np.ndarray  # uint32
    values: np.ndarray  # int64


@dataclass(frozen=True)
class Distribution:
    """Base class; subclasses define the survival function of the unquantized value."""

    name = "distribution"

    if TYPE_CHECKING:  # every concrete subclass defines it

        def pmf(self, fmt) -> Tuple[np.ndarray, np.ndarray]:
            """Values of the format with non-negligible probability, and their probabilities."""
            ...

    def alias_table(self, fmt) -> AliasTable:
        return _alias_table(self, fmt)


@dataclass(frozen=True)
class Uniform(Distribution):
    """Uniform over every value of the operand format."""

    name = "uniform"

    def pmf(self, fmt):
        values = np.arange(fmt.lo, fmt.hi + 1, dtype=np.int64)
        return values, np.full(len(values), 1.0 / len(values))


@dataclass(frozen=True)
class _Scaled(Distribution):
    scale: Optional[float] = None
    tail_scales = 40.0  # the table covers |value| <= tail_scales * scale

    if TYPE_CHECKING:  # defined by the subclasses that use _Scaled._mass

        @staticmethod
        def _sf(t: float, scale: float) -> float: ...

    def __post_init__(self):
        if self.scale is not None:
            if isinstance(self.scale, bool) or not isinstance(self.scale, (int, float, np.number)):
                raise InputTypeError(
                    f"scale: expected a positive number, found {type(self.scale).__name__}"
                )
            if not (math.isfinite(self.scale) and self.scale > 0):
                raise InputError(f"scale: expected a positive finite number, found {self.scale}")

    def scale_for(self, fmt) -> float:
        if self.scale is not None:
            return float(self.scale)
        return (1 << (fmt.bits - 1 if fmt.signed else fmt.bits)) / 4.0

    def _mass(self, a: float, b: float, scale: float) -> float:
        """P(a <= X < b) for the symmetric distributions, from the survival function S."""
        sf = self._sf
        if a >= 0:
            return sf(a, scale) - sf(b, scale)
        if b <= 0:
            return sf(-b, scale) - sf(-a, scale)
        return 1.0 - sf(b, scale) - sf(-a, scale)

    def pmf(self, fmt):
        """Values of the format with non-negligible probability, and their probabilities."""
        scale = self.scale_for(fmt)
        reach = math.ceil(self.tail_scales * scale)
        lo = max(fmt.lo, -reach, 0 if isinstance(self, HalfNormal) else fmt.lo)
        hi = min(fmt.hi, reach)
        lo = min(lo, hi)
        if hi - lo + 1 > 1 << MAX_TABLE_LOG2:
            raise InputError(
                f"scale: a {self.name} distribution with scale {scale:g} on {fmt.describe()} "
                f"operands spans {hi - lo + 1} values; the samplers support at most "
                f"2**{MAX_TABLE_LOG2}: use a smaller scale or pass operand arrays"
            )
        values = np.arange(lo, hi + 1, dtype=np.int64)
        edges = [-math.inf if v == fmt.lo else v - 0.5 for v in range(lo, hi + 1)]
        edges.append(math.inf)
        if lo > fmt.lo:  # the table starts inside the format: nothing below it is reachable
            edges[0] = -math.inf
        if hi < fmt.hi:
            edges[-1] = math.inf
        probs = np.array([self._mass(a, b, scale) for a, b in zip(edges[:-1], edges[1:])])
        return values, probs / probs.sum()


@dataclass(frozen=True)
class Normal(_Scaled):
    """round(scale * Z) with Z standard normal, clipped to the format."""

    name = "normal"

    @staticmethod
    def _sf(t: float, scale: float) -> float:
        return 0.5 * math.erfc(t / (scale * math.sqrt(2.0))) if t < math.inf else 0.0


@dataclass(frozen=True)
class HalfNormal(_Scaled):
    """round(scale * |Z|) with Z standard normal, clipped to the format (post-ReLU)."""

    name = "half-normal"

    def _mass(self, a: float, b: float, scale: float) -> float:
        a = max(a, 0.0)
        if b <= a:
            return 0.0
        return 2.0 * (Normal._sf(a, scale) - Normal._sf(b, scale))


@dataclass(frozen=True)
class Laplace(_Scaled):
    """round(L) with L Laplace of density exp(-|t| / scale) / (2 scale), clipped."""

    name = "laplace"
    tail_scales = 64.0

    @staticmethod
    def _sf(t: float, scale: float) -> float:
        return 0.5 * math.exp(-t / scale) if t < math.inf else 0.0


DISTRIBUTIONS: Dict[str, Type[Distribution]] = {
    cls.name: cls for cls in (Uniform, Normal, HalfNormal, Laplace)
}


def resolve_distribution(spec, name: str = "dist", scale: Optional[float] = None) -> Distribution:
    """A Distribution from an instance or one of the names in DISTRIBUTIONS."""
    if isinstance(spec, Distribution):
        return spec
    if spec not in DISTRIBUTIONS:
        raise InputError(
            f"{name}: expected one of {', '.join(DISTRIBUTIONS)} or a Distribution, found {spec!r}"
        )
    cls = DISTRIBUTIONS[spec]
    if not issubclass(cls, _Scaled):  # Uniform
        if scale is not None:
            raise InputError(f"scale: the uniform distribution takes no scale, found {scale}")
        return cls()
    return cls(scale)


@functools.lru_cache(maxsize=64)
def _alias_table(dist: Distribution, fmt) -> AliasTable:
    values, probs = dist.pmf(fmt)
    log2 = max(0, (len(values) - 1).bit_length())
    slots = 1 << log2
    one = 1 << 64  # the mass of one slot
    mass = [int(p * float(slots << 64)) for p in probs] + [0] * (slots - len(values))
    mass[int(np.argmax(probs))] += slots * one - sum(mass)  # exact total
    keep = [one] * slots
    alias = list(range(slots))
    small = [s for s in range(slots) if mass[s] < one]
    large = [s for s in range(slots) if mass[s] >= one]
    while small and large:  # Vose's alias method
        s, big = small.pop(), large[-1]
        keep[s], alias[s] = mass[s], big
        mass[big] -= one - mass[s]
        if mass[big] < one:
            small.append(large.pop())
    keep_table = np.array([min(k, one - 1) for k in keep], dtype=np.uint64)
    padded = np.zeros(slots, dtype=np.int64)
    padded[: len(values)] = values
    return AliasTable(log2, keep_table, np.array(alias, dtype=np.uint32), padded)
