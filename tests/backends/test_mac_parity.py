"""C (every instruction set) == numba == numpy reference, bit for bit."""

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import bitsim
from bitsim.sim.formats import IntFormat

from util import all_pairs, assert_same, edge_cases, empty, layouts, simulate_all

SIGNS = list(itertools.product([True, False], repeat=2))


@pytest.mark.parametrize("x_bits,w_bits", list(itertools.product(range(1, 5), repeat=2)))
def test_exhaustive_small_widths(x_bits, w_bits):
    """Every operand pair of every signedness, dot lengths 1..5 and endless, for accumulators
    too narrow, just wide enough and wider than the product."""
    for x_signed, w_signed in SIGNS:
        x, w = all_pairs(IntFormat(x_bits, x_signed), IntFormat(w_bits, w_signed))
        for length in (1, 2, 3, 4, 5, None):
            for acc_bits in (2, x_bits + w_bits, x_bits + w_bits + 3):
                case = dict(
                    x_bits=x_bits,
                    w_bits=w_bits,
                    x_signed=x_signed,
                    w_signed=w_signed,
                    length=length,
                    acc_bits=acc_bits,
                )
                assert_same(simulate_all(x=x, w=w, **case), case)


@st.composite
def mac_cases(draw):
    x_bits, w_bits = draw(st.integers(1, 32)), draw(st.integers(1, 32))
    x_signed, w_signed = draw(st.booleans()), draw(st.booleans())
    fx, fw = IntFormat(x_bits, x_signed), IntFormat(w_bits, w_signed)
    n = draw(st.integers(0, 300))

    def operands(fmt):
        value = st.one_of(
            st.integers(fmt.lo, fmt.hi),
            st.sampled_from(sorted({fmt.lo, fmt.hi, 0, max(fmt.lo, -1)})),
        )
        return draw(st.lists(value, min_size=n, max_size=n))

    return dict(
        x=np.array(operands(fx), dtype=np.int64),
        w=np.array(operands(fw), dtype=np.int64),
        x_bits=x_bits,
        w_bits=w_bits,
        x_signed=x_signed,
        w_signed=w_signed,
        acc_bits=draw(st.integers(2, 64)),
        length=draw(st.one_of(st.none(), st.integers(1, 40))),
        chunk_size=draw(st.integers(1, 80)),
    )


@given(mac_cases())
def test_random_widths_up_to_32_bits(case):
    assert_same(simulate_all(**case), {k: v for k, v in case.items() if k not in "xw"})


@given(
    st.integers(1, 32),
    st.integers(1, 32),
    st.booleans(),
    st.sampled_from(["uniform", "normal", "half-normal", "laplace"]),
    st.integers(0, 2**64 - 1),
    st.one_of(st.none(), st.integers(1, 9)),
)
def test_samplers_agree_across_backends(x_bits, w_bits, signed, dist, seed, length):
    """Each backend draws the operands itself: equal counts mean equal samples."""
    case = dict(
        x=dist,
        w=dist,
        x_bits=x_bits,
        w_bits=w_bits,
        signed=signed,
        seed=seed,
        length=length,
        n=500,
        acc_bits=48,
    )
    if dist != "uniform" and max(x_bits, w_bits) > 20:
        case["x"] = case["w"] = bitsim.sim.distributions.resolve_distribution(dist, scale=1000.0)
    assert_same(simulate_all(**case), case)


@pytest.mark.parametrize("signed", [True, False])
@pytest.mark.parametrize("bits", [1, 8, 16, 24, 31, 32])
def test_edge_cases(bits, signed):
    fmt = IntFormat(bits, signed)
    values = list(edge_cases(fmt, 97))
    random = dict(values)["random"]
    pairs = list(itertools.product(values, repeat=2))
    pairs += [((f"x {name}", x), (f"w {name}", x[::-1])) for name, x in layouts(random, fmt)]
    pairs.append((("x empty", empty(fmt)), ("w empty", empty(fmt))))
    for (xname, x), (wname, w) in pairs:
        for acc_bits, length in ((64, None), (2 * bits, 7), (bits + 1, 1)):
            case = dict(
                x_bits=bits,
                signed=signed,
                acc_bits=min(acc_bits, 64),
                length=length,
                x_case=xname,
                w_case=wname,
            )
            assert_same(
                simulate_all(
                    x=x,
                    w=w,
                    x_bits=bits,
                    signed=signed,
                    acc_bits=min(acc_bits, 64),
                    length=length,
                    chunk_size=13,
                ),
                case,
            )


@pytest.mark.parametrize(
    "dtype", [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64]
)
def test_every_integer_dtype_reads_the_same(dtype):
    signed = np.issubdtype(dtype, np.signedinteger)
    rng = np.random.default_rng(1)
    x = rng.integers(-8 if signed else 0, 8, size=1000)
    w = rng.integers(-8 if signed else 0, 8, size=1000)
    base = bitsim.simulate_mac(x, w, x_bits=4, signed=signed, length=9)
    for bid, res in simulate_all(
        x=x.astype(dtype), w=w.astype(dtype), x_bits=4, signed=signed, length=9
    ).items():
        assert all(
            np.array_equal(res.flips_per_bit[s], base.flips_per_bit[s]) for s in bitsim.SITES
        ), bid


def test_strided_and_big_endian_arrays():
    rng = np.random.default_rng(2)
    x = rng.integers(-128, 128, size=2000)
    w = rng.integers(-128, 128, size=2000)
    base = bitsim.simulate_mac(x[::2].copy(), w[::2].copy(), length=5)
    strided = bitsim.simulate_mac(x[::2], w[::2], length=5)
    swapped = bitsim.simulate_mac(x[::2].astype(">i4"), w[::2].astype(">i2"), length=5)
    for res in (strided, swapped):
        assert all(
            np.array_equal(res.flips_per_bit[s], base.flips_per_bit[s]) for s in bitsim.SITES
        )


@pytest.mark.parametrize(
    "bits,acc_bits,length,x_signed,w_signed",
    [
        (8, 32, 4608, True, True),  # the C kernel's constant two-word layout, no overflow test
        (8, 32, None, True, False),  # ... with overflows (an endless dot product)
        (16, 32, 4608, False, False),  # the 16-bit constant layout, overflows
        (4, 16, 4608, True, True),  # one word
        (8, 64, 4608, True, True),  # three words: acc, carry, product + x + w
        (16, 64, None, True, False),  # ... with the widest product they take
        (20, 64, 4608, True, True),  # four words (the product is wider than 32 bits)
    ],
)
def test_long_runs_and_the_common_layouts(bits, acc_bits, length, x_signed, w_signed):
    """The C kernel's carry-save bit counters spill to the counts every 4095 groups of 16
    vectors (524160 MACs per word with AVX-512): runs past that point equal the reference, in
    the register layouts the kernel specialises (8- and 16-bit operands with a 32-bit
    accumulator; a 64-bit accumulator with products up to 32 bits) and others."""
    case = dict(
        x_bits=bits,
        acc_bits=acc_bits,
        length=length,
        x_signed=x_signed,
        w_signed=w_signed,
        n=600_000,
        seed=5,
    )
    assert_same(simulate_all(**case), case)
