"""The counter-based random streams' constants and mixing function (SplitMix64, Steele, Lea &
Flood 2014). Element i of a stream with key k derives from u_i = mix64(k + (i + 1) * GOLDEN), so
any chunk of a stream can be produced alone. csrc/operands.h, the numba backend and the numpy
reference compute the same values bit for bit."""

from __future__ import annotations

__all__ = ["GOLDEN", "MASK64", "mix64", "stream_key"]

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
