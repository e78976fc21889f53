"""Two's complement and unsigned width arithmetic on exact (Python) integers."""

from __future__ import annotations

from typing import Tuple

__all__ = ["MAX_WIDTH", "product_range", "signed_width", "unsigned_width", "width_for_range"]

MAX_WIDTH = 129  # widest accumulator a dot product of 32 x 32-bit products can need, plus one


def signed_width(v: int) -> int:
    """Smallest two's complement width that holds v."""
    return 1 + (v if v >= 0 else -v - 1).bit_length()


def unsigned_width(v: int) -> int:
    """Smallest unsigned width (>= 1) that holds v >= 0."""
    return max(1, v.bit_length())


def width_for_range(lo: int, hi: int, signed: bool) -> int:
    """Smallest accumulator width holding every integer of [lo, hi]."""
    if signed:
        return max(signed_width(lo), signed_width(hi))
    if lo < 0:
        raise ValueError(f"an unsigned accumulator cannot hold {lo}")
    return unsigned_width(hi)


def product_range(x_fmt, w_fmt) -> Tuple[int, int]:
    """(smallest, largest) product of two integer formats (objects with ``lo`` and ``hi``)."""
    corners = [a * b for a in (x_fmt.lo, x_fmt.hi) for b in (w_fmt.lo, w_fmt.hi)]
    return min(corners), max(corners)
