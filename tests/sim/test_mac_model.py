"""The MAC model on hand-worked examples (README.md, "The MAC model"), on every backend."""

import numpy as np
import pytest

import bitsim

from util import ALL_BACKENDS

EXAMPLE = dict(x=[1, -2, -1], w=[-1, -2, 1], x_bits=2, w_bits=2, acc_bits=4, signed=True, length=2)


@pytest.mark.parametrize("backend,simd", ALL_BACKENDS)
def test_worked_example(backend, simd):
    # registers:   x: 00 -> 01 -> 10 -> 11        w: 00 -> 11 -> 10 -> 01
    # product:  0000 -> 1111 (-1) -> 0100 (4) -> 1111 (-1)
    # acc:      0000 -> 1111 (-1) -> 0011 (-1 + 4 = 3) -> 1111 (new dot product: -1)
    # adder: 0000 + 1111 (first term: the first input is 0), 1111 + 0100, 0000 + 1111
    # addend:   0000 -> 1111 -> 0100 -> 1111 (the product, 4 bits wide like the accumulator)
    # carry out of each bit: 0000 -> 0000 -> 1100 (bits 2 and 3 carry) -> 0000
    r = bitsim.simulate_mac(backend=backend, simd=simd, **EXAMPLE)
    assert r.flips_per_bit["x"].tolist() == [3, 1]
    assert r.flips_per_bit["w"].tolist() == [3, 2]
    assert r.flips_per_bit["product"].tolist() == [3, 3, 1, 3]
    assert r.flips_per_bit["acc"].tolist() == [1, 1, 3, 3]
    assert r.flips_per_bit["addend"].tolist() == [3, 3, 1, 3]
    assert r.flips_per_bit["carry"].tolist() == [0, 0, 2, 2]
    assert r.mean_flips == {
        "x": 4 / 3,
        "w": 5 / 3,
        "product": 10 / 3,
        "acc": 8 / 3,
        "addend": 10 / 3,
        "carry": 4 / 3,
        "total": 41 / 3,
    }
    assert (r.overflows, r.min_partial_sum, r.max_partial_sum) == (0, -1, 3)


@pytest.mark.parametrize("backend,simd", ALL_BACKENDS)
def test_overflow_wraps_and_is_counted(backend, simd):
    # a 2-bit signed accumulator holds [-2, 1]: the partial sum 3 overflows and wraps to -1
    r = bitsim.simulate_mac(backend=backend, simd=simd, **{**EXAMPLE, "acc_bits": 2})
    assert r.flips_per_bit["acc"].tolist() == [1, 1]  # 00 -> 11 -> 11 -> 11
    assert (r.overflows, r.min_partial_sum, r.max_partial_sum) == (1, -1, 3)


@pytest.mark.parametrize("backend,simd", ALL_BACKENDS)
def test_unsigned_accumulator_endless(backend, simd):
    # unsigned 2-bit operands, 3-bit accumulator [0, 7], one endless dot product
    r = bitsim.simulate_mac(
        [3, 3, 1, 0], [3, 1, 2, 3], x_bits=2, acc_bits=3, signed=False, backend=backend, simd=simd
    )
    # products 9, 3, 2, 0 -> partial sums 9, 12, 14, 14: all overflow 3 bits, held mod 8
    assert (r.overflows, r.min_partial_sum, r.max_partial_sum) == (4, 9, 14)
    # acc register: 000 -> 001 -> 100 -> 110 -> 110
    assert r.flips_per_bit["acc"].tolist() == [2, 1, 1]
    # product register, 4 bits: 0000 -> 1001 -> 0011 -> 0010 -> 0000
    assert r.flips_per_bit["product"].tolist() == [2, 2, 0, 2]
    # addend, the product's low 3 bits: 000 -> 001 -> 011 -> 010 -> 000
    assert r.flips_per_bit["addend"].tolist() == [2, 2, 0]
    # adder 000 + 001, 001 + 011 (bits 0 and 1 carry), 100 + 010, 110 + 000
    assert r.flips_per_bit["carry"].tolist() == [2, 2, 0]


@pytest.mark.parametrize("backend,simd", ALL_BACKENDS)
def test_mixed_signedness(backend, simd):
    # x unsigned 2-bit, w signed 2-bit: the product (4-bit) and accumulator are signed
    r = bitsim.simulate_mac(
        [3, 2],
        [-2, 1],
        x_bits=2,
        x_signed=False,
        w_signed=True,
        acc_bits=4,
        backend=backend,
        simd=simd,
    )
    # products -6 (1010), 2 (0010); partial sums -6, -4 (1100), both inside [-8, 7]
    assert r.flips_per_bit["product"].tolist() == [0, 1, 0, 2]
    assert r.flips_per_bit["acc"].tolist() == [0, 2, 1, 1]  # 0000 -> 1010 -> 1100
    assert r.flips_per_bit["addend"].tolist() == [0, 1, 0, 2]  # 0000 -> 1010 -> 0010
    assert r.flips_per_bit["carry"].tolist() == [0, 1, 0, 0]  # 1010 + 0010 carries from bit 1
    assert (r.overflows, r.min_partial_sum, r.max_partial_sum) == (0, -6, -4)


@pytest.mark.parametrize("backend,simd", ALL_BACKENDS)
def test_empty_input_gives_zero_counts(backend, simd):
    r = bitsim.simulate_mac(
        np.array([], dtype=np.int8), np.array([], dtype=np.int8), backend=backend, simd=simd
    )
    assert r.macs == 0 and r.total() == 0 and r.overflows == 0
    assert r.min_partial_sum is None and r.mean() == 0.0
    r = bitsim.simulate_mac(n=0, backend=backend, simd=simd)
    assert r.macs == 0 and r.total() == 0


def test_uniform_input_registers_flip_half_their_bits():
    # independent uniform b-bit values: each bit flips with probability 1/2
    n = 200_000
    r = bitsim.simulate_mac(x_bits=6, w_bits=3, n=n, seed=7)
    for site in ("x", "w"):
        per_bit = r.flips_per_bit[site] / n
        assert np.all(np.abs(per_bit - 0.5) < 5 * np.sqrt(0.25 / n)), (site, per_bit)


def test_signed_accumulator_flips_its_sign_extension_bits():
    # with 4-bit signed operands, partial sums of a short dot product stay far below 2**31,
    # so the top bits of a 32-bit signed accumulator move together (sign extension), and
    # flip as often as each other
    r = bitsim.simulate_mac(x_bits=4, length=16, n=100_000, seed=3)
    top = r.flips_per_bit["acc"][12:]
    assert np.all(top == top[0]) and top[0] > 0
    u = bitsim.simulate_mac(x_bits=4, length=16, n=100_000, seed=3, signed=False)
    assert np.all(u.flips_per_bit["acc"][12:] == 0)  # unsigned sums stay below 2**12


@pytest.mark.parametrize("backend,simd", ALL_BACKENDS)
def test_carry_out_of_a_64_bit_accumulator(backend, simd):
    # unsigned 32-bit operands, 64-bit accumulator: (2^32 - 1)^2 = 2^64 - 2^33 + 1, twice,
    # carries out of bit 63 (the sum wraps); the adder's carry out is bit 63 of the carry site
    big = (1 << 32) - 1
    x = np.array([big, big, 1], dtype=np.uint64)
    r = bitsim.simulate_mac(x, x, x_bits=32, acc_bits=64, signed=False, backend=backend, simd=simd)
    p = big * big
    a, b = p, p  # second MAC: first input p, addend p
    carries = (((a + b) ^ a ^ b) >> 1) & ((1 << 64) - 1)
    assert carries >> 63 == 1
    expected = [(carries >> i & 1) * 2 for i in range(64)]  # 0 -> carries -> 0 (p + 1: no carry)
    third = (a + b) % (1 << 64)
    assert (third & 1) == 0  # so adding 1 carries nowhere
    assert r.flips_per_bit["carry"].tolist() == expected
    assert r.overflows == 2
