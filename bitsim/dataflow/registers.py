"""Bit flips of plain registers (forwarding and partial-sum registers between processing
elements), the carries of an adder, and the sign-magnitude operand encoding.

A register of ``bits`` bits holding integer values v_0, v_1, ... (two's complement, low ``bits``
bits) flips popcount(v_t XOR v_{t-1}) bits at step t; this is the same count as the MAC model's
(bitsim.sim.mac), and ``tests/dataflow/test_registers.py`` checks the two agree on the MAC's own
x, w and product registers.
"""

from __future__ import annotations

import numpy as np

from bitsim._core.checks import InputError, check_int

__all__ = ["adder_carries", "register_flips", "sign_magnitude"]

_POPCOUNT8 = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def _popcount(v: np.ndarray) -> np.ndarray:
    """Set bits of each uint64."""
    v = np.ascontiguousarray(v)
    return _POPCOUNT8[v.view(np.uint8)].reshape(*v.shape, 8).sum(axis=-1, dtype=np.uint64)


def register_flips(values, bits: int, previous) -> np.ndarray:
    """Flips of registers over time: ``values`` (T, ...) integers the registers take at
    consecutive steps, ``previous`` (...) what they held before (0 after reset); returns the
    total flips of each register (shape ``values.shape[1:]``, uint64).

    Values are int64 (any integer dtype is converted); their low ``bits`` bits (1..64) are the
    register. Memory: a few arrays of ``values``' size (callers pass bounded chunks).
    """
    bits = check_int(bits, "bits", 1, 64)
    v = np.asarray(values)
    if not np.issubdtype(v.dtype, np.integer):
        raise InputError(f"values: expected integers, found dtype {v.dtype}")
    mask = np.uint64((1 << bits) - 1)
    regs = v.astype(np.int64).view(np.uint64) & mask
    prev = (np.asarray(previous, dtype=np.int64).view(np.uint64) & mask)[None, ...]
    prev = np.broadcast_to(prev, (1, *regs.shape[1:]))
    seq = np.concatenate([prev, regs], axis=0)
    return _popcount(seq[1:] ^ seq[:-1]).sum(axis=0, dtype=np.uint64)


def adder_carries(a, b, bits: int) -> np.ndarray:
    """Carries of a ``bits``-bit ripple-carry adder adding the low ``bits`` bits of a and b
    (integers, two's complement): bit i is the carry out of bit position i, bit bits - 1 the
    adder's carry out; ((a + b) XOR a XOR b) shifted down one position over bits + 1 bits, the
    'carry' site of bitsim.sim.mac. Returned as int64 codes (the same bits)."""
    bits = check_int(bits, "bits", 1, 64)
    mask = np.uint64((1 << bits) - 1)
    au = np.asarray(a, dtype=np.int64).view(np.uint64) & mask
    bu = np.asarray(b, dtype=np.int64).view(np.uint64) & mask
    total = au + bu  # wraps modulo 2^64 only when bits == 64
    carries = (total ^ au ^ bu) >> np.uint64(1)
    if bits == 64:
        carries |= (total < au).astype(np.uint64) << np.uint64(63)
    return carries.view(np.int64)


def sign_magnitude(values, bits: int, name: str = "values") -> np.ndarray:
    """Sign-magnitude codes (int64: sign bit ``bits - 1``, magnitude below) of integers in
    [-(2^(bits-1) - 1), 2^(bits-1) - 1]; -2^(bits-1) has no code and is an error."""
    v = np.asarray(values, dtype=np.int64)
    top = (1 << (bits - 1)) - 1
    if v.size and (v.min() < -top or v.max() > top):
        bad = int(v.ravel()[np.flatnonzero((v.ravel() < -top) | (v.ravel() > top))[0]])
        raise InputError(
            f"{name}: sign-magnitude codes of {bits} bits hold [-{top}, {top}], found {bad}"
        )
    return np.where(v < 0, (1 << (bits - 1)) | -v, v)
