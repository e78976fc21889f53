"""bitsim's energy (``internal_model='transition'``) against an upstream OpenSTA's report_power.

Debian's ``opensta`` is 2.0.17 (2020); OpenSTA changed its internal-power convention in 2.1.0
and keeps user pin activities since then (README, "Energy in joules"). This script runs a
newer OpenSTA, built from source (``--sta PATH``), on the designs of
tests/sim/test_energy_opensta.py (OSU018 8x8 Yosys multiplier, 8x8 signed Dadda MAC with a
24-bit accumulator; 20000 vectors, seed 3), fed bitsim's own activities through the Tcl
export (``sta_tcl``, sourced) and the SAIF export (``saif``, ``read_saif -scope <module>``),
and prints per design and source, in pJ per clock cycle (= per vector):

* switching: OpenSTA's total, bitsim's, and the largest relative difference per instance;
* internal: OpenSTA's total; ``opensta_model`` = OpenSTA's formula evaluated by bitsim on its
  own activities (``bitsim.sim.energy.opensta_pin_energy``) and its largest difference per
  instance (checks that the formula below is what OpenSTA computes); ``mean_internal`` =
  bitsim's exact causing pins with each arc's rise and fall energies averaged; bitsim's
  ``transition`` total and its largest difference per instance.

transition vs mean_internal is the rise / fall distinction alone; mean_internal vs
opensta_model is the related-pin weighting alone (OpenSTA: activity(pin) x P(Boolean
difference) under independence, normalised; bitsim: the pins that switched in the vector,
split equally when several did). Run from the repository:

    python bench/opensta_upstream.py --sta /tmp/opensta-build/sta-head/build/sta \\
        [-n 20000] [--format table|csv|json|markdown]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from bitsim._core.render import FORMATS, Column, render  # noqa: E402

from util_energy import (  # noqa: E402
    UPSTREAM_DESIGNS,
    upstream_compare,
    upstream_design,
    upstream_report,
)

KEYS = ("sta_switching", "switching", "sta_internal", "opensta_model", "mean_internal", "internal")


def _worst(rows, a: str, b: str) -> float:
    """Largest |a - b| / b over the instances with b > 0, in percent."""
    return 100 * max((abs(r[a] - r[b]) / r[b] for r in rows if r[b] > 0), default=0.0)


def measure(sta: str, vectors: int):
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for design in UPSTREAM_DESIGNS:
            d = Path(tmp) / design
            d.mkdir()
            energy = upstream_design(design, d, vectors)
            for source in ("tcl", "saif"):
                rows = upstream_compare(energy, upstream_report(sta, energy, d, source))
                total = {k: 1e12 * sum(r[k] for r in rows) for k in KEYS}
                out.append(
                    dict(
                        design=design,
                        source=source,
                        instances=len(rows),
                        sta_switching_pj=total["sta_switching"],
                        switching_pj=total["switching"],
                        switching_worst_pct=_worst(rows, "switching", "sta_switching"),
                        sta_internal_pj=total["sta_internal"],
                        opensta_model_pj=total["opensta_model"],
                        model_worst_pct=_worst(rows, "opensta_model", "sta_internal"),
                        mean_internal_pj=total["mean_internal"],
                        internal_pj=total["internal"],
                        internal_worst_pct=_worst(rows, "internal", "sta_internal"),
                    )
                )
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sta", required=True, help="an OpenSTA executable (2.1 or later)")
    ap.add_argument("-n", "--vectors", type=int, default=20000)
    ap.add_argument("--format", choices=FORMATS, default="table")
    args = ap.parse_args(argv)
    rows = measure(args.sta, args.vectors)
    cols = [
        Column(k, k, fmt)
        for k, fmt in (
            ("design", "{}"),
            ("source", "{}"),
            ("instances", "{}"),
            ("sta_switching_pj", "{:.4f}"),
            ("switching_pj", "{:.4f}"),
            ("switching_worst_pct", "{:.4f}"),
            ("sta_internal_pj", "{:.4f}"),
            ("opensta_model_pj", "{:.4f}"),
            ("model_worst_pct", "{:.3f}"),
            ("mean_internal_pj", "{:.4f}"),
            ("internal_pj", "{:.4f}"),
            ("internal_worst_pct", "{:.1f}"),
        )
    ]
    print(render(rows, args.format, cols))
    return 0


if __name__ == "__main__":
    sys.exit(main())
