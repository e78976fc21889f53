"""The compiled core says which compiler built it (CI builds it with gcc and with clang)."""
import os
import re

from bitsim import _mac


def test_compiler_is_named():
    assert isinstance(_mac.COMPILER, str) and _mac.COMPILER.strip()
    assert re.fullmatch(r"(gcc|clang) \d+\.\d+\.\d+", _mac.COMPILER), _mac.COMPILER


def test_compiler_is_the_expected_one():
    """BITSIM_EXPECT_COMPILER=clang (CI's clang build): the core really was built by clang."""
    expected = os.environ.get("BITSIM_EXPECT_COMPILER")
    if expected:
        assert _mac.COMPILER.split()[0] == expected, _mac.COMPILER
