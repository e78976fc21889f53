"""PANN power of a layer in bit flips, from the MAC simulator or a closed form.

PANN (Spingarn-Eliezer et al., 2022, Tables 2, 7-9) charges a network MACs x (P_mult + P_acc)
bit flips, P_mult and P_acc the flips per MAC of the multiplier and the accumulator (eqs. 3, 4).
In bitsim's register model (bitsim.sim.mac) the multiplier's flips are those of its input
registers and its output register, P_mult = flips(x) + flips(w) + flips(product)
(``MULT_SITES``). PANN's P_acc counts the accumulator's input (the product, sign-extended in
signed arithmetic) and its register; bitsim's P_acc = flips(addend) + flips(carry) + flips(acc)
(``ACC_SITES``) adds the carries of the ripple-carry adder, which PANN leaves out and the
circuit has. P_mult + P_acc is the simulator's total over every site.

Closed form (``method="closed-form"``), for independent, identically distributed operands:

* x, w and product registers (exact): a register that takes independent values flips bit b
  with probability 2 q_b (1 - q_b), q_b = P(bit b = 1), so E[flips] = sum_b 2 q_b (1 - q_b);
  q_b comes from the operand pmf, and for the product from the pmf of x * w.
* addend (exact): the product register's pmf read at acc_bits bits (two's complement values
  are sign-extended).
* carry: not modelled. ``closed_form_flips`` has no 'carry' key and no 'total', and
  ``pann_power`` refuses ``method="closed-form"`` rather than leave the carries out of P_acc.
* accumulator (approximate): bit b flips when S -> S + p crosses an odd number of multiples of
  L = 2^b. For an addend with d = p mod 2L this happens iff S mod L lies in an interval of length
  min(d, 2L - d): [L - d, L) when d < L, [0, 2L - d) otherwise. We take the partial sum before
  the j-th term of a dot product with its exact pmf (the (j-1)-fold convolution of p's) while
  j <= 17 and it spans at most 2^16 values, otherwise as Gaussian, S ~ N((j-1) mu, (j-1) sigma^2)
  (central limit; mu, sigma^2: mean and variance of p); we wrap it modulo L and average over
  the positions j of the dot product (every one up to 17, then 24 geometric bins). The first
  term of each dot product replaces the previous result S_K, whose bits are independent of
  p's: P(flip) = q_S (1 - q_p) + (1 - q_S) q_p. Where sigma_S >= 4 L the wrapped Gaussian is
  uniform and P(flip) = E[min(d, 2L - d)] / L. Bits above every reachable partial sum are
  sign extension (they flip with the top reachable bit) or, unsigned, never set.
  Error of the accumulator's flips against the simulator (2..8-bit uniform, normal and
  half-normal operands, signed and unsigned, K from 1 to 4608 and endless, 32-bit
  accumulator): below 1% (measured at most 0.6%); tests/test_power.py checks 1.5%.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Dict, Optional

import numpy as np

from bitsim._core.checks import InputError, InputTypeError
from bitsim.sim.distributions import resolve_distribution
from bitsim.sim.formats import IntFormat
from bitsim.sim.mac import MacConfig, simulate_mac

__all__ = [
    "ACC_SITES",
    "ENDLESS_POSITIONS",
    "EXACT_SUPPORT",
    "EXACT_TERMS",
    "MAX_PRODUCT_SUPPORT",
    "MULT_SITES",
    "PannPower",
    "bit_probabilities",
    "closed_form_flips",
    "iid_register_flips",
    "mac_flips",
    "pann_power",
    "product_pmf",
]

MAX_PRODUCT_SUPPORT = 1 << 24
EXACT_TERMS = 16  # partial sums of up to this many products use their exact pmf ...
EXACT_SUPPORT = 1 << 16  # ... while it spans at most this many values
ENDLESS_POSITIONS = 10**6  # dot length assumed for length=None in the closed form
MULT_SITES = ("x", "w", "product")  # PANN's P_mult
ACC_SITES = ("addend", "carry", "acc")  # PANN's P_acc, with the adder's carries


def bit_probabilities(values: np.ndarray, probs: np.ndarray, bits: int) -> np.ndarray:
    """q_b = P(bit b = 1) of integers in two's complement, for b < bits."""
    regs = values.astype(np.int64) & ((1 << bits) - 1) if bits < 64 else values.astype(np.int64)
    shifts = np.arange(bits, dtype=np.uint64)
    ones = (regs.astype(np.uint64)[:, None] >> shifts[None, :]) & np.uint64(1)
    return probs @ ones.astype(float)


def iid_register_flips(values, probs, bits) -> float:
    """Mean flips of a register that takes independent values of this pmf (exact)."""
    q = bit_probabilities(values, probs, bits)
    return float(np.sum(2 * q * (1 - q)))


def product_pmf(xv, xp, wv, wp):
    if len(xv) * len(wv) > MAX_PRODUCT_SUPPORT:
        raise InputError(
            f"method: the closed form enumerates operand pairs and supports at "
            f"most 2**24, found {len(xv) * len(wv)}; use method='simulate'"
        )
    p = np.multiply.outer(xv, wv).ravel()
    pr = np.multiply.outer(xp, wp).ravel()
    values, inverse = np.unique(p, return_inverse=True)
    return values, np.bincount(inverse, weights=pr)


def _norm_cdf(z):
    """Standard normal CDF, vectorised (Abramowitz & Stegun 7.1.26: |error| < 1.5e-7)."""
    x = np.abs(np.asarray(z, dtype=float)) / math.sqrt(2.0)
    t = 1.0 / (1.0 + 0.3275911 * x)
    poly = t * (
        0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    erf = 1.0 - poly * np.exp(-x * x)
    return 0.5 * (1.0 + np.sign(z) * erf)


def _wrapped_mass(mean, sd, period, lo, hi):
    """P(S mod period in [lo, hi)) for S ~ N(mean, sd^2) over integers (lo, hi arrays)."""
    if sd >= 4 * period or sd == 0 and period == 1:
        return (hi - lo) / period
    sd = max(sd, 1e-9)
    lo, hi = lo - 0.5, hi - 0.5  # integer S: continuity correction
    first = math.floor((mean - 9 * sd) / period) - 1
    last = math.ceil((mean + 9 * sd) / period) + 1
    total = np.zeros(np.shape(lo))
    for q in range(first, last + 1):
        total += _norm_cdf((q * period + hi - mean) / sd) - _norm_cdf((q * period + lo - mean) / sd)
    return total


class _SumDistribution:
    """The partial sum before a dot product's j-th term: exact (dense pmf, by repeated
    convolution) while its support is small, else the Gaussian of the central limit theorem."""

    def __init__(self, pv, pp, terms):
        self.mean = terms * float(pp @ pv)
        self.sd = math.sqrt(terms * float(pp @ (pv - float(pp @ pv)) ** 2))
        self.values = self.probs = None
        span = terms * (int(pv.max()) - int(pv.min())) + 1
        if terms <= EXACT_TERMS and span <= EXACT_SUPPORT:
            dense = np.zeros(int(pv.max()) - int(pv.min()) + 1)
            dense[pv - pv.min()] = pp
            probs = np.ones(1)
            for _ in range(terms):
                probs = np.convolve(probs, dense)
            self.values = terms * int(pv.min()) + np.arange(len(probs))
            self.probs = np.clip(probs, 0.0, None)

    def mass_mod(self, period, lo, hi):
        """P(S mod period in [lo, hi)), lo and hi arrays of integers."""
        if self.values is None:
            return _wrapped_mass(self.mean, self.sd, period, lo, hi)
        assert self.probs is not None  # set with self.values
        r = np.mod(self.values, period)
        order = np.argsort(r, kind="stable")
        rs = r[order]
        cum = np.concatenate([[0.0], np.cumsum(self.probs[order])])
        return cum[np.searchsorted(rs, hi, "left")] - cum[np.searchsorted(rs, lo, "left")]


def _acc_bit_flip(b, pv, pp, sums: _SumDistribution):
    """P(bit b flips) when the partial sum takes an addend p of pmf (pv, pp)."""
    L = 1 << b
    d = np.mod(pv, 2 * L)
    lo = np.where(d < L, L - d, 0)
    hi = np.where(d < L, L, 2 * L - d)
    return float(pp @ sums.mass_mod(L, lo, hi))


def _bit_one(b, sums: _SumDistribution):
    L = 1 << b
    return float(sums.mass_mod(2 * L, np.array([L]), np.array([2 * L]))[0])


def _positions(length: int, bins: int = 24):
    """Dot-product positions j >= 2 standing for all of 2..length, with their weights: each
    position up to EXACT_TERMS + 1, then the geometric middles of geometrically growing bins."""
    head = list(range(2, min(length, EXACT_TERMS + 1) + 1))
    reps, weights = head, [1.0] * len(head)
    start = len(head) + 2
    if length >= start:
        edges = np.unique(np.geomspace(start, length + 1, bins + 1).astype(np.int64))
        edges[0], edges[-1] = start, length + 1
        for lo, hi in zip(edges[:-1], edges[1:]):
            reps.append(int(math.sqrt(lo * (hi - 1))))
            weights.append(float(hi - lo))
    return reps, weights


def closed_form_flips(cfg: MacConfig, x_dist="uniform", w_dist="uniform") -> Dict[str, float]:
    """Mean flips per MAC of the sites x, w, product, acc and addend under the closed form (see
    the module docstring); the carries are not modelled (no 'carry' key, no 'total')."""
    xf, wf = IntFormat(cfg.x_bits, cfg.x_signed), IntFormat(cfg.w_bits, cfg.w_signed)
    xv, xp = resolve_distribution(x_dist, "x_dist").pmf(xf)
    wv, wp = resolve_distribution(w_dist, "w_dist").pmf(wf)
    pv, pp = product_pmf(xv, xp, wv, wp)
    K = cfg.length or ENDLESS_POSITIONS
    reps, weights = _positions(K)
    sums = [_SumDistribution(pv, pp, j - 1) for j in reps]
    final = _SumDistribution(pv, pp, K)
    q_p = bit_probabilities(pv, pp, cfg.acc_bits)
    # bits above every reachable partial sum: sign extension (signed) or always 0 (unsigned)
    reach = K * int(np.max(np.abs(pv))) + 1
    top = min(cfg.acc_bits, reach.bit_length() + 1)
    per_bit = []
    for b in range(top):
        q_s = _bit_one(b, final) if cfg.length else q_p[b]
        total = q_s * (1 - q_p[b]) + (1 - q_s) * q_p[b] if cfg.length else 0.0
        total += sum(wgt * _acc_bit_flip(b, pv, pp, s) for s, wgt in zip(sums, weights))
        per_bit.append(total / K)
    fill = per_bit[-1] if cfg.acc_signed and per_bit else 0.0
    acc = sum(per_bit) + (cfg.acc_bits - top) * fill
    flips = {
        "x": iid_register_flips(xv, xp, cfg.x_bits),
        "w": iid_register_flips(wv, wp, cfg.w_bits),
        "product": iid_register_flips(pv, pp, cfg.product_bits),
        "acc": acc,
        "addend": iid_register_flips(pv, pp, cfg.acc_bits),
    }
    return flips


@dataclass
class PannPower:
    """PANN power of a layer: bit flips per inference and per MAC."""

    layer: str
    macs: int
    mult_flips_per_mac: float  # P_mult: flips of MULT_SITES (x, w, product)
    acc_flips_per_mac: float  # P_acc: flips of ACC_SITES (addend, carry, acc)
    method: str

    @property
    def flips_per_mac(self) -> float:
        return self.mult_flips_per_mac + self.acc_flips_per_mac

    @property
    def power(self) -> float:
        """PANN power: MACs x (P_mult + P_acc), bit flips per inference."""
        return self.macs * self.flips_per_mac

    def to_dict(self) -> dict:
        d = asdict(self)
        d.update(flips_per_mac=self.flips_per_mac, power=self.power)
        return d


def mac_flips(
    cfg: MacConfig,
    x_dist="uniform",
    w_dist="uniform",
    method="simulate",
    n: int = 10**6,
    seed: int = 0,
    threads: int = 1,
    backend: str = "c",
    simd: str = "auto",
) -> Dict[str, float]:
    """Mean flips per MAC of each site, simulated (n MACs; seed, threads, backend and simd as
    for ``simulate_mac``) or from the closed form (every site but 'carry', no 'total')."""
    if method == "closed-form":
        return closed_form_flips(cfg, x_dist, w_dist)
    if method != "simulate":
        raise InputError(f"method: expected 'simulate' or 'closed-form', found {method!r}")
    return simulate_mac(
        x_dist,
        w_dist,
        **asdict(cfg),
        n=n,
        seed=seed,
        threads=threads,
        backend=backend,
        simd=simd,
    ).mean_flips


def pann_power(
    layer,
    acc_bits: int = 32,
    x_dist="uniform",
    w_dist="uniform",
    method: str = "simulate",
    n: int = 10**6,
    seed: int = 0,
    flips: Optional[Dict[str, float]] = None,
    threads: int = 1,
    backend: str = "c",
    simd: str = "auto",
) -> PannPower:
    """PANN power of a Conv2d or Linear layer with integer formats; ``flips`` reuses a result
    of mac_flips for the same widths, signedness, K and distributions; n, seed, threads,
    backend, simd: of the simulation (``mac_flips``). P_mult and P_acc sum MULT_SITES and
    ACC_SITES; the closed form does not model the adder's carries, so ``method="closed-form"``
    is refused."""

    if getattr(layer, "kind", None) not in ("conv", "linear"):
        raise InputTypeError(
            f"layer: PANN power needs a Conv2d or Linear layer (it counts MACs), found "
            f"{type(layer).__name__} {getattr(layer, 'name', '')!r}"
        )
    a, w = layer.a_format, layer.w_format
    if a.is_float or w.is_float:
        raise InputError(
            f"layer: PANN power needs integer formats, found {a} x {w} in {layer.name!r}"
        )
    if method == "closed-form":
        raise InputError(
            "method: PANN power needs the accumulator adder's carries, which the closed form "
            "does not model; expected 'simulate', found 'closed-form'"
        )
    cfg = MacConfig(a.bits, w.bits, acc_bits, a.signed, w.signed, layer.k)
    if flips is None:
        flips = mac_flips(cfg, x_dist, w_dist, method, n, seed, threads, backend, simd)
    missing = [s for s in (*MULT_SITES, *ACC_SITES) if s not in flips]
    if missing:
        raise InputError(
            f"flips: expected mean flips of every site (a simulated mac_flips result), "
            f"found no {', '.join(missing)}"
        )
    return PannPower(
        layer.name,
        layer.macs,
        sum(flips[s] for s in MULT_SITES),
        sum(flips[s] for s in ACC_SITES),
        method,
    )
