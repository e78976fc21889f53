"""The C kernel's fused paths (int8/int16 arrays and uniform samplers of at most 16 bits, a
signed product, K >= the vector's 32-bit lanes; mac_kernel.h, "the narrow fused path") equal
the reference bit for bit: 32-bit partial sums (accumulator >= 32 bits, every sum fits 32 bits),
64-bit sums for accumulators of at most 32 bits and for wider ones that every sum fits (sums
within 48 bits), and the configurations next to them that take the general path. Runs are cut
into chunks and threads so that they start mid-vector and mid-dot-product."""

import itertools

import numpy as np
import pytest

import bitsim
from bitsim.sim.formats import IntFormat

from util import BACKEND_IDS, BACKENDS, assert_same, simulate_all


def assert_agree_with_threads(case, label=None, **data):
    """Every backend of the matrix and a 2-thread C run of simulate_mac(**data, **case) give the
    reference's counts (the message names ``label``, default the case)."""
    results = simulate_all(**data, **case)
    results["c-2-threads"] = bitsim.simulate_mac(**data, threads=2, **case)
    assert_same(results, case if label is None else label)


def operands(dtype, bits, signed, n, seed):
    fmt = IntFormat(bits, signed)
    rng = np.random.default_rng(seed)
    x = rng.integers(fmt.lo, fmt.hi, size=n, endpoint=True)
    x[::7] = fmt.hi  # long runs at the extremes: overflow for the narrow accumulators
    x[3::11] = fmt.lo
    return x.astype(dtype)


@pytest.mark.parametrize("dtype,bits", [(np.int8, 8), (np.int8, 3), (np.int16, 16), (np.int16, 11)])
@pytest.mark.parametrize("x_signed,w_signed", [(True, True), (False, True), (False, False)])
def test_arrays(dtype, bits, x_signed, w_signed):
    """Dot-product starts at every lane of a vector (K = 16, 17, 100), K = 4608 (32-bit sums for
    8-bit operands, 64-bit ones for 16-bit), accumulators from 20 to 64 bits; a length that is
    no multiple of 16 vectors, chunks that start runs mid-vector, and two threads."""
    n = 5000 + 37
    if not x_signed and bits == 8 * np.dtype(dtype).itemsize:
        bits -= 1  # unsigned values that the signed dtype holds
    x = operands(dtype, bits, x_signed, n, 1)
    w = operands(dtype, bits, w_signed, n, 2)
    for length, acc_bits in itertools.product((16, 17, 100, 4608), (20, 32, 40, 64)):
        case = dict(
            x_bits=bits,
            x_signed=x_signed,
            w_signed=w_signed,
            length=length,
            acc_bits=acc_bits,
            chunk_size=1111,
        )
        assert_agree_with_threads(x=x, w=w, case=case)


@pytest.mark.parametrize("bits", [1, 4, 8, 13, 16])
@pytest.mark.parametrize("signed", [True, False])
@pytest.mark.parametrize("acc_bits", [24, 32, 48])
def test_uniform_samplers(bits, signed, acc_bits):
    """The C kernel draws packed SplitMix64 operands for 16 vectors at a time: the same ones as
    numba and the reference."""
    case = dict(x_bits=bits, signed=signed, acc_bits=acc_bits, length=33, n=3001, seed=bits)
    assert_same(simulate_all(**case), case)


@pytest.mark.parametrize("x_bits,w_bits", [(8, 5), (16, 9)])
@pytest.mark.parametrize("x_signed,w_signed", [(True, False), (False, True)])
def test_uniform_samplers_mid_draw(x_bits, w_bits, x_signed, w_signed):
    """Chunks (1111 MACs) and threads start runs inside a draw's 2 or 4 packed containers and
    inside a group of 16 vectors; widths and signedness differ between x and w; dot products
    start at every lane (K = 17) or span many groups (K = 4608)."""
    for length, acc_bits in itertools.product((17, 4608), (24, 32, 40)):
        case = dict(
            x_bits=x_bits,
            w_bits=w_bits,
            x_signed=x_signed,
            w_signed=w_signed,
            length=length,
            acc_bits=acc_bits,
            n=9001,
            seed=length,
            chunk_size=1111,
        )
        assert_agree_with_threads(case=case)


@pytest.mark.parametrize("source", ["int16", "uniform16"])
@pytest.mark.parametrize("x_signed,w_signed", [(True, True), (False, True)])
def test_wide_accumulators(source, x_signed, w_signed):
    """Accumulators of 33..64 bits that every sum fits, with sums of up to 48 bits (mode 3: the
    acc and carry bits 32..47 counted from the 64-bit even/odd sums, those above from bit 47),
    and the widths next to them that overflow (general path): dot products that start at every
    lane (K = 17) or span many vectors (K = 4608), chunks of 1111 MACs, two threads."""
    n = 5000 + 37
    if source == "int16":
        data = dict(
            x=operands(np.int16, 15, x_signed, n, 1), w=operands(np.int16, 16, w_signed, n, 2)
        )
    else:
        data = dict(x="uniform", w="uniform", n=n, seed=3)
    bits = 15 if source == "int16" else 16
    for length, acc_bits in itertools.product((17, 4608), range(33, 65)):
        case = dict(
            x_bits=bits,
            w_bits=16,
            x_signed=x_signed,
            w_signed=w_signed,
            length=length,
            acc_bits=acc_bits,
            chunk_size=1111,
        )
        assert_agree_with_threads(**data, case=case)


def test_wide_sums_of_int8():
    """One endless dot product of int8 extremes: its sum passes 2**31 (mode 3 for 8-bit
    operands) and, with a 40-bit accumulator, stays inside it."""
    n = 140_000
    x = np.full(n, -128, np.int8)
    w = np.full(n, -128, np.int8)
    x[::5] = 127
    for acc_bits in (40, 64):
        case = dict(x_bits=8, length=None, acc_bits=acc_bits, chunk_size=30_001)
        assert_agree_with_threads(x=x, w=w, case=case)


@pytest.mark.parametrize(
    "bits,signed", [(3, False), (8, False), (12, False), (16, False), (24, True), (32, True)]
)
def test_uniform_samplers_general_path(bits, signed):
    """The general path draws uniform operands 64 draws (64 << p operands) at a time, then cuts
    them into operands: unsigned products and operands wider than 16 bits, every packing (8, 4,
    2 per draw), runs that start mid-draw and cross those 64-draw runs (blocks, chunks of 1111
    MACs, two threads)."""
    case = dict(
        x_bits=bits, signed=signed, acc_bits=64, length=100, n=5003, seed=bits, chunk_size=1111
    )
    assert_agree_with_threads(case=case)


@pytest.mark.parametrize("bits", [1, 5, 8, 9, 16, 17, 32, 33])
@pytest.mark.parametrize("signed", [True, False])
def test_uniform_stream_definition(bits, signed):
    """Element i of a uniform stream of b-bit operands is the top b bits of container i mod 2**p
    (W = 64 >> p bits, from bit (i mod 2**p) W) of draw u_(i >> p) (bitsim._core.rng), computed
    here with Python integers: numba's and the reference's streams equal it from any start."""
    from bitsim._core.rng import GOLDEN, mix64, uniform_pack
    from bitsim.backends.jit.sampling import fetch as jit_fetch
    from bitsim.backends.reference.sampling import fetch as ref_fetch
    from bitsim.sim.operands import make_stream

    p = uniform_pack(bits)
    width = 64 >> p
    stream = make_stream("uniform", "x", IntFormat(bits, signed), seed=7, operand=0)
    expected = []
    for i in range(13, 13 + 50):
        u = mix64(stream.key + ((i >> p) + 1) * GOLDEN)
        v = ((u >> (i % (1 << p) * width)) & ((1 << width) - 1)) >> (width - bits)
        expected.append(v - (1 << bits) if signed and v >> (bits - 1) else v)
    assert ref_fetch(stream, 13, 50).tolist() == expected
    assert jit_fetch(stream, 13, 50).tolist() == expected


@pytest.mark.parametrize("source", ["int8", "int16", "uniform8", "uniform16"])
def test_endless_dot_product(source):
    """One endless dot product (length None) takes the fused path while base + count extreme
    products fit 32 bits (accumulators of 32 bits and more), 64 bits (at most 32) or 48 bits and
    the accumulator (more than 32; 16-bit operands, acc 64): overflows,
    extremes and the sum after equal the reference's, in one run, in chunks and on two threads
    (whose second range starts from a large sum)."""
    bits = 8 if source.endswith("8") else 16
    if source.startswith("int"):
        dtype = np.int8 if bits == 8 else np.int16
        data = dict(x=operands(dtype, bits, True, 6001, 5), w=operands(dtype, bits, True, 6001, 6))
    else:
        data = dict(n=6001, seed=bits)
    for acc_bits in (20, 32, 40, 64):
        case = dict(x_bits=bits, acc_bits=acc_bits, length=None, chunk_size=1111, **data)
        assert_agree_with_threads(case=case)


@pytest.mark.parametrize("dtype", [np.int8, np.int16])
def test_the_counters_spill_to_the_counts(dtype):
    """The carry-save counters spill every 4095 groups of 16 vectors (1,048,320 MACs for
    AVX-512's 16 lanes of 32 bits; int16 arrays split word 3's lanes into x's and w's counts
    there): a longer run, in chunks, equals the general path (the scalar kernel, checked
    against the reference above) and numba."""
    n = 1_100_000
    bits = 8 * np.dtype(dtype).itemsize
    x = operands(dtype, bits, True, n, 3)
    w = operands(dtype, bits, True, n, 4)
    case = dict(x_bits=bits, length=4608, acc_bits=32, chunk_size=300_000)
    results = {
        bid: bitsim.simulate_mac(x, w, backend=b, simd=s, **case)
        for bid, (b, s) in zip(BACKEND_IDS, BACKENDS)
        if b != "reference"
    }
    results["reference"] = results.pop("c-scalar")
    assert_same(results, case)


def wide_operands(pattern, n):
    """int16 operands whose partial sums cross the 32-bit range and its multiples of 2**32
    again and again: products of 2**30 (climb, descend), sums that swing across 2**31 - 1 and
    -2**31 (swing), and random full-range values with runs at the extremes (random)."""
    lo, hi = -(2**15), 2**15 - 1
    if pattern == "climb":
        return np.full(n, lo, np.int16), np.full(n, lo, np.int16)
    if pattern == "descend":
        return np.full(n, lo, np.int16), np.full(n, hi, np.int16)
    if pattern == "swing":  # up by 2**30 twice, then down and up: across +-2**31 at K > 4
        x = np.full(n, lo, np.int16)
        w = np.where(np.arange(n) % 4 < 2, lo, hi).astype(np.int16)
        w[::5] = lo  # a slow drift, so the crossings move across the lanes
        return x, w
    return operands(np.int16, 16, True, n, 7), operands(np.int16, 16, True, n, 8)


@pytest.mark.parametrize("pattern", ["climb", "descend", "swing", "random"])
def test_wide_sums_cross_the_32_bit_range(pattern):
    """int16 arrays whose sums outgrow 32 bits (64-bit lanes of even and odd MACs): overflow
    counts of accumulators of 12 to 32 bits (bounds that are multiples of 2**16 and ones that
    are not), extremes beyond +-2**31, dot products starting at every lane (K = 16, 17, 33),
    long ones (K = 4608) and one endless one, chunks that start runs mid-vector, two threads."""
    x, w = wide_operands(pattern, 3000 + 29)
    for length, acc_bits in itertools.product((16, 17, 33, 4608, None), (12, 16, 17, 31, 32)):
        case = dict(x_bits=16, length=length, acc_bits=acc_bits, chunk_size=1111)
        assert_agree_with_threads(x=x, w=w, case=case, label=case | {"pattern": pattern})


@pytest.mark.parametrize("dtype", [np.int8, np.int16])
@pytest.mark.parametrize("where", [0, 1, 4999, 70_000])
def test_out_of_range_values(dtype, where):
    """The range check reads 64 bytes per instruction: the first value outside the format is
    still the one named, in x or w, whatever the thread."""
    x = np.zeros(80_000, dtype=dtype)
    x[where] = 9
    x[where + 3] = -20
    for backend, simd in BACKENDS:
        for threads in (1, 2):
            with pytest.raises(ValueError, match=f"^x: .*found 9 at index {where}"):
                bitsim.simulate_mac(
                    x,
                    x[::-1].copy() * 0,
                    x_bits=4,
                    length=64,
                    backend=backend,
                    simd=simd,
                    threads=threads,
                )
            with pytest.raises(ValueError, match=f"^w: .*found 9 at index {where}"):
                bitsim.simulate_mac(
                    x * 0, x, x_bits=4, length=64, backend=backend, simd=simd, threads=threads
                )
