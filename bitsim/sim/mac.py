"""Register-level MAC bit-flip simulation: the public API.

The model (README.md, "The MAC model", has a worked bit-level example):

* Each MAC loads activation x (``x_bits``) and weight w (``w_bits``) into input registers; each
  operand is signed (two's complement) or unsigned on its own.
* The product register holds p = x * w in ``x_bits + w_bits`` bits, two's complement when either
  operand is signed.
* The accumulator register (``acc_bits``) takes acc + p, p sign- or zero-extended, modulo
  2**acc_bits. The first term of each dot product of ``length`` K terms loads p itself, straight
  over the previous dot product's result (no idle clear cycle); ``length=None`` is one endless
  dot product. All registers start at zero.
* The accumulator adder is a ripple-carry adder of acc_bits bits. Its first input is the
  accumulator register, or 0 on the first term of a dot product (as the gate-level MAC,
  ``bitsim.circuits.multipliers.mac_circuit``, which adds ``acc ANDNOT first``); its second,
  the **addend**, is p sign- (signed product) or zero-extended to acc_bits. Its **carry** bit i
  is the carry out of bit position i (the carry into bit i + 1; bit acc_bits - 1 is the
  adder's carry out, computed and discarded as the register wraps), zero-delay: with first
  input a and addend b, bit i of (a + b) XOR a XOR b, shifted down one position, over acc_bits
  + 1 bits. These are exactly the carry nets of the gate-level adder (a test).
* The bit flips of a site are the Hamming distances between its consecutive values; the
  first MAC counts the flips from the reset state (every site 0).
* Sites (``SITES``): registers 'x', 'w', 'product', 'acc' and the adder's 'addend' and 'carry'
  nets. PANN's multiplier term P_mult corresponds to x + w + product (the multiplier's input and
  output registers), its accumulator term P_acc to addend + acc (the adder's input and the
  register, "the b_acc-bit output summed with the B-bit number in the FF"); bitsim's P_acc adds
  the carries, which PANN's model leaves out and the circuit has (``bitsim.models.power``).
* The accumulator is signed when the product is. A partial sum (the exact, unbounded sum of the
  products since the dot product started) overflows when it lies outside the accumulator's
  range; the register then holds it modulo 2**acc_bits, as hardware does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Optional

import numpy as np

from bitsim._core.checks import MAX_COUNT, check_bool, check_int, check_seed
from bitsim._core.progress import progress_callback
from bitsim._core.segments import DEFAULT_CHUNK, Counts, run_segments
from bitsim.backends.dispatch import select
from bitsim.sim.formats import IntFormat
from bitsim.sim.operands import make_streams, stream_count

__all__ = ["SITES", "MacConfig", "MacFlips", "prepare", "result", "simulate_mac"]

SITES = ("x", "w", "product", "acc", "addend", "carry")


@dataclass(frozen=True)
class MacConfig:
    """Widths and signedness of one MAC unit, and the dot-product length K (None: endless)."""

    x_bits: int = 8
    w_bits: int = 8
    acc_bits: int = 32
    x_signed: bool = True
    w_signed: bool = True
    length: Optional[int] = None

    def __post_init__(self):
        check_int(self.x_bits, "x_bits", 1, 32)
        check_int(self.w_bits, "w_bits", 1, 32)
        check_int(self.acc_bits, "acc_bits", 2, 64)
        for name in ("x_signed", "w_signed"):
            check_bool(getattr(self, name), name)
        if self.length is not None:
            check_int(self.length, "length", 1, MAX_COUNT)

    @property
    def x_format(self) -> IntFormat:
        return IntFormat(int(self.x_bits), bool(self.x_signed))

    @property
    def w_format(self) -> IntFormat:
        return IntFormat(int(self.w_bits), bool(self.w_signed))

    @property
    def product_bits(self) -> int:
        return self.x_bits + self.w_bits

    @property
    def acc_signed(self) -> bool:
        """The product, and so the accumulator, is signed when either operand is."""
        return bool(self.x_signed or self.w_signed)

    @property
    def acc_range(self):
        """(smallest, largest) value the accumulator register represents."""
        fmt = IntFormat(self.acc_bits, self.acc_signed)
        return fmt.lo, fmt.hi

    def site_bits(self, site: str) -> int:
        return {
            "x": self.x_bits,
            "w": self.w_bits,
            "product": self.product_bits,
            "acc": self.acc_bits,
            "addend": self.acc_bits,
            "carry": self.acc_bits,
        }[site]


@dataclass
class MacFlips:
    """Bit flips of a simulated MAC stream.

    Attributes
    ----------
    config : MacConfig
    macs : int
        Number of MACs simulated.
    seed : int or None
        Seed of the samplers (None when both operands were arrays).
    flips_per_bit : dict of str to ndarray of uint64
        For each site of ``SITES`` ('x', 'w', 'product', 'acc' registers, the adder's 'addend'
        and 'carry' nets), total bit flips of each bit position (index 0 = least significant
        bit), over all MACs.
    overflows : int
        Number of partial sums outside the accumulator's range.
    min_partial_sum, max_partial_sum : int or None
        Extremes of the exact partial sums (None when no MAC was simulated).
    """

    config: MacConfig
    macs: int
    seed: Optional[int]
    flips_per_bit: Dict[str, np.ndarray]
    overflows: int
    min_partial_sum: Optional[int]
    max_partial_sum: Optional[int]
    distributions: Dict[str, str] = field(default_factory=dict)

    def total(self, site: Optional[str] = None) -> int:
        """Total bit flips of one site, or of every site of ``SITES`` when ``site`` is None."""
        sites = SITES if site is None else (site,)
        return sum(int(self.flips_per_bit[s].sum()) for s in sites)

    def mean(self, site: Optional[str] = None) -> float:
        """Mean bit flips per MAC of one site, or of the whole MAC (0.0 for an empty run)."""
        return self.total(site) / self.macs if self.macs else 0.0

    @property
    def mean_flips(self) -> Dict[str, float]:
        """Mean bit flips per MAC of each site and in total ('total')."""
        out = {s: self.mean(s) for s in SITES}
        out["total"] = self.mean()
        return out

    def to_dict(self) -> dict:
        cfg = self.config
        return {
            "x_bits": cfg.x_bits,
            "w_bits": cfg.w_bits,
            "acc_bits": cfg.acc_bits,
            "x_signed": bool(cfg.x_signed),
            "w_signed": bool(cfg.w_signed),
            "length": cfg.length,
            "n": self.macs,
            "seed": self.seed,
            "distributions": dict(self.distributions),
            "flips": self.mean_flips,
            "flips_total": {s: self.total(s) for s in SITES},
            "flips_per_bit": {s: [int(v) for v in self.flips_per_bit[s]] for s in SITES},
            "overflows": self.overflows,
            "min_partial_sum": self.min_partial_sum,
            "max_partial_sum": self.max_partial_sum,
        }


def simulate_mac(
    x="uniform",
    w="uniform",
    *,
    x_bits: int = 8,
    w_bits: Optional[int] = None,
    acc_bits: int = 32,
    signed: bool = True,
    x_signed: Optional[bool] = None,
    w_signed: Optional[bool] = None,
    length: Optional[int] = None,
    n: Optional[int] = None,
    seed: int = 0,
    backend: str = "c",
    threads: int = 1,
    chunk_size: int = DEFAULT_CHUNK,
    simd: str = "auto",
    progress=None,
) -> MacFlips:
    """Count the bit flips of every register of a MAC unit over a stream of operands.

    Parameters
    ----------
    x, w : array_like of int, str or Distribution
        Activations and weights in the order the processing element sees them: 1-D integer
        arrays of equal length, or a sampler: 'uniform' (every value of the format equally
        likely, the PANN setting), 'normal', 'half-normal', 'laplace' or a
        ``bitsim.sim.distributions`` instance with a scale.
    x_bits, w_bits : int
        Operand widths, 1..32 (w_bits defaults to x_bits).
    acc_bits : int
        Accumulator width, 2..64.
    signed : bool
        Signedness of both operands; ``x_signed``/``w_signed`` override it per operand.
    length : int or None
        Dot-product length K >= 1; None for one endless dot product.
    n : int
        Number of MACs; required when both operands are sampled, else the arrays' length.
    seed : int
        Seed of the samplers, in [0, 2**64). The same seed gives the same operands and counts,
        whatever the backend, thread count or chunk size.
    backend : {'c', 'numba', 'reference'}
        The compiled kernel, the numba JIT kernel or the pure-numpy reference.
    threads : int
        Threads working on consecutive ranges of the stream (the C kernel releases the GIL);
        the merged counts equal the single-threaded ones exactly. In an endless dot product
        (``length=None``) each thread's piece first needs the sum of every product before it:
        the C backend sums them in vector lanes (int8/int16 arrays, uniform samplers of at
        most 16 bits, x and w of the same kind, products within 32 bits; 4-12x the rate of the
        main pass) and runs every other endless dot product on one thread, as that pass would
        cost more than a second thread saves.
    chunk_size : int
        MACs per internal block; memory use is bounded by it, results do not depend on it.
    simd : {'auto', 'scalar', 'avx2', 'avx512'}
        Instruction set of the C kernel ('auto': the best this CPU has).
    progress : bool or callable, optional
        True prints progress to stderr; a callable is called as progress(done, total).

    Returns
    -------
    MacFlips
        Bit flips per site and bit position (flips), overflow count and extreme partial sums.
    """
    kernels = select(backend, simd, chunk_size)
    threads = check_int(threads, "threads", 1, 1024)
    cfg, xs, ws, n, seed = prepare(
        x,
        w,
        x_bits=x_bits,
        w_bits=w_bits,
        acc_bits=acc_bits,
        signed=signed,
        x_signed=x_signed,
        w_signed=w_signed,
        length=length,
        n=n,
        seed=seed,
    )
    if cfg.length is None and threads > 1 and not kernels.mac_tail_vectorised(cfg, xs, ws):
        if kernels.name == "c":
            # a thread's piece of an endless dot product needs the sum of every product before
            # it: without the vectorised pass that costs more than a second thread saves
            threads = 1
    report = progress_callback(progress)
    return result(cfg, xs, ws, n, seed, run_segments(kernels, cfg, xs, ws, n, threads, report))


def prepare(
    x="uniform",
    w="uniform",
    *,
    x_bits=8,
    w_bits=None,
    acc_bits=32,
    signed=True,
    x_signed=None,
    w_signed=None,
    length=None,
    n=None,
    seed=0,
):
    """Checked (MacConfig, x stream, w stream, MAC count, seed) of simulate_mac's arguments."""
    x_signed = signed if x_signed is None else x_signed
    w_signed = signed if w_signed is None else w_signed
    cfg = MacConfig(
        x_bits, x_bits if w_bits is None else w_bits, acc_bits, x_signed, w_signed, length
    )
    seed = check_seed(seed)
    xs, ws = make_streams(x, w, cfg.x_format, cfg.w_format, seed)
    return cfg, xs, ws, stream_count(xs, ws, n), seed


def result(cfg, xs, ws, n, seed, part: Counts) -> MacFlips:
    """The MacFlips of a run whose merged counts are ``part``."""
    return MacFlips(
        config=cfg,
        macs=n,
        seed=None if xs.array is not None and ws.array is not None else seed,
        flips_per_bit={s: part.flips[i, : cfg.site_bits(s)].copy() for i, s in enumerate(SITES)},
        overflows=part.overflows,
        min_partial_sum=part.min_sum,
        max_partial_sum=part.max_sum,
        distributions={s.name: "array" if s.array is not None else s.dist.name for s in (xs, ws)},
    )
