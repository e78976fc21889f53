"""Backend selection: the choices, their errors, the instruction sets of this machine, and which
compiler built the C kernels (CI builds them with gcc and with clang)."""

import os
import re

import pytest

from bitsim.backends.dispatch import BACKENDS, SIMD_CHOICES, compiler, select, simd_levels


def test_compiler_is_named():
    assert re.fullmatch(r"(gcc|clang) \d+\.\d+\.\d+", compiler()), compiler()


def test_compiler_is_the_expected_one():
    """BITSIM_EXPECT_COMPILER=clang (CI's clang build): the kernels really were built by clang."""
    expected = os.environ.get("BITSIM_EXPECT_COMPILER")
    if expected:
        assert compiler().split()[0] == expected, compiler()


def test_simd_levels_are_ordered_and_scalar_always_runs():
    levels = simd_levels()
    assert levels[0] == "scalar" and levels == [s for s in SIMD_CHOICES[1:] if s in levels]


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_backend_has_every_kernel(backend):
    kernels = select(backend)
    for name in ("mac_run", "mac_tail", "dot_widths", "gates_run"):
        assert callable(getattr(kernels, name))


@pytest.mark.parametrize(
    "kwargs,pattern",
    [
        (dict(backend="gpu"), r"backend: expected one of c, numba, reference, found 'gpu'"),
        (dict(simd="sse9"), r"simd: expected one of auto, scalar, avx2, avx512, found 'sse9'"),
        (dict(backend="numba", simd="avx2"), r"simd: only the 'c' backend takes an instruction"),
        (dict(chunk=0), r"chunk_size: expected an integer in \[1, 67108864\], found 0"),
    ],
)
def test_bad_choices(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        select(**kwargs)
