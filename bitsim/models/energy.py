"""Register-level energy: joules per bit flip of each MAC site, fitted from gate-level runs.

The register-level simulator (``bitsim.simulate_mac``) counts bit flips per MAC at the sites
of ``bitsim.sim.mac.SITES``; the gate-level one (``bitsim.simulate_energy``) prices a whole MAC
mapped to a library. ``calibrate(library, arch, x_bits, w_bits)`` runs both on the same
operands over a training grid (one signedness; every pair of uniform, normal and laplace
operands at the default scale, plus ``GRID_EXTRA`` pairs drawn from uniform, normal,
half-normal and laplace operands at 1/4, 1/2, 1 and 2 times the default scale, each
distribution and scale chosen for x and w independently; dot products of 2, 16 and endless
terms) and fits two models by least squares with non-negative coefficients:

    bits:  E_dynamic per MAC = sum over sites s and bits b of e_sb x flips_sb
                               + sum over pairs (s, t) in INTERACTIONS of e_st x F_s x F_t + e_0
    sites: the same with one coefficient per site (flips_s = sum over b of flips_sb),

flips per MAC, F_s the mean flips per MAC of site s (the products model the multiplier's
partial products: an operand flip switches partial products in proportion to the other
operand's activity), e_sb and e_s in J per flip, e_0 in J per cycle (the flip-flops'
clock-pin energy, measured at gate level and not fitted, plus the fitted constant). The bits
model prices a ``MacFlips`` (``energy_per_mac``: ``bitsim flips``, ``bitsim report``), the
sites model a result that has only flips per site (``energy_of_flips``: ``bitsim dataflow``).

Error: both models are checked on ``HELD_OUT`` operand pairs outside the training grid
(other scales, dot lengths 3, 7, 64 and 576, post-ReLU half-normal activations against normal
and laplace weights, sparse-ish narrow weights); the held-out RMS and largest relative errors
against gate level are the calibration's ``rms_error`` / ``max_error`` (bits model) and
``site_rms_error`` / ``site_max_error``, stored with the coefficients and the provenance
(library file and SHA-256, arch, widths, grids, vectors, seed, bitsim version) as JSON.
Measured on OSU018 Dadda MACs (README): bits model held-out RMS 1-3 %, largest 3-6 %.

The coefficients predict, they do not attribute: x, w and product flips are correlated, so the
split between sites is not unique.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple

import numpy as np

from bitsim._core.checks import InputError, check_int
from bitsim._version import __version__
from bitsim.circuits.liberty import Library, find_liberty, read_liberty
from bitsim.circuits.mapped import map_circuit
from bitsim.circuits.multipliers import ARCHS, mac_circuit
from bitsim.sim.distributions import _Scaled, resolve_distribution
from bitsim.sim.energy import DEFAULT_CLOCK_HZ, simulate_energy
from bitsim.sim.formats import IntFormat
from bitsim.sim.mac import SITES, MacConfig, MacFlips, simulate_mac

__all__ = ["Calibration", "calibrate", "calibration_for", "energy_per_mac", "load_calibration"]

GRID_DISTS = ("uniform", "normal", "laplace")
GRID_LENGTHS = (2, 16, None)  # short, typical and endless dot products
GRID_SCALES = (0.25, 0.5, 1.0, 2.0)  # x the distribution's default scale
GRID_EXTRA = 60  # pairs of the scaled grid, drawn once per seed, at lengths 2 and endless
INTERACTIONS = (("x", "w"), ("x", "product"), ("w", "product"))
# held out of the fit: (x distribution, x scale factor, w distribution, w scale factor, K)
HELD_OUT = (
    ("half-normal", 1.0, "normal", 1.0, 576),  # post-ReLU activations x weights
    ("half-normal", 0.5, "normal", 0.5, 64),
    ("half-normal", 1.5, "laplace", 0.7, 100),
    ("half-normal", 3.0, "uniform", None, 7),
    ("normal", 0.7, "half-normal", 0.3, 32),  # narrow, mostly-zero weights
    ("laplace", 0.3, "normal", 1.2, 9),
    ("laplace", 1.5, "laplace", 1.5, 1000),
    ("uniform", None, "laplace", 0.5, 50),
    ("normal", 1.4, "normal", 0.35, 3),
    ("laplace", 0.7, "half-normal", 1.4, 576),
)


@dataclass
class Calibration:
    """Energy per flip of each site (J), per cycle (J), leakage (W), fit errors, provenance
    (see the module docstring: ``per_flip_j`` / ``interaction_j`` / ``per_cycle_j`` are the
    sites model, ``per_bit_j`` / ``bit_interaction_j`` / ``bit_cycle_j`` the bits model;
    errors are relative to the gate-level dynamic energy on the held-out pairs)."""

    arch: str
    x_bits: int
    w_bits: int
    acc_bits: int
    signed: bool
    per_flip_j: Dict[str, float]
    per_cycle_j: float
    leakage_w: float
    clock_hz: float
    rms_error: float  # bits model (sites model if it has no bits model), held out
    max_error: float
    provenance: Dict = field(default_factory=dict)
    interaction_j: Dict[str, float] = field(default_factory=dict)  # "x*w": J per flip x flip
    per_bit_j: Dict[str, List[float]] = field(default_factory=dict)
    bit_interaction_j: Dict[str, float] = field(default_factory=dict)
    bit_cycle_j: float = 0.0
    site_rms_error: float = 0.0
    site_max_error: float = 0.0

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True)


def energy_per_mac(cal: Calibration, flips: MacFlips) -> float:
    """Energy per MAC (J) of a register-level result: the bits model (the sites model for a
    calibration without one) plus leakage per cycle."""
    cfg = flips.config
    check_calibration(cal, cfg.x_bits, cfg.w_bits, bool(cfg.x_signed or cfg.w_signed))
    means = {s: flips.mean(s) for s in SITES}
    if not cal.per_bit_j:
        return energy_of_flips(cal, means)
    m = max(flips.macs, 1)
    dyn = cal.bit_cycle_j + sum(
        float(np.dot(cal.per_bit_j[s], flips.flips_per_bit[s] / m)) for s in SITES
    )
    dyn += _interactions(cal.bit_interaction_j, means)
    return dyn + cal.leakage_w / cal.clock_hz


def check_calibration(cal: Calibration, x_bits: int, w_bits: int, signed: bool) -> None:
    """An error unless ``cal`` was fitted for this MAC's widths and signedness."""
    if (x_bits, w_bits, signed) != (cal.x_bits, cal.w_bits, cal.signed):
        raise InputError(
            f"calibration: expected a {cal.x_bits}x{cal.w_bits} "
            f"{'signed' if cal.signed else 'unsigned'} MAC, found {x_bits}x{w_bits} "
            f"{'signed' if signed else 'unsigned'}"
        )


def energy_of_flips(
    cal: Calibration, mean_flips: Mapping[str, float], aliases: Optional[Mapping[str, str]] = None
) -> float:
    """Energy per MAC (J) from mean flips per MAC of each site, by the sites model: the fitted
    joules per flip of each site (``aliases`` prices a site the fit does not have like one it
    has, e.g. a systolic array's partial-sum register like the accumulator), the interaction
    terms, the per-cycle energy and leakage."""
    aliases = aliases or {}
    dyn = cal.per_cycle_j + sum(
        cal.per_flip_j.get(aliases.get(s, s), 0.0) * v for s, v in mean_flips.items()
    )
    dyn += _interactions(cal.interaction_j, mean_flips)
    return dyn + cal.leakage_w / cal.clock_hz


def _interactions(coef: Mapping[str, float], means: Mapping[str, float]) -> float:
    return sum(
        coef.get(f"{a}*{b}", 0.0) * means.get(a, 0.0) * means.get(b, 0.0) for a, b in INTERACTIONS
    )


def _operand(name: str, factor: Optional[float], bits: int, signed: bool):
    """A distribution at ``factor`` x its default scale (uniform: no scale)."""
    if factor is None or name == "uniform":
        return resolve_distribution(name)
    base = resolve_distribution(name)
    assert isinstance(base, _Scaled)
    return resolve_distribution(name, scale=factor * base.scale_for(IntFormat(bits, signed)))


Point = Tuple[str, Optional[float], str, Optional[float], Optional[int]]


def training_grid(seed: int) -> List[Point]:
    """The fit's operand pairs and dot lengths (see the module docstring)."""
    grid: List[Point] = [
        (xd, 1.0, wd, 1.0, k)
        for xd, wd, k in itertools.product(GRID_DISTS, GRID_DISTS, GRID_LENGTHS)
    ]
    options = [("uniform", None)] + [
        (d, f) for d in ("normal", "half-normal", "laplace") for f in GRID_SCALES
    ]
    pairs = list(itertools.product(options, options))
    rng = np.random.default_rng([seed, 13])
    for i in sorted(rng.choice(len(pairs), GRID_EXTRA, replace=False)):
        (xd, xf), (wd, wf) = pairs[i]
        grid += [(xd, xf, wd, wf, k) for k in (2, None)]
    return grid


def calibrate(
    library: Library,
    arch: str = "dadda",
    x_bits: int = 8,
    w_bits: Optional[int] = None,
    acc_bits: int = 32,
    signed: bool = True,
    n: int = 10000,
    seed: int = 0,
    clock: float = DEFAULT_CLOCK_HZ,
) -> Calibration:
    """Fit the energy per flip of each register-level site (see the module docstring)."""
    if arch not in ARCHS:
        raise InputError(f"arch: expected one of {', '.join(ARCHS)}, found {arch!r}")
    w_bits = x_bits if w_bits is None else w_bits
    n = check_int(n, "n", 1)
    mapped = map_circuit(mac_circuit(arch, x_bits, w_bits, acc_bits, signed), library)

    def run(points, salt: int):
        """Per point: gate-level dynamic energy without clock pins, clock-pin energy,
        leakage, site means, per-bit means."""
        out = []
        for i, (xd, xf, wd, wf, k) in enumerate(points):
            x = _operand(xd, xf, x_bits, signed)
            w = _operand(wd, wf, w_bits, signed)
            kw: Dict[str, Any] = dict(signed=signed, length=k, n=n, seed=seed + salt + i)
            e = simulate_energy(mapped, x, w, clock=clock, **kw)
            f = simulate_mac(x, w, x_bits=x_bits, w_bits=w_bits, acc_bits=acc_bits, **kw)
            clk = e.by_part.get("clock", 0.0)
            dyn = e.per_vector_j["internal"] + e.per_vector_j["switching"] - clk
            means = {s: f.mean(s) for s in SITES}
            bits = np.concatenate([f.flips_per_bit[s] / max(f.macs, 1) for s in SITES])
            out.append((dyn, clk, e.power_w["leakage"], means, bits))
        return out

    def features(point, per_bit: bool) -> List[float]:
        _, _, _, means, bits = point
        linear = list(bits) if per_bit else [means[s] for s in SITES]
        return linear + [means[a] * means[b] for a, b in INTERACTIONS] + [1.0]

    grid = training_grid(seed)
    train = run(grid, 0)
    held = run(HELD_OUT, 1_000_003)
    clk = float(np.mean([p[1] for p in train]))
    y = np.array([p[0] for p in train])
    y_held = np.array([p[0] for p in held])
    fits: Dict[bool, np.ndarray] = {}
    errors: Dict[bool, Dict[str, Any]] = {}
    for per_bit in (False, True):
        a = np.array([features(p, per_bit) for p in train])
        coef = _nonnegative_fit(a, y)
        fits[per_bit] = coef
        fit_rel = (a @ coef - y) / (y + clk)
        pred = np.array([features(p, per_bit) for p in held]) @ coef
        rel = (pred - y_held) / (y_held + np.array([p[1] for p in held]))
        errors[per_bit] = {
            "held_out_rms": float(np.sqrt(np.mean(rel**2))),
            "held_out_max": float(np.max(np.abs(rel))),
            "held_out": [round(float(r), 5) for r in rel],
            "grid_rms": float(np.sqrt(np.mean(fit_rel**2))),
            "grid_max": float(np.max(np.abs(fit_rel))),
        }
    sites, bits = fits[False], fits[True]
    cfg = MacConfig(x_bits, w_bits, acc_bits, signed, signed, None)
    per_bit_j, at = {}, 0
    for s in SITES:
        per_bit_j[s] = [float(c) for c in bits[at : at + cfg.site_bits(s)]]
        at += cfg.site_bits(s)
    names = [f"{a}*{b}" for a, b in INTERACTIONS]
    with open(library.path, "rb") as fh:
        digest = hashlib.sha256(fh.read()).hexdigest()
    return Calibration(
        arch=arch,
        x_bits=x_bits,
        w_bits=w_bits,
        acc_bits=acc_bits,
        signed=signed,
        per_flip_j={s: float(c) for s, c in zip(SITES, sites)},
        per_cycle_j=float(sites[-1]) + clk,
        leakage_w=float(np.mean([p[2] for p in train])),
        clock_hz=float(clock),
        rms_error=float(errors[True]["held_out_rms"]),
        max_error=float(errors[True]["held_out_max"]),
        interaction_j={k: float(c) for k, c in zip(names, sites[len(SITES) : -1])},
        per_bit_j=per_bit_j,
        bit_interaction_j={k: float(c) for k, c in zip(names, bits[at:-1])},
        bit_cycle_j=float(bits[-1]) + clk,
        site_rms_error=float(errors[False]["held_out_rms"]),
        site_max_error=float(errors[False]["held_out_max"]),
        provenance={
            "library": library.name,
            "library_path": library.path,
            "library_sha256": digest,
            "grid": [_describe(p) for p in grid],
            "held_out": [_describe(p) for p in HELD_OUT],
            "errors": {"bits": errors[True], "sites": errors[False]},
            "n": n,
            "seed": seed,
            "bitsim": __version__,
            "fit": "least squares of gate-level internal + switching energy per MAC, clock "
            "pins excluded, on register-level flips per MAC of each site (sites) or bit "
            "(bits), products of the x, w and product flips, and a constant, coefficients "
            ">= 0; errors relative to the dynamic energy, on the held-out pairs",
        },
    )


def _describe(point) -> Dict[str, Any]:
    xd, xf, wd, wf, k = point
    return {"x_dist": xd, "x_scale": xf, "w_dist": wd, "w_scale": wf, "length": k}


def _nonnegative_fit(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Least squares with every coefficient >= 0: refit without the most negative one until
    none is negative (a flip cannot save energy, and a negative constant would make MACs with
    few flips cost less than nothing)."""
    keep = list(range(a.shape[1]))
    while True:
        sol, *_ = np.linalg.lstsq(a[:, keep], b, rcond=None)
        if sol.min() >= 0:
            coef = np.zeros(a.shape[1])
            coef[keep] = sol
            return coef
        del keep[int(np.argmin(sol))]


def load_calibration(path: str) -> Calibration:
    """A calibration stored as JSON (``Calibration.to_json``)."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        return Calibration(**data)
    except (OSError, ValueError, TypeError) as err:
        msg = f"calibration: expected a calibration JSON file, found {path!r}: {err}"
        raise InputError(msg) from None


def calibration_for(
    liberty: str,
    arch: str,
    x_bits: int,
    w_bits: int,
    signed: bool,
    acc_bits: int = 32,
    seed: int = 0,
) -> Calibration:
    """The calibration of a library file, arch and widths: from the on-disk cache
    ($BITSIM_CACHE, default ~/.cache/bitsim) or fitted now and stored there."""
    liberty = find_liberty(liberty)
    try:
        fh = open(liberty, "rb")
    except OSError as err:
        msg = f"liberty: expected a readable Liberty file, found {liberty!r} ({err})"
        raise InputError(msg) from None
    with fh:
        digest = hashlib.sha256(fh.read()).hexdigest()
    sign = "s" if signed else "u"
    key = f"{digest[:16]}-{arch}-{x_bits}x{w_bits}{sign}-acc{acc_bits}-seed{seed}-{__version__}"
    cache = Path(os.environ.get("BITSIM_CACHE", Path.home() / ".cache" / "bitsim"))
    path = cache / "calibration" / f"{key}.json"
    if path.exists():
        return load_calibration(str(path))
    cal = calibrate(read_liberty(liberty), arch, x_bits, w_bits, acc_bits, signed, seed=seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(cal.to_json())
    os.replace(tmp, path)
    return cal
