"""``bitsim accwidth``: the accumulator width a dot product needs: bound, estimate, measurement."""

from __future__ import annotations

from typing import Any, Callable, Mapping

from bitsim._core.render import Column, render
from bitsim.cli.common import (
    add_format,
    add_operand_args,
    add_progress_args,
    add_run_args,
    count,
    number,
    operand_choices,
    progress_of,
    signedness,
    width_pairs,
    write,
)
from bitsim.sim.accwidth import width_summary
from bitsim.sim.mac import simulate_mac

ESTIMATES = ("worst_case", "statistical", "measured")


def _acc_flips_of(estimate: str) -> Callable[[Mapping], Any]:
    return lambda r: r["flips"][estimate]["acc"]


COLUMNS = [
    Column("x_bits", "x"),
    Column("w_bits", "w"),
    Column("signed", "arith", get=lambda r: "signed" if r["signed"] else "unsigned"),
    Column("worst_case_bits", "worst"),
    Column("statistical_bits", "stat"),
    Column("measured_bits", "meas"),
    Column(
        "confident_bits",
        "conf",
        get=lambda r: "-" if r["confident_bits"] is None else r["confident_bits"],
    ),
]
FLIP_COLUMNS = [
    Column(f"flips_{e}", f"flips@{short}", "{:.3f}", get=_acc_flips_of(e))
    for e, short in zip(ESTIMATES, ("worst", "stat", "meas"))
]


def register(sub) -> None:
    p = sub.add_parser(
        "accwidth",
        help="accumulator width a dot product needs: bounds, estimate, measurement",
        description="For dot products of length K: the exact data-type bound, the Gaussian "
        "estimate for overflow probability <= eps, and the width measured over "
        "simulated dot products, signed and unsigned; with the bit flips per MAC "
        "of each width.",
    )
    p.add_argument(
        "--k", type=count(1), required=True, help="dot-product length, e.g. 4608 = 3x3x512"
    )
    add_operand_args(p, [2, 3, 4, 8])
    p.add_argument(
        "--eps",
        type=number(0.0, 1.0),
        default=1e-6,
        help="target overflow rate, in (0, 1] (default 1e-6)",
    )
    p.add_argument(
        "--dots",
        type=count(1),
        default=10**4,
        help="simulated dot products per configuration (default 1e4)",
    )
    p.add_argument(
        "--flips-n",
        type=count(0),
        default=10**6,
        help="MACs simulated for the flips of each width (default 1e6; 0: none)",
    )
    add_run_args(p)
    add_format(p)
    add_progress_args(p)
    p.set_defaults(run=run, parser=p)


def run(args) -> None:
    x_dist, w_dist = operand_choices(args)
    rows = []
    for x_bits, w_bits in width_pairs(args):
        for signed in signedness(args):
            label = f"x{x_bits} w{w_bits} {'signed' if signed else 'unsigned'}: "
            kw = dict(x_bits=x_bits, w_bits=w_bits, x_signed=signed, w_signed=signed)
            run_kw = dict(
                seed=args.seed, threads=args.threads, backend=args.backend, simd=args.simd
            )
            row = {
                "k": args.k,
                "x_bits": x_bits,
                "w_bits": w_bits,
                "signed": signed,
                **width_summary(
                    args.k,
                    x_dist,
                    w_dist,
                    dots=args.dots,
                    eps=args.eps,
                    progress=progress_of(args, label, "dot products"),
                    **kw,
                    **run_kw,
                ),
                "eps": args.eps,
                "seed": args.seed,
                "x_dist": x_dist.name,
                "w_dist": w_dist.name,
            }
            row["flips"] = (
                {}
                if not args.flips_n
                else {
                    est: simulate_mac(
                        x_dist,
                        w_dist,
                        acc_bits=min(64, max(2, row[f"{est}_bits"])),
                        length=args.k,
                        n=args.flips_n,
                        progress=progress_of(args, f"{label}{est} width: "),
                        **kw,
                        **run_kw,
                    ).mean_flips
                    for est in ESTIMATES
                }
            )
            rows.append(row)
    columns = COLUMNS + (FLIP_COLUMNS if args.flips_n else [])
    if args.format == "json":
        write(render(rows, "json"))
        return
    title = (
        f"accumulator bits for dot products of K = {args.k}: {x_dist.name} x "
        f"{w_dist.name}, eps = {args.eps:g}, {args.dots:,} simulated dot products"
        + (f"; acc flips per MAC at each width over {args.flips_n:,} MACs" if args.flips_n else "")
    )
    notes = (
        ["conf: smallest width shown to meet eps at 95% confidence ('-': needs more dot products)"]
        if args.format == "table"
        else []
    )
    write(render(rows, args.format, columns, title, notes))
