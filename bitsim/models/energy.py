"""Register-level energy: joules per bit flip of each MAC site, fitted from gate-level runs.

The register-level simulator (``bitsim.simulate_mac``) counts bit flips per MAC at the sites
of ``bitsim.sim.mac.SITES``; the gate-level one (``bitsim.simulate_energy``) prices a whole MAC
mapped to a library. ``calibrate(library, arch, x_bits, w_bits)`` runs both on the same
operands over a grid (one signedness; every pair of uniform, normal and laplace operand
distributions; dot products of 16 terms and an endless one) and fits, by least squares with
non-negative coefficients,

    E_dynamic per MAC = sum over sites s of e_s x flips_s per MAC + e_0,

e_s in J per flip, e_0 in J per cycle (energy that does not depend on the data: the
flip-flops' clock-pin energy, taken from the gate-level run and not fitted, plus the fitted
constant). The fit's error against gate level (relative RMS and largest relative error over the
grid) is stored with the coefficients and its provenance (library file and SHA-256, arch,
widths, grid, vectors, seed, bitsim version) as JSON; ``energy_per_mac(cal, flips)`` applies
it to any register-level result, leakage added at the calibration's clock.

Limits: the coefficients predict, they do not attribute (x, w and product flips are
correlated, so the split between sites is not unique), and only for operands like the grid's:
non-negative operands on a signed MAC (half-normal) cost up to 30 % less than the fit says
(measured on OSU018, 4x4 Dadda).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Dict, List, Mapping, Optional

import numpy as np

from bitsim._core.checks import InputError, check_int
from bitsim._version import __version__
from bitsim.circuits.liberty import Library, find_liberty, read_liberty
from bitsim.circuits.mapped import map_circuit
from bitsim.circuits.multipliers import ARCHS, mac_circuit
from bitsim.sim.energy import DEFAULT_CLOCK_HZ, simulate_energy
from bitsim.sim.mac import SITES, MacFlips, simulate_mac

__all__ = ["Calibration", "calibrate", "calibration_for", "energy_per_mac", "load_calibration"]

GRID_DISTS = ("uniform", "normal", "laplace")
GRID_LENGTHS = (2, 16, None)  # short, typical and endless dot products


@dataclass
class Calibration:
    """Energy per flip of each site (J), per cycle (J), leakage (W), fit error, provenance."""

    arch: str
    x_bits: int
    w_bits: int
    acc_bits: int
    signed: bool
    per_flip_j: Dict[str, float]
    per_cycle_j: float
    leakage_w: float
    clock_hz: float
    rms_error: float  # relative, over the grid
    max_error: float
    provenance: Dict = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True)


def energy_per_mac(cal: Calibration, flips: MacFlips) -> float:
    """Energy per MAC (J) of a register-level result: the fit plus leakage per cycle."""
    cfg = flips.config
    check_calibration(cal, cfg.x_bits, cfg.w_bits, bool(cfg.x_signed or cfg.w_signed))
    return energy_of_flips(cal, {s: flips.mean(s) for s in SITES})


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
    """Energy per MAC (J) from mean flips per MAC of each site: the fitted joules per flip of
    each site (``aliases`` prices a site the fit does not have like one it has, e.g. a systolic
    array's partial-sum register like the accumulator), the per-cycle energy and leakage."""
    aliases = aliases or {}
    dyn = cal.per_cycle_j + sum(
        cal.per_flip_j.get(aliases.get(s, s), 0.0) * v for s, v in mean_flips.items()
    )
    return dyn + cal.leakage_w / cal.clock_hz


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
    rows: List[List[float]] = []
    target: List[float] = []
    leak: List[float] = []
    clock_j: List[float] = []  # clock-pin energy per cycle: data-independent, not fitted
    grid = []
    mapped = map_circuit(mac_circuit(arch, x_bits, w_bits, acc_bits, signed), library)
    for xd, wd, length in itertools.product(GRID_DISTS, GRID_DISTS, GRID_LENGTHS):
        kw = dict(signed=signed, length=length, n=n, seed=seed)
        e = simulate_energy(mapped, xd, wd, clock=clock, **kw)  # type: ignore[arg-type]
        f = simulate_mac(xd, wd, x_bits=x_bits, w_bits=w_bits, acc_bits=acc_bits, **kw)  # type: ignore[arg-type]
        rows.append([f.mean(s) for s in SITES] + [1.0])
        clock_j.append(e.by_part.get("clock", 0.0))
        target.append(e.per_vector_j["internal"] + e.per_vector_j["switching"] - clock_j[-1])
        leak.append(e.power_w["leakage"])
        grid.append({"signed": signed, "x_dist": xd, "w_dist": wd, "length": length})
    a, b = np.array(rows), np.array(target)
    coef = _nonnegative_fit(a, b)
    clk = float(np.mean(clock_j))
    rel = (a @ coef - b) / (b + clk)
    with open(library.path, "rb") as fh:
        digest = hashlib.sha256(fh.read()).hexdigest()
    return Calibration(
        arch=arch,
        x_bits=x_bits,
        w_bits=w_bits,
        acc_bits=acc_bits,
        signed=signed,
        per_flip_j={s: float(c) for s, c in zip(SITES, coef)},
        per_cycle_j=float(coef[-1]) + clk,
        leakage_w=float(np.mean(leak)),
        clock_hz=float(clock),
        rms_error=float(np.sqrt(np.mean(rel**2))),
        max_error=float(np.max(np.abs(rel))),
        provenance={
            "library": library.name,
            "library_path": library.path,
            "library_sha256": digest,
            "grid": grid,
            "n": n,
            "seed": seed,
            "bitsim": __version__,
            "fit": "least squares of gate-level internal + switching energy per MAC, clock "
            "pins excluded, on register-level flips per MAC of each site and a constant, "
            "coefficients >= 0; errors relative to the dynamic energy",
        },
    )


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
