"""Reference operand streams: elements [start, start + n) of a stream as int64, with numpy."""

import numpy as np

from bitsim._core.rng import GOLDEN, uniform_pack

_U64 = np.uint64


def mix64(z: np.ndarray) -> np.ndarray:
    """SplitMix64 output function, elementwise on uint64 (wrapping arithmetic)."""
    z = (z ^ (z >> _U64(30))) * _U64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> _U64(27))) * _U64(0x94D049BB133111EB)
    return z ^ (z >> _U64(31))


def uniform_bits(key: int, start: int, n: int) -> np.ndarray:
    """u_i = mix64(key + (i + 1) * GOLDEN) for i in [start, start + n)."""
    i = np.arange(start + 1, start + n + 1, dtype=np.uint64)
    return mix64(_U64(key) + i * _U64(GOLDEN))


def _uniform(key: int, start: int, n: int, bits: int, signed: bool) -> np.ndarray:
    """Elements [start, start + n) of a uniform stream: the top bits of packed containers
    (``bitsim._core.rng``), sign-extended for signed formats."""
    p = uniform_pack(bits)
    width = 64 >> p
    i = np.arange(start, start + n, dtype=np.uint64)
    u = uniform_bits(key, start >> p, ((start + n - 1) >> p) - (start >> p) + 1 if n else 0)
    u = u[(i >> _U64(p)) - _U64(start >> p)]
    top = (u >> ((i & _U64((1 << p) - 1)) * _U64(width))) << _U64(64 - width)
    if signed:
        return top.view(np.int64) >> np.int64(64 - bits)
    return (top >> _U64(64 - bits)).astype(np.int64)


def fetch(stream, start: int, n: int) -> np.ndarray:
    """Elements [start, start + n) of an operand stream as int64."""
    if stream.array is not None:
        return stream.array[start : start + n].astype(np.int64)
    if stream.table is None:
        return _uniform(stream.key, start, n, stream.fmt.bits, stream.fmt.signed)
    u = uniform_bits(stream.key, start, n)
    t = stream.table
    slot = (u >> _U64(1)) >> _U64(63 - t.log2)
    own = (u << _U64(t.log2)) < t.keep[slot]
    return t.values[np.where(own, slot, t.alias[slot])]
