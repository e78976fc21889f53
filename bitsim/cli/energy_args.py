"""The shared ``--liberty`` / ``--arch`` / ``--calibration`` options of ``bitsim flips`` and
``bitsim report``: joules per MAC from a register-level result (``bitsim.models.energy``)."""

from __future__ import annotations

from typing import Callable, Dict, Optional, Tuple

from bitsim._core.checks import InputError
from bitsim.circuits.multipliers import ARCHS
from bitsim.models.energy import Calibration, calibration_for, energy_per_mac, load_calibration
from bitsim.sim.mac import MacFlips


def add_energy_args(p) -> None:
    p.add_argument(
        "--liberty",
        default=None,
        help="energy per MAC in joules with this Liberty library: a register-level fit of "
        "gate-level runs of --arch mapped to it (cached in ~/.cache/bitsim)",
    )
    p.add_argument(
        "--arch",
        choices=ARCHS,
        default="dadda",
        help="multiplier architecture of --liberty (default dadda)",
    )
    p.add_argument(
        "--calibration",
        default=None,
        help="energy per MAC from a stored calibration (JSON of bitsim.models.energy)",
    )


def calibrations(args, acc_bits: int) -> Optional[Callable[[int, int, bool], Calibration]]:
    """The calibration of each (x_bits, w_bits, signed) MAC from --liberty (fitted once per
    configuration, cached) or --calibration; None without either."""
    if args.liberty and args.calibration:
        raise InputError("--calibration: expected either --liberty or --calibration, found both")
    if not (args.liberty or args.calibration):
        return None
    fixed = load_calibration(args.calibration) if args.calibration else None
    cache: Dict[Tuple[int, int, bool], Calibration] = {}

    def of(x_bits: int, w_bits: int, signed: bool) -> Calibration:
        key = (x_bits, w_bits, signed)
        if key not in cache:
            cache[key] = fixed or calibration_for(
                args.liberty, args.arch, *key, acc_bits=acc_bits, seed=0
            )
        return cache[key]

    of.used = cache  # type: ignore[attr-defined]
    return of


def energy_function(args, acc_bits: int) -> Optional[Callable[[MacFlips], float]]:
    """Joules per MAC of a register-level result, or None without --liberty/--calibration.
    The fits used are collected in ``energy_function.used`` (for the error they state)."""
    of = calibrations(args, acc_bits)
    if of is None:
        return None
    cache = of.used  # type: ignore[attr-defined]

    def joules(flips: MacFlips) -> float:
        cfg = flips.config
        return energy_per_mac(of(cfg.x_bits, cfg.w_bits, bool(cfg.x_signed or cfg.w_signed)), flips)

    joules.used = cache  # type: ignore[attr-defined]
    return joules


def fit_note(fn) -> str:
    """A sentence stating the fits' largest errors against gate level."""
    used = list(getattr(fn, "used", {}).values())
    if not used:
        return ""
    rms = max(c.rms_error for c in used)
    worst = max(c.max_error for c in used)
    lib = used[0].provenance.get("library", "?")
    return (
        f"energy: {used[0].arch} on {lib}, register-level fit of gate-level runs "
        f"(error vs gate level: RMS <= {rms:.1%}, max {worst:.1%})"
    )
