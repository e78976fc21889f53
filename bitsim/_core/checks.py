"""Input validation shared by every public call.

Errors name the argument, say what was expected and what was found. They are ``InputError``
(a ValueError) or ``InputTypeError`` (also a TypeError), so the command line can tell a user's
mistake (one line, exit status 2) from a bug (a traceback).
"""

from __future__ import annotations

import operator
from typing import Optional, Sequence

import numpy as np

__all__ = [
    "InputError",
    "InputTypeError",
    "MASK64",
    "MAX_COUNT",
    "MissingExtra",
    "check_bool",
    "check_choice",
    "check_count",
    "check_int",
    "check_seed",
    "int_range",
]

MASK64 = (1 << 64) - 1
MAX_COUNT = (1 << 63) - 1  # the most MACs, vectors or dot-product terms the kernels count


class InputError(ValueError):
    """A bad argument: the message names it, what was expected and what was found."""


class InputTypeError(InputError, TypeError):
    """An argument of the wrong type."""


class MissingExtra(InputError, ImportError):
    """An optional dependency a call needs is not installed (the message says which extra)."""


def check_int(value, name: str, lo: int, hi: Optional[int] = None) -> int:
    """``value`` as a Python int in [lo, hi] (hi None: unbounded), or a clear error."""
    if isinstance(value, (bool, np.bool_)):
        raise InputTypeError(f"{name}: expected an integer, found bool")
    try:
        value = operator.index(value)
    except TypeError:
        raise InputTypeError(f"{name}: expected an integer, found {type(value).__name__}") from None
    if value < lo or (hi is not None and value > hi):
        raise InputError(f"{name}: expected an integer {int_range(lo, hi)}, found {value}")
    return value


def int_range(lo: int, hi: Optional[int]) -> str:
    """'in [lo, hi]' (2^k - 1 written so) or '>= lo' when hi is None."""
    if hi is None:
        return f">= {lo}"
    top = f"2^{hi.bit_length()} - 1" if hi > 1 << 32 and (hi + 1) & hi == 0 else str(hi)
    return f"in [{lo}, {top}]"


def check_count(value, name: str, hi: int = MAX_COUNT) -> int:
    """A count in [0, hi]; a float that is an integer (1e9 from a command line) is accepted."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return check_int(value, name, 0, hi)


def check_seed(seed) -> int:
    """The seed as an int in [0, 2**64), or an error naming ``seed``."""
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise InputTypeError(
            f"seed: expected an integer in [0, 2**64), found {type(seed).__name__}"
        )
    seed = int(seed)
    if not 0 <= seed <= MASK64:
        raise InputError(f"seed: expected an integer in [0, 2**64), found {seed}")
    return seed


def check_bool(value, name: str) -> bool:
    """``value`` as a bool (numpy bools accepted), or an error naming ``name``."""
    if not isinstance(value, (bool, np.bool_)):
        raise InputTypeError(f"{name}: expected a bool, found {type(value).__name__}")
    return bool(value)


def check_choice(value, name: str, choices: Sequence[str]) -> str:
    """``value`` if it is one of ``choices``, else an error listing them."""
    if not isinstance(value, str) or value not in choices:
        raise InputError(f"{name}: expected one of {', '.join(choices)}, found {value!r}")
    return value
