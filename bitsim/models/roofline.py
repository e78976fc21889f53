"""OPS roofline of a layer on an accelerator (HCM, Karbachevsky et al. 2021, sec. 4).

An accelerator is a silicon area filled with identical 3x3 processing elements (PEs), a clock
and a memory bandwidth. The PEs form the largest square array that fits the area (HCM places
7x7, 14x14 and 26x26 arrays where 60, 220 and 683 PEs would fit). Each PE does k^2 + 1
operations per clock (k^2 multiplies and one accumulation), so

    peak       = PEs x (k_pe^2 + 1) x clock                       [operations/s]
    required   = n x m x (k^2 + 1) x clock                        [to output one pixel per clock]
    OPS/bit    = layer operations / layer memory bits              (bitsim.models.costs)
    attainable = min(peak, bandwidth x OPS/bit)

and the layer is compute-bound when peak < bandwidth x OPS/bit, memory-bound otherwise.

HCM writes that its second example "requires 4.1 GOPS/s"; n m (k^2 + 1) x clock is
64 x 64 x 10 x 100 MHz = 4.1e12 operations/s (TOPS/s): a unit slip in the paper, which its
first example (524.288 TOPS/s for 256 x 256 x 10 x 800 MHz) confirms.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Callable

from bitsim._core.checks import InputError
from bitsim.models.costs import layer_cost
from bitsim.sim.formats import FP32, FloatFormat, NumberFormat, parse_format

__all__ = [
    "DDR4_2400_X64",
    "FP32_MULTIPLIER_UM2",
    "INT32_PE_UM2",
    "Accelerator",
    "RooflinePoint",
    "hcm_pe_area_um2",
    "roofline",
]

DDR4_2400_X64 = 2.4e9 * 64  # bits/s: DDR4 at 2.4 GT/s on a 64-bit bus, as in HCM
FP32_MULTIPLIER_UM2 = 11786.0  # HCM Table 1: 32-bit floating-point multiplier, TSMC 28 nm
INT32_PE_UM2 = 16676.0  # HCM sec. 4: extrapolated 3x3 PE of 32-bit fixed point


def hcm_pe_area_um2(fmt: NumberFormat) -> float:
    """Area of a 3x3 PE in um^2 (TSMC 28 nm), from HCM.

    b-bit fixed point: the quadratic fit of HCM Fig. 2, 12.39 b^2 + 86.07 b - 14.02, except at
    32 bits where HCM uses its extrapolated 16676 um^2; fp32: nine multipliers of Table 1.
    Other floating-point formats have no HCM figure: pass your own model.
    """
    if isinstance(fmt, FloatFormat):
        if fmt == FP32:
            return 9 * FP32_MULTIPLIER_UM2
        raise InputError(f"format: HCM gives no PE area for {fmt}; pass pe_area=")
    if fmt.bits == 32:
        return INT32_PE_UM2
    b = fmt.bits
    return 12.39 * b * b + 86.07 * b - 14.02


@dataclass(frozen=True)
class Accelerator:
    """Silicon area (mm^2), clock (Hz), memory bandwidth (bits/s), PE kernel and area model."""

    area_mm2: float
    clock_hz: float
    mem_bw_bits_per_s: float = DDR4_2400_X64
    pe_kernel: int = 3
    pe_area: Callable[[NumberFormat], float] = hcm_pe_area_um2

    def __post_init__(self):
        for name in ("area_mm2", "clock_hz", "mem_bw_bits_per_s"):
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not 0 < value < float("inf")
            ):
                raise InputError(f"{name}: expected a finite positive number, found {value!r}")

    def pes(self, fmt: NumberFormat) -> int:
        """PEs of the largest square array that fits the area."""
        area = self.pe_area(fmt)
        if not area > 0:
            raise InputError(f"pe_area: expected a positive area for {fmt}, found {area!r}")
        fit = int(self.area_mm2 * 1e6 // area)
        return math.isqrt(fit) ** 2

    def peak_ops_per_s(self, fmt: NumberFormat) -> float:
        return self.pes(fmt) * (self.pe_kernel**2 + 1) * self.clock_hz


@dataclass
class RooflinePoint:
    """One layer on one accelerator format. Rates in operations/s, OPS/bit in operations/bit."""

    layer: str
    format: str
    pes: int
    peak_ops_per_s: float
    required_ops_per_s: float
    ops_per_bit: float
    memory_roof_ops_per_s: float  # bandwidth x OPS/bit
    attainable_ops_per_s: float
    bound: str  # 'compute' or 'memory'
    meets_requirement: bool

    def to_dict(self) -> dict:
        return asdict(self)


def roofline(layer, accelerator: Accelerator, fmt) -> RooflinePoint:
    """The layer with weights, inputs and outputs in ``fmt`` on ``accelerator``."""
    fmt = parse_format(fmt)
    if layer.kind == "elementwise":
        raise InputError(
            f"layer: the OPS roofline models convolutions and linear layers, "
            f"found the elementwise layer {layer.name!r}"
        )
    cost = layer_cost(layer.with_formats(fmt, fmt, fmt))
    kh, kw = layer.kernel_hw
    n = layer.in_channels // layer.groups
    required = n * layer.out_channels * (kh * kw + 1) * accelerator.clock_hz
    peak = accelerator.peak_ops_per_s(fmt)
    memory_roof = accelerator.mem_bw_bits_per_s * cost.ops_per_bit
    attainable = min(peak, memory_roof)
    return RooflinePoint(
        layer.name,
        str(fmt),
        accelerator.pes(fmt),
        peak,
        required,
        cost.ops_per_bit,
        memory_roof,
        attainable,
        "compute" if peak < memory_roof else "memory",
        attainable >= required,
    )
