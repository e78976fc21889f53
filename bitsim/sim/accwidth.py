"""How wide must an accumulator be? Exact, weight-aware, statistical and measured answers.

A dot product of K terms x_i * w_i needs an accumulator that holds every partial sum
S_j = x_1 w_1 + ... + x_j w_j, j = 1..K (two's complement when the product is signed).

* Data-type bound (exact, tight): with products in [p_min, p_max] (the extreme products of the
  operand formats), the partial sums lie in [K min(p_min, 0), K max(p_max, 0)] and every value
  is reached by K copies of an extreme operand pair (``extreme_operands``), so the width that
  holds that range is the smallest that can never overflow. K = 4608 (3x3x512), 8 x 8 bits:
  28 bits signed (4608 * 128 * 128 < 2^27), 29 bits unsigned (4608 * 255 * 255 < 2^29); about
  b_x + b_w + log2(K), computed exactly here.
* The HCM paper (Karbachevsky et al. 2021, sec. 3.2, Fig. 4 caption) sizes the output as
  b_w * b_a + log2(k^2) + log2(n), multiplying the operand widths where they add: a product of
  b_a- and b_w-bit numbers has b_a + b_w bits, and summing n k^2 of them adds log2(n k^2) bits.
  For 8-bit operands and a 3x3x512 layer HCM gives 64 + 3.2 + 9 = 76.2 bits instead of 28.
* Weight-aware bound (accumulator-aware quantization, A2Q, Colbert et al. 2023): with the
  weights w_i of an output channel known and activations in [x_lo, x_hi] (0 <= x for unsigned
  activations, the one-sided case), S_j lies in [sum_i min(w_i x_lo, w_i x_hi),
  sum_i max(w_i x_lo, w_i x_hi)]; both ends are reached (each x_i at the end that maximises its
  term) and, as every term's extremes straddle 0, they bound every partial sum too. For signed
  activations this is ||w||_1 * 2^(b_x - 1) up to the asymmetry of two's complement; for
  unsigned ones sum(w_i > 0) * x_hi and sum(w_i < 0) * x_hi.
* Statistical estimate: with independent, identically distributed operands, S_K is about
  N(K mu, K sigma^2) (central limit; mu, sigma^2 of the product). The chance that some partial
  sum leaves [lo, hi] is at most 2 P(S_K outside [lo, hi]) (reflection principle: exact for a
  symmetric walk, conservative with drift); the estimate is the smallest width where that is
  <= eps.
* Measurement: ``measure`` simulates dot products with the compiled kernel (bounded memory) and
  records the width each one needed, so the overflow rate of every candidate width follows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Dict, Optional

import numpy as np

from bitsim._core.checks import (
    MAX_COUNT,
    InputError,
    check_bool,
    check_count,
    check_int,
    check_seed,
)
from bitsim._core.interrupt import Workers
from bitsim._core.progress import progress_callback
from bitsim._core.segments import DEFAULT_CHUNK, SEGMENT_MACS, ranges, segment_size
from bitsim._core.widths import (
    MAX_WIDTH,
    product_range,
    signed_width,
    unsigned_width,
    width_for_range,
)
from bitsim.backends.dispatch import select
from bitsim.sim.distributions import Uniform, resolve_distribution
from bitsim.sim.formats import IntFormat
from bitsim.sim.mac import MacConfig
from bitsim.sim.operands import Stream, as_operand_array, make_streams, stream_count

__all__ = [
    "MAX_WIDTH",
    "AccWidthMeasurement",
    "WeightAwareBound",
    "extreme_operands",
    "hcm_output_bits",
    "measure",
    "overflow_probability",
    "product_range",
    "signed_width",
    "statistical_bits",
    "unsigned_width",
    "upper_confidence",
    "weight_aware_bits",
    "width_for_range",
    "width_summary",
    "worst_case_bits",
]


def _formats(x_bits, w_bits, x_signed, w_signed):
    cfg = MacConfig(x_bits, w_bits, 64, x_signed, w_signed)
    return cfg.x_format, cfg.w_format, cfg.acc_signed


def worst_case_bits(
    k: int, x_bits: int, w_bits: int, x_signed: bool = True, w_signed: bool = True
) -> int:
    """Data-type bound: the smallest width no dot product of k terms can overflow (exact)."""
    k = check_int(k, "k", 1, MAX_COUNT)
    xf, wf, signed = _formats(x_bits, w_bits, x_signed, w_signed)
    pmin, pmax = product_range(xf, wf)
    return width_for_range(k * min(pmin, 0), k * max(pmax, 0), signed)


def extreme_operands(
    k: int,
    x_bits: int,
    w_bits: int,
    x_signed: bool = True,
    w_signed: bool = True,
    which: str = "max",
):
    """k copies of the operand pair whose product is the largest ('max') or smallest ('min'):
    the dot product that reaches the data-type bound."""
    xf, wf, _ = _formats(x_bits, w_bits, x_signed, w_signed)
    pairs = [(a, b) for a in (xf.lo, xf.hi) for b in (wf.lo, wf.hi)]
    pick = max if which == "max" else min
    a, b = pick(pairs, key=lambda p: p[0] * p[1])
    return np.full(k, a, dtype=np.int64), np.full(k, b, dtype=np.int64)


def hcm_output_bits(a_bits: int, w_bits: int, kernel: int, in_channels: int) -> float:
    """HCM's accumulator width, b_w * b_a + log2(k^2) + log2(n): documented, not recommended."""
    return w_bits * a_bits + math.log2(kernel * kernel) + math.log2(in_channels)


@dataclass
class WeightAwareBound:
    """Per-output-channel extreme dot products and widths, and the layer's width (their max)."""

    min_sum: np.ndarray
    max_sum: np.ndarray
    channel_bits: np.ndarray
    layer_bits: int


def weight_aware_bits(
    weights,
    x_bits: int,
    x_signed: bool = False,
    *,
    w_bits: Optional[int] = None,
    w_signed: bool = True,
) -> WeightAwareBound:
    """A2Q-style bound from integer weights, shape (out_channels, ...), and the operand formats.

    The extremes come from the weight values; the accumulator's signedness comes from the
    formats, as in the MAC (``MacConfig.acc_signed``): two's complement when either x or the
    weight format (``w_signed``, default signed) is signed, whatever signs the values happen
    to have. ``w_bits``, when given, checks the weights against the format (else only their
    sign against ``w_signed``)."""
    arr = np.asarray(weights)
    if arr.ndim < 1 or arr.size == 0:
        raise InputError(
            f"weights: expected a non-empty array of shape (out_channels, ...), "
            f"found shape {arr.shape}"
        )
    flat = as_operand_array(arr.reshape(len(arr), -1).ravel(), "weights")
    check_bool(w_signed, "w_signed")
    if w_bits is not None:
        Stream(
            "weights", IntFormat(check_int(w_bits, "w_bits", 1, 32), w_signed), flat
        ).check_range(0, len(flat))
    elif not w_signed and flat.size and flat.min() < 0:
        bad = int(np.flatnonzero(flat < 0)[0])
        raise InputError(
            f"weights: expected integers >= 0 (w_signed=False), found {int(flat[bad])} at "
            f"index {bad}"
        )
    w = flat.reshape(len(arr), -1).astype(object)
    xf = IntFormat(check_int(x_bits, "x_bits", 1, 32), bool(x_signed))
    lo_terms = np.minimum(w * xf.lo, w * xf.hi)
    hi_terms = np.maximum(w * xf.lo, w * xf.hi)
    mins, maxs = lo_terms.sum(axis=1), hi_terms.sum(axis=1)
    signed = bool(x_signed) or bool(w_signed)
    bits = np.array([width_for_range(int(a), int(b), signed) for a, b in zip(mins, maxs)])
    return WeightAwareBound(mins, maxs, bits, int(bits.max()) if len(bits) else 0)


def _moments(dist, fmt: IntFormat):
    """(E[v], E[v^2]) of an operand distribution on a format."""
    if isinstance(dist, Uniform):
        n = fmt.hi - fmt.lo + 1
        mean = (fmt.lo + fmt.hi) / 2
        return mean, (n * n - 1) / 12 + mean * mean
    values, probs = dist.pmf(fmt)
    v = values.astype(float)
    return float(probs @ v), float(probs @ (v * v))


def overflow_probability(width: int, k: int, mean: float, var: float, signed: bool) -> float:
    """Gaussian estimate that some partial sum of k terms leaves a width-bit accumulator."""
    fmt = IntFormat(width, signed)
    mu, sd = k * mean, math.sqrt(k * var)
    if sd == 0:
        return 0.0 if fmt.lo <= mu <= fmt.hi else 1.0
    upper = 0.5 * math.erfc((fmt.hi + 0.5 - mu) / (sd * math.sqrt(2)))
    lower = 0.5 * math.erfc((mu - fmt.lo + 0.5) / (sd * math.sqrt(2))) if signed else 0.0
    return min(1.0, 2 * (upper + lower))


def statistical_bits(
    k: int,
    x_bits: int,
    w_bits: int,
    x_signed: bool = True,
    w_signed: bool = True,
    x_dist="uniform",
    w_dist="uniform",
    eps: float = 1e-6,
) -> int:
    """Smallest width whose Gaussian overflow estimate is <= eps (never above worst_case_bits)."""
    k = check_int(k, "k", 1, MAX_COUNT)
    if not 0 < eps < 1:
        raise InputError(f"eps: expected a probability in (0, 1), found {eps}")
    xf, wf, signed = _formats(x_bits, w_bits, x_signed, w_signed)
    mx, mx2 = _moments(resolve_distribution(x_dist, "x_dist"), xf)
    mw, mw2 = _moments(resolve_distribution(w_dist, "w_dist"), wf)
    mean, var = mx * mw, mx2 * mw2 - (mx * mw) ** 2
    worst = worst_case_bits(k, x_bits, w_bits, x_signed, w_signed)
    for width in range(1, worst):
        if overflow_probability(width, k, mean, var, signed) <= eps:
            return width
    return worst


def upper_confidence(failures: int, trials: int, confidence: float = 0.95) -> float:
    """One-sided upper confidence bound of a rate: exact (Clopper-Pearson) with no failure,
    1 - (1 - confidence)^(1/trials); Wilson's score bound otherwise."""
    if trials == 0:
        return 1.0
    if failures == 0:
        return 1.0 - (1.0 - confidence) ** (1.0 / trials)
    z = _z_quantile(confidence)
    p = failures / trials
    centre = p + z * z / (2 * trials)
    margin = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials))
    return min(1.0, (centre + margin) / (1 + z * z / trials))


def _z_quantile(confidence: float) -> float:
    lo, hi = 0.0, 40.0  # bisection on the normal upper tail
    for _ in range(100):
        mid = (lo + hi) / 2
        if 0.5 * math.erfc(mid / math.sqrt(2)) > 1 - confidence:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


@dataclass
class AccWidthMeasurement:
    """Widths needed by simulated dot products of length k.

    ``hist[w]``: dot products whose partial sums all fit a w-bit accumulator but not w - 1 bits.
    """

    k: int
    x_bits: int
    w_bits: int
    x_signed: bool
    w_signed: bool
    dots: int
    seed: Optional[int]
    hist: np.ndarray
    min_partial_sum: Optional[int]
    max_partial_sum: Optional[int]
    confidence: float = 0.95
    distributions: Dict[str, str] = field(default_factory=dict)

    def overflows(self, width: int) -> int:
        """Dot products with a partial sum that a width-bit accumulator cannot hold."""
        return int(self.hist[width + 1 :].sum())

    def overflow_rate(self, width: int) -> float:
        return self.overflows(width) / self.dots if self.dots else 0.0

    def rates(self, widths=range(8, 65)) -> Dict[int, float]:
        return {w: self.overflow_rate(w) for w in widths}

    def smallest_width(self, eps: float = 0.0) -> int:
        """Smallest width whose observed overflow rate is <= eps."""
        return next(w for w in range(1, MAX_WIDTH) if self.overflow_rate(w) <= eps)

    def confident_width(self, eps: float) -> Optional[int]:
        """Smallest width whose upper confidence bound on the rate is <= eps (None: more dot
        products are needed to show any width meets eps)."""
        for w in range(1, MAX_WIDTH):
            if upper_confidence(self.overflows(w), self.dots, self.confidence) <= eps:
                return w
        return None

    def to_dict(self, eps: float = 1e-6) -> dict:
        return {
            "k": self.k,
            "x_bits": self.x_bits,
            "w_bits": self.w_bits,
            "x_signed": self.x_signed,
            "w_signed": self.w_signed,
            "dots": self.dots,
            "seed": self.seed,
            "eps": eps,
            "measured_bits": self.smallest_width(eps),
            "confident_bits": self.confident_width(eps),
            "confidence": self.confidence,
            "overflow_rates": {str(w): r for w, r in self.rates().items()},
            "min_partial_sum": self.min_partial_sum,
            "max_partial_sum": self.max_partial_sum,
        }


def measure(
    k: int,
    x="uniform",
    w="uniform",
    *,
    x_bits: int = 8,
    w_bits: Optional[int] = None,
    x_signed: bool = True,
    w_signed: bool = True,
    dots: Optional[int] = None,
    seed: int = 0,
    threads: int = 1,
    chunk_size: int = DEFAULT_CHUNK,
    backend: str = "c",
    simd: str = "auto",
    progress=None,
) -> AccWidthMeasurement:
    """Simulate dot products of k terms and record the accumulator width each one needs.

    x, w: operand arrays (length a multiple of k, in processing order) or samplers, as for
    ``bitsim.simulate_mac``; ``dots``: number of dot products (required with samplers).
    backend, simd, progress: as for ``bitsim.simulate_mac`` (progress counts dot products).
    Results do not depend on threads or chunk_size.
    """
    k = check_int(k, "k", 1, MAX_COUNT)
    cfg = MacConfig(x_bits, x_bits if w_bits is None else w_bits, 64, x_signed, w_signed, k)
    seed = check_seed(seed)
    threads = check_int(threads, "threads", 1, 1024)
    kernels = select(backend, simd, chunk_size)
    xs, ws = make_streams(x, w, cfg.x_format, cfg.w_format, seed)
    if xs.array is not None or ws.array is not None:
        length = stream_count(xs, ws, None)
        if length % k:
            raise InputError(f"x: expected a length that is a multiple of k = {k}, found {length}")
        if dots is not None and dots != length // k:
            raise InputError(f"dots: expected {length // k} (the arrays' length / k), found {dots}")
        dots = length // k
    elif dots is None:
        raise InputError(
            "dots: expected the number of dot products when both operands are sampled, found None"
        )
    dots = check_count(dots, "dots")
    if dots * k > MAX_COUNT:
        raise InputError(
            f"dots: expected dots x k <= 2^63 - 1 MACs, found {dots} x {k} = {dots * k}"
        )
    report = progress_callback(progress, unit="dot products")
    per_task = segment_size(dots, threads, max(1, SEGMENT_MACS // k))
    hist = np.zeros(MAX_WIDTH + 1, dtype=np.uint64)
    lo = hi = None
    with Workers(threads) as workers:
        parts = workers.imap(
            lambda r: kernels.dot_widths(cfg, xs, ws, r[0], r[1] - r[0]), ranges(dots, per_task)
        )
        for (_, done), (h, a, b) in zip(ranges(dots, per_task), parts):
            if report is not None:
                report(done, dots)
            hist += h
            lo = a if lo is None or (a is not None and a < lo) else lo
            hi = b if hi is None or (b is not None and b > hi) else hi
    sampled = xs.array is None or ws.array is None
    return AccWidthMeasurement(
        k,
        cfg.x_bits,
        cfg.w_bits,
        bool(x_signed),
        bool(w_signed),
        dots,
        seed if sampled else None,
        hist,
        lo,
        hi,
        distributions={s.name: "array" if s.array is not None else s.dist.name for s in (xs, ws)},
    )


def width_summary(
    k: int,
    x="uniform",
    w="uniform",
    *,
    x_bits: int = 8,
    w_bits: Optional[int] = None,
    x_signed: bool = True,
    w_signed: bool = True,
    dots: Optional[int] = None,
    eps: float = 1e-6,
    seed: int = 0,
    threads: int = 1,
    backend: str = "c",
    simd: str = "auto",
    progress=None,
) -> dict:
    """Every answer for one configuration: data-type bound, Gaussian estimate and measurement
    (smallest width with observed rate <= eps, and the one shown at 95% confidence);
    progress: of the measurement, as for ``measure``."""
    wb = x_bits if w_bits is None else w_bits
    if dots is not None and check_count(dots, "dots") == 0:
        raise InputError("dots: expected at least one dot product to measure a width, found 0")
    m = measure(
        k,
        x,
        w,
        x_bits=x_bits,
        w_bits=wb,
        x_signed=x_signed,
        w_signed=w_signed,
        dots=dots,
        seed=seed,
        threads=threads,
        backend=backend,
        simd=simd,
        progress=progress,
    )
    return {
        "worst_case_bits": worst_case_bits(k, x_bits, wb, x_signed, w_signed),
        "statistical_bits": statistical_bits(k, x_bits, wb, x_signed, w_signed, x, w, eps),
        "measured_bits": m.smallest_width(eps),
        "confident_bits": m.confident_width(eps),
        "dots": m.dots,
        "min_partial_sum": m.min_partial_sum,
        "max_partial_sum": m.max_partial_sum,
    }
