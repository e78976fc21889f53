"""Number formats of operands: integers (two's complement or unsigned) and floating point."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Union

from bitsim._core.checks import InputError, InputTypeError

__all__ = ["BF16", "FP16", "FP32", "NAMED_FLOATS", "FloatFormat", "IntFormat", "parse_format"]


@dataclass(frozen=True)
class IntFormat:
    """An integer format: ``bits`` wide, two's complement when ``signed``."""

    bits: int
    signed: bool = True

    def __post_init__(self):
        if isinstance(self.bits, bool) or not isinstance(self.bits, int) or self.bits < 1:
            raise InputError(f"bits: expected an integer >= 1, found {self.bits!r}")

    @classmethod
    def of_range(cls, lo: int, hi: int) -> IntFormat:
        """The format of a quantizer's integers lo..hi: ceil(log2(hi - lo + 1)) bits (at least
        1), signed when lo < 0."""
        return cls(max(1, math.ceil(math.log2(hi - lo + 1))), lo < 0)

    @property
    def lo(self) -> int:
        return -(1 << (self.bits - 1)) if self.signed else 0

    @property
    def hi(self) -> int:
        return (1 << (self.bits - 1)) - 1 if self.signed else (1 << self.bits) - 1

    @property
    def is_float(self) -> bool:
        return False

    def describe(self) -> str:
        return f"{self.bits}-bit {'signed' if self.signed else 'unsigned'}"

    def __str__(self) -> str:
        return f"{'int' if self.signed else 'uint'}{self.bits}"


@dataclass(frozen=True)
class FloatFormat:
    """A binary floating-point format: sign bit, ``exponent`` bits, ``mantissa`` (fraction) bits."""

    exponent: int
    mantissa: int
    name: str = ""

    def __post_init__(self):
        for field in ("exponent", "mantissa"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(f"{field}: expected an integer >= 1, found {value!r}")

    @property
    def bits(self) -> int:
        return 1 + self.exponent + self.mantissa

    @property
    def signed(self) -> bool:
        return True

    @property
    def is_float(self) -> bool:
        return True

    def describe(self) -> str:
        return f"{self.name or 'float'} (e{self.exponent}m{self.mantissa})"

    def __str__(self) -> str:
        return self.name or f"e{self.exponent}m{self.mantissa}"


NumberFormat = Union[IntFormat, FloatFormat]

FP32 = FloatFormat(8, 23, "fp32")
FP16 = FloatFormat(5, 10, "fp16")
BF16 = FloatFormat(8, 7, "bf16")
NAMED_FLOATS = {f.name: f for f in (FP32, FP16, BF16)}


def parse_format(text, name: str = "format") -> NumberFormat:
    """'int8', 'uint4', 'fp32', 'fp16', 'bf16' or 'e5m10' as a format (formats pass through);
    errors name the argument ``name``."""
    if isinstance(text, (IntFormat, FloatFormat)):
        return text
    if not isinstance(text, str):
        raise InputTypeError(
            f"{name}: expected a name such as int8, uint4, fp32, bf16 or e5m10, "
            f"found {type(text).__name__}"
        )
    key = text.strip().lower()
    if key in NAMED_FLOATS:
        return NAMED_FLOATS[key]
    m = re.fullmatch(r"(u?)int(\d+)", key)
    if m and int(m.group(2)) >= 1:
        return IntFormat(int(m.group(2)), signed=not m.group(1))
    m = re.fullmatch(r"e(\d+)m(\d+)", key)
    if m and int(m.group(1)) >= 1 and int(m.group(2)) >= 1:
        return FloatFormat(int(m.group(1)), int(m.group(2)))
    raise InputError(
        f"{name}: expected a name such as int8, uint4, fp32, bf16 or e5m10, found {text!r}"
    )
