"""Operand streams for the numba kernels: elements [start, start + n) of a stream as int64.

Same values as ``bitsim.backends.reference.sampling.fetch`` and the C kernels'
``bitsim_source_load`` (no range check: ``bitsim.backends.dispatch`` checks arrays up front).
"""

import numpy as np
from numba import njit

from bitsim._core.rng import GOLDEN, uniform_pack

U64 = np.uint64
I64 = np.int64


@njit(cache=True)
def mix64(z):
    """SplitMix64 output function on a uint64 (wrapping arithmetic)."""
    z = (z ^ (z >> U64(30))) * U64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> U64(27))) * U64(0x94D049BB133111EB)
    return z ^ (z >> U64(31))


@njit(cache=True)
def _sample(key, start, n, bits, pack, is_signed, log2, keep, alias, values, use_table):
    out = np.empty(n, dtype=np.int64)
    shift = U64(64 - bits)
    width = U64(64 >> pack)
    cmask = U64((1 << pack) - 1)
    u = U64(0)
    for i in range(n):
        e = U64(start) + U64(i)
        if use_table:
            u = mix64(U64(key) + (e + U64(1)) * U64(GOLDEN))
            slot = (u >> U64(1)) >> U64(63 - log2)
            own = (u << U64(log2)) < keep[slot]
            out[i] = values[slot] if own else values[alias[slot]]
            continue
        c = e & cmask
        if i == 0 or c == U64(0):  # packed draws: 2**pack operands per draw
            u = mix64(U64(key) + ((e >> U64(pack)) + U64(1)) * U64(GOLDEN))
        top = (u >> (c * width)) << (U64(64) - width)
        if is_signed:
            out[i] = I64(top) >> I64(shift)  # arithmetic shift of the reinterpreted bits
        else:
            out[i] = I64(top >> shift)
    return out


def fetch(stream, start, n):
    """Elements [start, start + n) of an operand stream (array or sampler) as int64."""
    if stream.array is not None:
        return stream.array[start : start + n].astype(np.int64)
    t = stream.table
    empty_u64, empty_i64 = np.zeros(1, np.uint64), np.zeros(1, np.int64)
    return _sample(
        np.uint64(stream.key),
        start,
        n,
        stream.fmt.bits,
        uniform_pack(stream.fmt.bits),
        stream.fmt.signed,
        0 if t is None else t.log2,
        empty_u64 if t is None else t.keep,
        np.zeros(1, np.uint32) if t is None else t.alias,
        empty_i64 if t is None else t.values,
        t is not None,
    )
