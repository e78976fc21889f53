"""The counter-based random streams' constants and mixing function (SplitMix64, Steele, Lea &
Flood 2014). Draw j of a stream with key k is u_j = mix64(k + (j + 1) * GOLDEN), so any chunk of
a stream can be produced alone. A uniform stream of b-bit operands packs 2**p of them into one
draw (``uniform_pack``): element i is the top b bits of the W = 64 >> p bit container
c = i mod 2**p (bits [c W, c W + W)) of u_(i >> p), sign-extended for signed formats; alias
tables take one draw per element. csrc/operands.h, the numba backend and the numpy reference
compute the same values bit for bit."""

from __future__ import annotations

__all__ = ["GOLDEN", "MASK64", "mix64", "stream_key", "uniform_pack"]

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


def uniform_pack(bits: int) -> int:
    """log2 of the ``bits``-bit operands one draw of a uniform stream gives: 3 for up to 8 bits,
    2 up to 16, 1 up to 32, 0 above (csrc/operands.h ``bitsim_uniform_pack``)."""
    return 3 if bits <= 8 else 2 if bits <= 16 else 1 if bits <= 32 else 0
