"""Calibration of the register-level power model against the gate-level MACs.

For uniform operands of 2, 4 and 8 bits, signed and unsigned, accumulators of 16, 24 and 32
bits and dot products of K = 4608 terms (3x3x512), prints toggles per MAC:

* register level (``bitsim.simulate_mac``): the total over every site (x, w, product, acc
  registers and the accumulator adder's addend and carry nets), and the adder's share
  (addend + carry + acc);
* gate level (``bitsim.simulate_gates`` on ``mac_circuit``, every net, zero-delay), for every
  multiplier architecture of ``bitsim.circuits.multipliers.ARCHS``, and the part
  'accumulator_adder' (the same ripple-carry adder behind every multiplier: its clear gates,
  half/full adder nets, sums and carries; the addend nets are the multiplier's outputs);

then the saving of unsigned arithmetic in total toggles by each model. Run from the repository:

    python bench/calibration.py [-n 1000000] [--format markdown|table|csv|json]

The README's calibration table is this script's markdown output (n = 10^6, seed 0).
"""

from __future__ import annotations

import argparse
import sys

import bitsim
from bitsim._core.render import FORMATS, Column, render
from bitsim.circuits.multipliers import ARCHS, mac_circuit

BITS = (2, 4, 8)
ACC_BITS = (16, 24, 32)
LENGTH = 4608
ADDER = ("addend", "carry", "acc")


def measure(n: int, seed: int, threads: int):
    """One row per (bits, acc_bits, signed): register-level and gate-level toggles per MAC."""
    rows = []
    for bits in BITS:
        for acc in ACC_BITS:
            for signed in (True, False):
                kw = dict(length=LENGTH, n=n, seed=seed, threads=threads)
                r = bitsim.simulate_mac(x_bits=bits, acc_bits=acc, signed=signed, **kw)
                row = {
                    "bits": bits,
                    "acc_bits": acc,
                    "signed": signed,
                    "register": r.mean(),
                    "register_adder": sum(r.mean(s) for s in ADDER),
                }
                adders = set()
                for arch in ARCHS:
                    mac = mac_circuit(arch, bits, acc_bits=acc, signed=signed)
                    per = bitsim.simulate_gates(mac, **kw).per_vector()
                    row[arch] = per["total"]
                    adders.add(per["accumulator_adder"])
                assert len(adders) == 1, adders  # one adder circuit, the same operands
                row["gate_adder"] = adders.pop()
                rows.append(row)
    return rows


def savings(rows):
    """Per (bits, acc_bits): 1 - unsigned / signed total toggles, by each model."""
    out = []
    for s, u in zip(rows[::2], rows[1::2]):
        row = {"bits": s["bits"], "acc_bits": s["acc_bits"]}
        for key in ("register", *ARCHS):
            row[key] = 1 - u[key] / s[key]
        out.append(row)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-n", type=float, default=1e6, help="MACs per configuration (default 1e6)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--format", choices=FORMATS, default="markdown")
    args = p.parse_args(argv)
    rows = measure(int(args.n), args.seed, args.threads)
    if args.format in ("json", "csv"):
        sys.stdout.write(render(rows, args.format))
        return 0
    totals = [
        Column("bits"),
        Column("acc_bits", "acc"),
        Column("signed", get=lambda r: "s" if r["signed"] else "u"),
        Column("register", "register: all sites", "{:.1f}"),
        Column("register_adder", "register: adder", "{:.1f}"),
        Column("gate_adder", "gate: adder", "{:.1f}"),
    ] + [Column(arch, f"gate: {arch}", "{:.1f}") for arch in ARCHS]
    title = (
        f"toggles per MAC: uniform operands, K = {LENGTH}, n = {int(args.n):,}, seed {args.seed}"
    )
    sys.stdout.write(render(rows, args.format, totals, title))
    sys.stdout.write("\n")
    saving = [Column("bits"), Column("acc_bits", "acc")] + [
        Column(k, k if k != "register" else "register level", "{:.1%}")
        for k in ("register", *ARCHS)
    ]
    sys.stdout.write(render(savings(rows), args.format, saving, "unsigned saving in total toggles"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
