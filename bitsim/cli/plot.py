"""``bitsim plot``: roofline, bit-flip, overflow and sweep plots (needs matplotlib)."""

from __future__ import annotations

import os
import sys

from bitsim.app.plots import flips_plot, overflow_plot, roofline_plot, sweep_plot
from bitsim.cli.common import (
    POSITIVE,
    add_operand_args,
    add_run_args,
    count,
    format_list,
    int_in,
    operand_choices,
    signedness,
    simulate_each,
    width_pairs,
)
from bitsim.models.roofline import DDR4_2400_X64, Accelerator
from bitsim.nets.zoo import NETWORKS, network
from bitsim.sim.accwidth import measure


def register(sub) -> None:
    p = sub.add_parser(
        "plot",
        help="roofline and bit-flip plots (needs matplotlib)",
        description="Plots to PNG or SVG files (by the --out extension).",
    )
    kinds = p.add_subparsers(dest="plot", required=True)
    r = kinds.add_parser(
        "roofline",
        help="every layer of a network against the roofs of several formats (HCM Fig. 12)",
    )
    r.add_argument("network", help=f"a built-in network: {', '.join(NETWORKS)}")
    r.add_argument("--area-mm2", type=POSITIVE, default=1.0, help="silicon area (default 1)")
    r.add_argument("--clock", type=POSITIVE, default=800e6, help="clock in Hz (default 800e6)")
    r.add_argument(
        "--mem-bw",
        type=POSITIVE,
        default=DDR4_2400_X64,
        help="memory bandwidth in bits/s (default: DDR4 2.4 GT/s x 64 bit)",
    )
    r.add_argument(
        "--formats",
        type=format_list,
        default="int2,int3,int4",
        help="comma-separated number formats (default int2,int3,int4)",
    )
    r.add_argument("--out", required=True, help="output file, .png or .svg")
    r.set_defaults(run=run_roofline, parser=r)
    f = kinds.add_parser(
        "flips", help="bit flips per MAC against bit width, per site, signed vs unsigned"
    )
    add_operand_args(f, [2, 3, 4, 5, 6, 7, 8])
    f.add_argument(
        "--acc-bits", type=int_in(2, 64), default=32, help="accumulator width (default 32)"
    )
    f.add_argument(
        "--length", type=int_in(1), default=None, help="dot-product length K (default: endless)"
    )
    add_run_args(f, 10**6)
    f.add_argument("--out", required=True, help="output file, .png or .svg")
    f.set_defaults(run=run_flips, parser=f)
    o = kinds.add_parser("overflow", help="overflow rate against accumulator width")
    o.add_argument("--k", type=count(1), required=True, help="dot-product length")
    add_operand_args(o, [2, 4, 8])
    o.add_argument(
        "--dots",
        type=count(1),
        default=10**5,
        help="simulated dot products per configuration (default 1e5)",
    )
    add_run_args(o)
    o.add_argument("--out", required=True, help="output file, .png or .svg")
    o.set_defaults(run=run_overflow, parser=o)
    w = kinds.add_parser("sweep", help="flips per MAC against bit width from sweep results")
    w.add_argument("results", help="results.csv or results.parquet of a flips sweep")
    w.add_argument("--out", required=True, help="output file, .png or .svg")
    w.set_defaults(run=run_sweep, parser=w)


def _wrote(args) -> None:
    """Say where the plot went (stdout), so that a script or a user can find it."""
    sys.stdout.write(f"wrote {os.path.abspath(args.out)}\n")


def run_roofline(args) -> None:
    acc = Accelerator(args.area_mm2, args.clock, args.mem_bw)
    formats = args.formats
    roofline_plot(
        network(args.network).layers,
        acc,
        formats,
        args.out,
        f"{args.network}: {args.area_mm2:g} mm^2, {args.clock / 1e6:g} MHz (dashed: memory roofs)",
    )
    _wrote(args)


def run_flips(args) -> None:
    x_dist, w_dist = operand_choices(args)
    results = [r for _, _, _, r in simulate_each(args)]
    flips_plot(
        results,
        args.out,
        f"{x_dist.name} x {w_dist.name} operands, {args.acc_bits}-bit "
        f"accumulator, dot length {args.length or 'endless'}",
    )
    _wrote(args)


def run_overflow(args) -> None:
    x_dist, w_dist = operand_choices(args)
    ms = [
        measure(
            args.k,
            x_dist,
            w_dist,
            x_bits=xb,
            w_bits=wb,
            x_signed=s,
            w_signed=s,
            dots=args.dots,
            seed=args.seed,
            threads=args.threads,
            backend=args.backend,
            simd=args.simd,
        )
        for xb, wb in width_pairs(args)
        for s in signedness(args)
    ]
    overflow_plot(
        ms,
        args.out,
        f"K = {args.k}, {x_dist.name} x {w_dist.name} operands, "
        f"{args.dots:,} dot products (floor: half a dot product)",
    )
    _wrote(args)


def run_sweep(args) -> None:
    sweep_plot(args.results, args.out)
    _wrote(args)
