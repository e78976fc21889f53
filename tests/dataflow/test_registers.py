"""register_flips is the MAC model's flip count (checked on the MAC's own x, w and product
registers against the kernel) and sign_magnitude encodes as documented."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import bitsim
from bitsim._core.checks import InputError
from bitsim.dataflow.registers import adder_carries, register_flips, sign_magnitude


@given(
    st.integers(1, 12),
    st.lists(st.integers(-(1 << 11), (1 << 11) - 1), min_size=1, max_size=60),
)
def test_register_flips_equal_the_mac_kernel(bits, values):
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    x = np.clip(np.array(values), lo, hi)
    w = np.ones_like(x)
    r = bitsim.simulate_mac(x, w, x_bits=bits, w_bits=2, acc_bits=16, length=1)
    assert int(register_flips(x[:, None], bits, np.zeros(1))[0]) == r.total("x")
    assert int(register_flips((x * w)[:, None], bits + 2, np.zeros(1))[0]) == r.total("product")


def test_register_flips_by_hand():
    v = np.array([[1, 3], [-1, 3], [0, 0]])
    # column 0 over 4 bits: 0 -> 0001 -> 1111 -> 0000: 1 + 3 + 4; column 1 from 0011: 0, 0, 2
    assert register_flips(v, 4, np.array([0, 3])).tolist() == [8, 2]
    assert register_flips(np.array([[-1]]), 64, np.array([0])).tolist() == [64]
    strided = np.array([[1, -1, 0], [3, 3, 0]]).T  # not contiguous
    assert register_flips(strided, 4, np.array([0, 3])).tolist() == [8, 2]


def test_sign_magnitude():
    assert sign_magnitude(np.array([3, -3, 0, -1]), 4).tolist() == [3, 11, 0, 9]
    with pytest.raises(
        InputError, match=r"x: sign-magnitude codes of 4 bits hold \[-7, 7\], found -8"
    ):
        sign_magnitude(np.array([1, -8]), 4, "x")


@given(
    st.sampled_from([3, 8, 63, 64]),
    st.lists(st.integers(-128, 127), min_size=1, max_size=40),
)
def test_adder_carries_equal_the_mac_kernel(acc_bits, values):
    x = np.array(values)
    w = np.roll(x, 1)
    r = bitsim.simulate_mac(x, w, x_bits=8, acc_bits=acc_bits, length=None)
    products = x * w
    before = np.concatenate([[0], np.cumsum(products)[:-1]])  # the accumulator before each MAC
    carries = adder_carries(before, products, acc_bits)
    assert int(register_flips(carries[:, None], acc_bits, np.zeros(1))[0]) == r.total("carry")
