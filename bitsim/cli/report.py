"""``bitsim report``: per-layer costs, accumulator widths and bit flips of a built-in network."""

from __future__ import annotations

from bitsim.cli.common import (
    add_distribution_args,
    add_format,
    add_progress_args,
    add_run_args,
    count,
    int_in,
    only_with,
    progress_of,
    write,
)
from bitsim.cli.energy_args import add_energy_args, energy_function, fit_note
from bitsim.models.costs import BOPS_DEFINITIONS
from bitsim.nets.report import Precision, load_overrides, report
from bitsim.nets.zoo import NETWORKS, network


def register(sub) -> None:
    p = sub.add_parser(
        "report",
        help="per-layer costs, accumulator widths and bit flips of a network",
        description="Per-layer table and totals of a built-in network: MACs, ACE, ACE_v2, "
        "BOPS, compute cost, memory traffic, OPS/bit, accumulator widths, "
        "simulated bit flips per MAC and PANN power (signed and unsigned).",
    )
    p.add_argument("network", help=f"a built-in network: {', '.join(NETWORKS)}")
    p.add_argument("--a-bits", type=int_in(1, 32), default=8, help="activation width (default 8)")
    p.add_argument("--w-bits", type=int_in(1, 32), default=8, help="weight width (default 8)")
    p.add_argument(
        "--acc-bits", type=int_in(2, 64), default=32, help="accumulator width (default 32)"
    )
    p.add_argument(
        "--first-last-bits",
        type=int_in(1, 32),
        default=None,
        help="width of the first and last layer (e.g. 8)",
    )
    p.add_argument(
        "--unsigned-activations",
        action="store_true",
        help="the 'signed' columns use unsigned activations with signed weights",
    )
    p.add_argument("--overrides", help="JSON or YAML file: layer name -> width or {a_bits, w_bits}")
    p.add_argument(
        "--elementwise-format",
        default="int16",
        help="format of elementwise layers (default int16; e.g. bf16)",
    )
    p.add_argument(
        "--constant-format",
        default="int8",
        help="format of BatchNorm scales and pooling constants (default int8)",
    )
    add_distribution_args(p, scale=False)
    p.add_argument(
        "-n",
        type=count(1),
        default=None,
        help="MACs simulated per distinct configuration (default max(2^20, 64 K))",
    )
    p.add_argument("--no-sim", action="store_true", help="skip the bit-flip simulation")
    p.add_argument(
        "--bops",
        choices=BOPS_DEFINITIONS,
        default="hcm",
        help="BOPS definition: hcm (HCM eq. 1, default) or qonnx (MACs x b_a x b_w, as QONNX "
        "inference_cost and FINN)",
    )
    add_energy_args(p)
    add_run_args(p)
    add_format(p)
    add_progress_args(p)
    p.add_argument("--out", help="write to this file instead of standard output")
    p.set_defaults(run=run, parser=p)


def run(args) -> None:
    energy = energy_function(args, args.acc_bits)
    only_with(args, not args.no_sim, "the simulation (it is off with --no-sim)", "-n")
    precision = Precision(
        a_bits=args.a_bits,
        w_bits=args.w_bits,
        acc_bits=args.acc_bits,
        a_signed=not args.unsigned_activations,
        first_last_bits=args.first_last_bits,
        overrides=load_overrides(args.overrides) if args.overrides else {},
        elementwise_format=args.elementwise_format,
        constant_format=args.constant_format,
        x_dist=args.x_dist or args.dist,
        w_dist=args.w_dist or args.dist,
    )
    r = report(
        network(args.network),
        precision,
        simulate=not args.no_sim,
        n=args.n,
        seed=args.seed,
        threads=args.threads,
        backend=args.backend,
        simd=args.simd,
        bops=args.bops,
        energy=energy,
        progress=progress_of(args, f"{args.network}: "),
    )
    text = r.render(args.format)
    if energy and args.format in ("table", "markdown"):
        text += f"{fit_note(energy)}\n"
    write(text, args.out)
