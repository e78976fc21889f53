"""Bad input gets a ValueError/TypeError that names the argument, what was expected and what
was found, on every backend; never a crash, a wrap-around or a wrong number."""

import numpy as np
import pytest

import bitsim

from util import ALL_BACKENDS


@pytest.mark.parametrize("backend,simd", ALL_BACKENDS)
@pytest.mark.parametrize(
    "x,bits,signed,found,index",
    [
        ([0, 8], 4, True, 8, 1),  # above a signed format
        ([-9, 0], 4, True, -9, 0),  # below it
        ([0, 1, -1], 4, False, -1, 2),  # negative for an unsigned format
        (np.array([0, 2**64 - 1], dtype=np.uint64), 8, True, 2**64 - 1, 1),  # not -1
        (np.array([3, 200], dtype=np.uint8), 7, False, 200, 1),
        (np.array([0, 2**40], dtype=np.int64), 32, False, 2**40, 1),
    ],
)
def test_values_outside_the_format(backend, simd, x, bits, signed, found, index):
    w = np.zeros(len(x), dtype=np.int64)
    with pytest.raises(ValueError) as err:
        bitsim.simulate_mac(x, w, x_bits=bits, signed=signed, backend=backend, simd=simd)
    msg = str(err.value)
    assert msg.startswith("x:") and f"found {found} at index {index}" in msg
    with pytest.raises(ValueError, match=r"^w: .*" + f"found {found} at index {index}"):
        bitsim.simulate_mac(w, x, x_bits=bits, signed=signed, backend=backend, simd=simd)


def test_out_of_range_value_far_into_a_threaded_stream():
    x = np.zeros(100_000, dtype=np.int16)
    x[77_777] = 300
    with pytest.raises(ValueError, match="found 300 at index 77777"):
        bitsim.simulate_mac(x, x, threads=2)


@pytest.mark.parametrize(
    "kwargs,exc,pattern",
    [
        (dict(x_bits=0, n=1), ValueError, r"x_bits: expected an integer in \[1, 32\], found 0"),
        (dict(x_bits=33, n=1), ValueError, r"x_bits: .* found 33"),
        (dict(w_bits=40, n=1), ValueError, r"w_bits: .* found 40"),
        (dict(x_bits=4.0, n=1), TypeError, r"x_bits: expected an integer, found float"),
        (dict(acc_bits=1, n=1), ValueError, r"acc_bits: expected an integer in \[2, 64\], found 1"),
        (dict(acc_bits=65, n=1), ValueError, r"acc_bits: .* found 65"),
        (
            dict(length=0, n=1),
            ValueError,
            r"length: expected an integer in \[1, 2\^63 - 1\], found 0",
        ),
        (dict(length=-3, n=1), ValueError, r"length: .* found -3"),
        (dict(length=2.5, n=1), TypeError, r"length: expected an integer, found float"),
        (dict(signed="yes", n=1), TypeError, r"x_signed: expected a bool, found str"),
        (dict(), ValueError, r"n: expected the number of MACs .* found None"),
        (dict(n=-1), ValueError, r"n: .* found -1"),
        (dict(n=1.5), TypeError, r"n: expected an integer, found float"),
        (dict(n=1, seed=-1), ValueError, r"seed: .* found -1"),
        (dict(n=1, seed=2**64), ValueError, r"seed: .* found 18446744073709551616"),
        (dict(n=1, seed="a"), TypeError, r"seed: .* found str"),
        (
            dict(n=1, backend="gpu"),
            ValueError,
            r"backend: expected one of c, numba, reference, found 'gpu'",
        ),
        (dict(n=1, simd="sse9"), ValueError, r"simd: expected one of .* found 'sse9'"),
        (dict(n=1, simd="avx2", backend="numba"), ValueError, r"simd: only the 'c' backend"),
        (dict(n=1, threads=0), ValueError, r"threads: .* found 0"),
        (dict(n=1, chunk_size=0), ValueError, r"chunk_size: .* found 0"),
        (
            dict(n=1, x="gaussian"),
            ValueError,
            r"x: expected one of uniform, normal, half-normal, laplace .* found 'gaussian'",
        ),
        (dict(n=1, progress=3), TypeError, r"progress: expected a bool or a callable, found int"),
    ],
)
def test_bad_arguments(kwargs, exc, pattern):
    with pytest.raises(exc, match=pattern):
        bitsim.simulate_mac(**kwargs)


@pytest.mark.parametrize(
    "x,exc,pattern",
    [
        (np.array([0.5, 1.0]), TypeError, r"x: expected an array of integers, found dtype float64"),
        (np.array([True, False]), TypeError, r"x: expected an array of integers, found dtype bool"),
        (np.array([1, 2], dtype=object), TypeError, r"x: .* found dtype object"),
        (["a", "b"], TypeError, r"x: .* found dtype <U1"),
        (
            np.zeros((2, 2), dtype=np.int8),
            ValueError,
            r"x: expected a 1-D array .* found shape \(2, 2\)",
        ),
        (np.int8(3), ValueError, r"x: expected a 1-D array .* found shape \(\)"),
    ],
)
def test_bad_arrays(x, exc, pattern):
    with pytest.raises(exc, match=pattern):
        bitsim.simulate_mac(x, np.zeros(2, dtype=np.int8))


def test_arrays_of_different_lengths():
    with pytest.raises(ValueError, match=r"x, w: expected arrays of equal length, found 3 and 2"):
        bitsim.simulate_mac([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match=r"n: expected 3 \(the operand arrays' length\), found 4"):
        bitsim.simulate_mac([1, 2, 3], "uniform", n=4)


@pytest.mark.parametrize(
    "scale,exc",
    [(-1.0, ValueError), (0, ValueError), (float("nan"), ValueError), ("big", TypeError)],
)
def test_bad_scales(scale, exc):
    with pytest.raises(exc, match=r"scale: expected a positive"):
        bitsim.Normal(scale)


def test_scale_too_wide_for_a_sampler_table():
    with pytest.raises(ValueError, match=r"scale: a normal distribution .* at most 2\*\*20"):
        bitsim.simulate_mac(bitsim.Normal(1e6), "uniform", x_bits=32, n=10)
