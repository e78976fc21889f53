"""Command line: a thin layer over the public functions. ``bitsim COMMAND --help`` for each."""
from __future__ import annotations

import argparse
import csv
import io
import json
import sys

from bitsim.distributions import DISTRIBUTIONS, resolve_distribution
from bitsim.layers import Conv2d, Linear
from bitsim.mac import (BACKENDS, SIMD_CHOICES, SITES, default_threads, simulate_mac,
                        stderr_progress)
from bitsim.roofline import DDR4_2400_X64, Accelerator, roofline

LONG_RUN_MACS = 1 << 26   # progress goes to stderr for runs at least this long


def int_list(text: str):
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, found {text!r}")
    if not values:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, found {text!r}")
    return values


def count(text: str) -> int:
    """An integer count that may be written 1e9."""
    try:
        value = float(text) if any(c in text for c in ".eE") else int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, found {text!r}")
    if value != int(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, found {text!r}")
    return int(value)


def width_pairs(args):
    """(x_bits, w_bits) pairs: --bits b gives (b, b); --x-bits/--w-bits lists are zipped, a
    single value standing for every entry of the other list."""
    xs = args.x_bits or args.bits
    ws = args.w_bits or args.bits
    if len(xs) != len(ws) and 1 not in (len(xs), len(ws)):
        raise ValueError(f"--x-bits, --w-bits: expected lists of equal length or a single "
                         f"value, found {len(xs)} and {len(ws)} values")
    n = max(len(xs), len(ws))
    return [(xs[i if len(xs) > 1 else 0], ws[i if len(ws) > 1 else 0]) for i in range(n)]


def add_operand_args(p, default_bits):
    """--bits/--x-bits/--w-bits, the distributions, --scale and --signed of flips/accwidth."""
    p.add_argument("--bits", type=int_list, default=default_bits,
                   help=f"operand widths, both operands (default {','.join(map(str, default_bits))})")
    p.add_argument("--x-bits", type=int_list, help="activation widths (overrides --bits)")
    p.add_argument("--w-bits", type=int_list, help="weight widths (overrides --bits)")
    p.add_argument("--dist", default="uniform", choices=list(DISTRIBUTIONS),
                   help="operand distribution of both operands (default uniform)")
    p.add_argument("--x-dist", choices=list(DISTRIBUTIONS), help="activation distribution")
    p.add_argument("--w-dist", choices=list(DISTRIBUTIONS), help="weight distribution")
    p.add_argument("--scale", type=float, default=None,
                   help="scale of non-uniform distributions in LSBs (default: a quarter of "
                        "the format's magnitude range)")
    p.add_argument("--signed", choices=["both", "signed", "unsigned"], default="both",
                   help="arithmetic to simulate (default both)")


def operand_choices(args):
    """(signedness list, x distribution, w distribution) of add_operand_args' options."""
    signs = {"both": [True, False], "signed": [True], "unsigned": [False]}[args.signed]
    return (signs, resolve_distribution(args.x_dist or args.dist, "--x-dist", args.scale),
            resolve_distribution(args.w_dist or args.dist, "--w-dist", args.scale))


def add_flips(sub):
    p = sub.add_parser(
        "flips", help="average bit flips per MAC of each register, signed vs unsigned",
        description="Simulate a MAC unit over sampled operands and print the average bit flips "
                    "per MAC of the x, w, product and accumulator registers, signed and "
                    "unsigned side by side. Default: the PANN setting (uniform b-bit "
                    "operands, 2b-bit product, 32-bit accumulator, one endless dot product).")
    add_operand_args(p, [2, 3, 4, 5, 6, 7, 8])
    p.add_argument("--acc-bits", type=int, default=32, help="accumulator width (default 32)")
    p.add_argument("--length", type=int, default=None,
                   help="dot-product length K (default: one endless dot product)")
    p.add_argument("-n", type=count, default=10**6, help="MACs per configuration (default 1e6)")
    p.add_argument("--seed", type=int, default=0, help="sampler seed (default 0)")
    p.add_argument("--threads", type=int, default=default_threads(),
                   help="threads (default: all cores; results do not depend on it)")
    p.add_argument("--backend", choices=BACKENDS, default="c")
    p.add_argument("--simd", choices=SIMD_CHOICES, default="auto")
    p.add_argument("--format", choices=["table", "csv", "json"], default="table")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress on stderr (default: for long runs on a terminal)")
    p.set_defaults(run=run_flips)


def run_flips(args):
    signs, x_dist, w_dist = operand_choices(args)
    show = args.progress
    if show is None:
        show = sys.stderr.isatty() and args.n >= LONG_RUN_MACS
    rows = []
    for x_bits, w_bits in width_pairs(args):
        for signed in signs:
            label = f"x{x_bits} w{w_bits} {'signed' if signed else 'unsigned'}: "
            progress = stderr_progress(label) if show else None
            r = simulate_mac(x_dist, w_dist, x_bits=x_bits, w_bits=w_bits,
                             acc_bits=args.acc_bits, signed=signed, length=args.length,
                             n=args.n, seed=args.seed, threads=args.threads,
                             backend=args.backend, simd=args.simd, progress=progress)
            rows.append({"x_bits": x_bits, "w_bits": w_bits, "acc_bits": args.acc_bits,
                         "signed": signed, "length": args.length, "n": r.macs,
                         "seed": args.seed, "x_dist": x_dist.name, "w_dist": w_dist.name,
                         "flips": r.mean_flips, "overflows": r.overflows})
    sys.stdout.write(FORMATTERS[args.format](rows))


def flips_json(rows) -> str:
    return json.dumps(rows, indent=2) + "\n"


def flips_csv(rows) -> str:
    out = io.StringIO()
    keys = ["x_bits", "w_bits", "acc_bits", "signed", "length", "n", "seed", "x_dist",
            "w_dist", *SITES, "total", "overflows"]
    writer = csv.DictWriter(out, fieldnames=keys, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        flat = {k: v for k, v in row.items() if k != "flips"}
        flat.update({k: f"{v:.6f}" for k, v in row["flips"].items()})
        flat["length"] = "" if row["length"] is None else row["length"]
        writer.writerow(flat)
    return out.getvalue()


def flips_table(rows) -> str:
    """One line per width pair; signed and unsigned blocks side by side, and the saving of
    unsigned arithmetic in total flips."""
    cols = [*SITES, "total"]
    groups = {}
    for row in rows:
        groups.setdefault((row["x_bits"], row["w_bits"]), {})[row["signed"]] = row["flips"]
    first = rows[0] if rows else {}
    head = (f"bit flips per MAC: {first.get('x_dist', '')} x {first.get('w_dist', '')}, "
            f"{first.get('acc_bits', '')}-bit accumulator, dot length "
            f"{first.get('length') or 'endless'}, n = {first.get('n', 0):,}, "
            f"seed {first.get('seed', '')}\n")
    signs = [s for s in (True, False) if any(s in g for g in groups.values())]
    title = "  ".join(f"{('signed' if s else 'unsigned'):^{8 * len(cols)}}" for s in signs)
    lines = [head, f"{'x':>3} {'w':>3}  {title}" + ("  saving" if len(signs) == 2 else "")]
    sub = "  ".join("".join(f"{c:>8}" for c in cols) for _ in signs)
    lines.append(f"{'':>3} {'':>3}  {sub}")
    for (xb, wb), g in groups.items():
        blocks = "  ".join("".join(f"{g[s][c]:8.3f}" for c in cols) for s in signs)
        line = f"{xb:>3} {wb:>3}  {blocks}"
        if len(signs) == 2 and g[True]["total"]:
            line += f"  {100 * (1 - g[False]['total'] / g[True]['total']):5.1f}%"
        lines.append(line)
    return "\n".join(lines) + "\n"


FORMATTERS = {"json": flips_json, "csv": flips_csv, "table": flips_table}


def dims(text: str):
    """'256x256x3x3' -> (256, 256, 3, 3)."""
    try:
        values = tuple(int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected integers joined by 'x', found {text!r}")
    return values


def number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, found {text!r}")


def add_roofline(sub):
    p = sub.add_parser(
        "roofline", help="OPS roofline of a layer on an accelerator (HCM sec. 4)",
        description="Evaluate a convolution or linear layer on an accelerator of a given "
                    "area, clock and memory bandwidth, for several number formats: PEs, peak "
                    "and required operations/s, OPS/bit, attainable operations/s and bound.")
    layer = p.add_mutually_exclusive_group(required=True)
    layer.add_argument("--conv", type=dims, help="convolution CINxCOUTxKHxKW, e.g. 256x256x3x3")
    layer.add_argument("--linear", type=dims, help="linear layer INxOUT, e.g. 512x1000")
    layer.add_argument("--network", help="every convolution and linear layer of a built-in "
                                          "network (resnet18, vgg16, ...)")
    p.add_argument("--input", type=dims, default=None, help="input HxW of a convolution")
    p.add_argument("--stride", type=int, default=1)
    p.add_argument("--padding", default="same",
                   help="padding in pixels, or 'same' (kernel // 2, the default)")
    p.add_argument("--groups", type=int, default=1)
    p.add_argument("--area-mm2", type=number, required=True, help="silicon area in mm^2")
    p.add_argument("--clock", type=number, required=True, help="clock in Hz, e.g. 800e6")
    p.add_argument("--mem-bw", type=number, default=DDR4_2400_X64,
                   help="memory bandwidth in bits/s (default: DDR4 2.4 GT/s x 64 bit)")
    p.add_argument("--formats", default="fp32,int32,int16,int8,int4",
                   help="comma-separated formats (default fp32,int32,int16,int8,int4)")
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.set_defaults(run=run_roofline)


def build_layers(args):
    if args.network is not None:
        from bitsim.networks import network

        return [layer for layer in network(args.network).layers if layer.kind != "elementwise"]
    if args.linear is not None:
        if len(args.linear) != 2:
            raise ValueError(f"--linear: expected INxOUT, found {'x'.join(map(str, args.linear))}")
        return [Linear("linear", *args.linear)]
    if len(args.conv) != 4:
        raise ValueError(f"--conv: expected CINxCOUTxKHxKW, found {'x'.join(map(str, args.conv))}")
    if args.input is None or len(args.input) not in (1, 2):
        raise ValueError("--input: expected HxW for a convolution, found "
                         f"{'nothing' if args.input is None else 'x'.join(map(str, args.input))}")
    cin, cout, kh, kw = args.conv
    hw = args.input if len(args.input) == 2 else args.input * 2
    padding = (kh // 2, kw // 2) if args.padding == "same" else int(args.padding)
    return [Conv2d("conv", cin, cout, (kh, kw), tuple(hw), stride=args.stride,
                   padding=padding, groups=args.groups)]


def run_roofline(args):
    layers = build_layers(args)
    acc = Accelerator(args.area_mm2, args.clock, args.mem_bw)
    formats = [f for f in args.formats.split(",") if f.strip()]
    rows = []
    for layer in layers:
        for p in (roofline(layer, acc, f) for f in formats):
            row = {"format": p.format, "pes": p.pes, "peak_ops_per_s": p.peak_ops_per_s,
                   "required_ops_per_s": p.required_ops_per_s, "ops_per_bit": p.ops_per_bit,
                   "memory_roof_ops_per_s": p.memory_roof_ops_per_s,
                   "attainable_ops_per_s": p.attainable_ops_per_s, "bound": p.bound,
                   "meets_requirement": p.meets_requirement}
            if args.network is not None:
                row = {"layer": layer.name, "shape": layer.shape, **row}
            rows.append(row)
    if args.format == "json":
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    what = args.network or f"{layers[0].kind} {layers[0].shape}"
    lines = [f"OPS roofline: {what}, {args.area_mm2:g} mm^2, {args.clock / 1e6:g} MHz, "
             f"{args.mem_bw / 1e9:g} Gbit/s",
             f"{'layer':<24} {'format':>7} {'PEs':>7} {'peak GOPS/s':>12} {'needs GOPS/s':>13} "
             f"{'OPS/bit':>8} {'memory GOPS/s':>14} {'attainable':>11} {'bound':>8}"]
    for layer, r in zip([l for l in layers for _ in formats], rows):
        lines.append(f"{layer.name:<24} {r['format']:>7} {r['pes']:>7,} "
                     f"{r['peak_ops_per_s'] / 1e9:>12,.1f} {r['required_ops_per_s'] / 1e9:>13,.1f} "
                     f"{r['ops_per_bit']:>8.2f} {r['memory_roof_ops_per_s'] / 1e9:>14,.1f} "
                     f"{r['attainable_ops_per_s'] / 1e9:>11,.1f} {r['bound']:>8}")
    sys.stdout.write("\n".join(lines) + "\n")


def add_accwidth(sub):
    p = sub.add_parser(
        "accwidth", help="accumulator width a dot product needs: bounds, estimate, measurement",
        description="For dot products of length K: the exact data-type bound, the Gaussian "
                    "estimate for overflow probability <= eps, and the width measured over "
                    "simulated dot products, signed and unsigned; with the bit flips per MAC "
                    "of each width.")
    p.add_argument("--k", type=int, required=True, help="dot-product length, e.g. 4608 = 3x3x512")
    add_operand_args(p, [2, 3, 4, 8])
    p.add_argument("--eps", type=float, default=1e-6, help="target overflow rate (default 1e-6)")
    p.add_argument("--dots", type=count, default=10**4,
                   help="simulated dot products per configuration (default 1e4)")
    p.add_argument("--flips-n", type=count, default=10**6,
                   help="MACs simulated for the flips of each width (default 1e6; 0: none)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=default_threads())
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.set_defaults(run=run_accwidth)


def run_accwidth(args):
    from bitsim import accwidth

    signs, x_dist, w_dist = operand_choices(args)
    rows = []
    for x_bits, w_bits in width_pairs(args):
        for signed in signs:
            kw = dict(x_bits=x_bits, w_bits=w_bits, x_signed=signed, w_signed=signed)
            m = accwidth.measure(args.k, x_dist, w_dist, dots=args.dots, seed=args.seed,
                                 threads=args.threads, **kw)
            row = {"k": args.k, "x_bits": x_bits, "w_bits": w_bits, "signed": signed,
                   "worst_case_bits": accwidth.worst_case_bits(args.k, x_bits, w_bits,
                                                               signed, signed),
                   "statistical_bits": accwidth.statistical_bits(
                       args.k, x_bits, w_bits, signed, signed, x_dist, w_dist, args.eps),
                   "measured_bits": m.smallest_width(args.eps),
                   "confident_bits": m.confident_width(args.eps),
                   "eps": args.eps, "dots": m.dots, "seed": args.seed,
                   "x_dist": x_dist.name, "w_dist": w_dist.name}
            row["flips"] = {} if not args.flips_n else {
                est: simulate_mac(x_dist, w_dist, acc_bits=min(64, max(2, row[f"{est}_bits"])),
                                  length=args.k, n=args.flips_n, seed=args.seed,
                                  threads=args.threads, **kw).mean_flips
                for est in ("worst_case", "statistical", "measured")}
            rows.append(row)
    if args.format == "json":
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    lines = [f"accumulator bits for dot products of K = {args.k}: {x_dist.name} x "
             f"{w_dist.name}, eps = {args.eps:g}, {args.dots:,} simulated dot products"
             + (f"; acc flips per MAC at each width over {args.flips_n:,} MACs"
                if args.flips_n else ""),
             f"{'x':>3} {'w':>3} {'arith':>8} {'worst':>6} {'stat':>6} {'meas':>6} "
             f"{'conf':>6}" + ("   flips@worst  flips@stat  flips@meas" if args.flips_n else "")]
    for r in rows:
        line = (f"{r['x_bits']:>3} {r['w_bits']:>3} {'signed' if r['signed'] else 'unsigned':>8} "
                f"{r['worst_case_bits']:>6} {r['statistical_bits']:>6} {r['measured_bits']:>6} "
                f"{'-' if r['confident_bits'] is None else r['confident_bits']:>6}")
        if r["flips"]:
            line += "".join(f"{r['flips'][e]['acc']:>12.3f}"
                            for e in ("worst_case", "statistical", "measured"))
        lines.append(line)
    lines.append("conf: smallest width shown to meet eps at 95% confidence ('-': needs more "
                 "dot products)")
    sys.stdout.write("\n".join(lines) + "\n")


def add_report(sub):
    p = sub.add_parser(
        "report", help="per-layer costs, accumulator widths and bit flips of a network",
        description="Per-layer table and totals of a built-in network: MACs, ACE, ACE_v2, "
                    "BOPS, compute cost, memory traffic, OPS/bit, accumulator widths, "
                    "simulated bit flips per MAC and PANN power (signed and unsigned).")
    p.add_argument("network", help="resnet18, resnet34, resnet50, vgg16, vgg16_bn, "
                                   "mobilenet_v2, resnet20, resnet20-conv")
    p.add_argument("--a-bits", type=int, default=8, help="activation width (default 8)")
    p.add_argument("--w-bits", type=int, default=8, help="weight width (default 8)")
    p.add_argument("--acc-bits", type=int, default=32, help="accumulator width (default 32)")
    p.add_argument("--first-last-bits", type=int, default=None,
                   help="width of the first and last layer (e.g. 8)")
    p.add_argument("--unsigned-activations", action="store_true",
                   help="the 'signed' columns use unsigned activations with signed weights")
    p.add_argument("--overrides", help="JSON or YAML file: layer name -> width or "
                                       "{a_bits, w_bits}")
    p.add_argument("--elementwise-format", default="int16",
                   help="format of elementwise layers (default int16; e.g. bf16)")
    p.add_argument("--constant-format", default="int8",
                   help="format of BatchNorm scales and pooling constants (default int8)")
    p.add_argument("--dist", default="uniform", choices=list(DISTRIBUTIONS))
    p.add_argument("--x-dist", choices=list(DISTRIBUTIONS))
    p.add_argument("--w-dist", choices=list(DISTRIBUTIONS))
    p.add_argument("-n", type=count, default=None,
                   help="MACs simulated per distinct configuration (default max(2^20, 64 K))")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-sim", action="store_true", help="skip the bit-flip simulation")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--format", choices=["table", "csv", "json", "markdown"], default="table")
    p.add_argument("--out", help="write to this file instead of standard output")
    p.set_defaults(run=run_report)


def run_report(args):
    from bitsim.networks import network
    from bitsim.report import Precision, load_overrides, report

    precision = Precision(
        a_bits=args.a_bits, w_bits=args.w_bits, acc_bits=args.acc_bits,
        a_signed=not args.unsigned_activations, first_last_bits=args.first_last_bits,
        overrides=load_overrides(args.overrides) if args.overrides else {},
        elementwise_format=args.elementwise_format, constant_format=args.constant_format,
        x_dist=args.x_dist or args.dist, w_dist=args.w_dist or args.dist)
    text = report(network(args.network), precision, simulate=not args.no_sim, n=args.n,
                  seed=args.seed, threads=args.threads).render(args.format)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)


def add_plot(sub):
    p = sub.add_parser("plot", help="roofline and bit-flip plots (needs matplotlib)")
    kinds = p.add_subparsers(dest="plot", required=True)
    r = kinds.add_parser("roofline", help="every layer of a network against the roofs of "
                                          "several formats (HCM Fig. 12)")
    r.add_argument("network")
    r.add_argument("--area-mm2", type=number, default=1.0, help="silicon area (default 1)")
    r.add_argument("--clock", type=number, default=800e6, help="clock in Hz (default 800e6)")
    r.add_argument("--mem-bw", type=number, default=DDR4_2400_X64, help="bits/s")
    r.add_argument("--formats", default="int2,int3,int4", help="default int2,int3,int4")
    r.add_argument("--out", required=True, help="output file, .png or .svg")
    r.set_defaults(run=run_plot_roofline)
    f = kinds.add_parser("flips", help="bit flips per MAC against bit width, per site, "
                                       "signed vs unsigned")
    f.add_argument("--bits", type=int_list, default=[2, 3, 4, 5, 6, 7, 8])
    f.add_argument("--acc-bits", type=int, default=32)
    f.add_argument("--length", type=int, default=None)
    f.add_argument("--dist", default="uniform", choices=list(DISTRIBUTIONS))
    f.add_argument("-n", type=count, default=10**6)
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--threads", type=int, default=default_threads())
    f.add_argument("--out", required=True, help="output file, .png or .svg")
    f.set_defaults(run=run_plot_flips)
    o = kinds.add_parser("overflow", help="overflow rate against accumulator width")
    o.add_argument("--k", type=int, required=True, help="dot-product length")
    o.add_argument("--bits", type=int_list, default=[2, 4, 8])
    o.add_argument("--dots", type=count, default=10**5)
    o.add_argument("--dist", default="uniform", choices=list(DISTRIBUTIONS))
    o.add_argument("--seed", type=int, default=0)
    o.add_argument("--out", required=True, help="output file, .png or .svg")
    o.set_defaults(run=run_plot_overflow)
    w = kinds.add_parser("sweep", help="flips per MAC against bit width from sweep results")
    w.add_argument("results", help="results.csv or results.parquet of a flips sweep")
    w.add_argument("--out", required=True, help="output file, .png or .svg")
    w.set_defaults(run=run_plot_sweep)


def run_plot_roofline(args):
    from bitsim.networks import network
    from bitsim.plots import roofline_plot

    acc = Accelerator(args.area_mm2, args.clock, args.mem_bw)
    formats = [f for f in args.formats.split(",") if f.strip()]
    roofline_plot(network(args.network).layers, acc, formats, args.out,
                  f"{args.network}: {args.area_mm2:g} mm^2, {args.clock / 1e6:g} MHz "
                  "(dashed: memory roofs)")


def run_plot_flips(args):
    from bitsim.plots import flips_plot

    results = [simulate_mac(args.dist, args.dist, x_bits=b, acc_bits=args.acc_bits,
                            signed=signed, length=args.length, n=args.n, seed=args.seed,
                            threads=args.threads)
               for b in args.bits for signed in (True, False)]
    flips_plot(results, args.out, f"{args.dist} operands, {args.acc_bits}-bit accumulator, "
                                  f"dot length {args.length or 'endless'}")


def add_sweep(sub):
    p = sub.add_parser(
        "sweep", help="run a YAML grid of experiments into one table (all cores or Dask)",
        description="Expand the grid of a YAML file (seed, kind, fixed, grid) and run every "
                    "cell not yet in the output; one row per cell with its parameters, "
                    "results, seed and the bitsim version. See bitsim.sweep for the format.")
    p.add_argument("grid", help="grid file (YAML)")
    p.add_argument("--out", required=True, help="results.csv or results.parquet")
    p.add_argument("--workers", type=int, default=None, help="local threads (default: cores)")
    p.add_argument("--scheduler", default=None,
                   help="Dask scheduler address, e.g. tcp://host:8786 (needs bitsim[dask])")
    p.add_argument("--split-macs", type=count, default=None,
                   help="cells larger than this run as several merged tasks (default 2^28)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(run=run_sweep_cli)


def run_sweep_cli(args):
    from bitsim.sweep import SPLIT_MACS, load_grid, run_sweep

    grid = load_grid(args.grid)
    client = None
    if args.scheduler:
        try:
            from distributed import Client
        except ImportError:
            raise ImportError("--scheduler needs Dask: pip install 'bitsim[dask]'") from None
        client = Client(args.scheduler)
    try:
        rows = run_sweep(grid, args.out, workers=args.workers, client=client,
                         split_macs=args.split_macs or SPLIT_MACS,
                         progress=not args.no_progress)
    finally:
        if client is not None:
            client.close()
    failed = [r for r in rows if r.get("status") != "ok"]
    sys.stderr.write(f"{len(rows)} rows in {args.out}, {len(failed)} failed\n")


def run_plot_overflow(args):
    from bitsim import accwidth
    from bitsim.plots import overflow_plot

    dist = resolve_distribution(args.dist, "--dist")
    ms = [accwidth.measure(args.k, dist, dist, x_bits=b, x_signed=s, w_signed=s, dots=args.dots,
                           seed=args.seed) for b in args.bits for s in (True, False)]
    overflow_plot(ms, args.out, f"K = {args.k}, {dist.name} operands, {args.dots:,} dot products "
                                "(floor: half a dot product)")


def run_plot_sweep(args):
    from bitsim.plots import sweep_plot

    sweep_plot(args.results, args.out)


def add_gates(sub):
    from bitsim.multipliers import ARCHS

    p = sub.add_parser(
        "gates", help="gate-level toggles of a multiplier or MAC, or of a Yosys netlist",
        description="Structure counts and toggles per vector (per MAC) by part of a generated "
                    "multiplier (or MAC with --mac) or of a Yosys JSON netlist.")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--arch", choices=ARCHS)
    what.add_argument("--netlist", help="Yosys JSON netlist (write_json after synth -flatten "
                                        "and abc -g ...)")
    p.add_argument("--bits", type=int, default=8, help="operand width (default 8)")
    p.add_argument("--w-bits", type=int, default=None, help="weight width (default --bits)")
    p.add_argument("--signed", action="store_true", help="two's complement operands")
    p.add_argument("--mac", action="store_true", help="a whole MAC (accumulator adder too)")
    p.add_argument("--acc-bits", type=int, default=32, help="accumulator width of --mac")
    p.add_argument("--length", type=int, default=None, help="dot-product length of --mac")
    p.add_argument("--a-port", default="a", help="netlist port of the first operand")
    p.add_argument("--b-port", default="b", help="netlist port of the second operand")
    p.add_argument("--module", default=None, help="netlist module (default: the top one)")
    p.add_argument("--dist", default="uniform", choices=list(DISTRIBUTIONS))
    p.add_argument("-n", type=count, default=10**6, help="vectors (default 1e6)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=default_threads())
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.set_defaults(run=run_gates)


def run_gates(args):
    from bitsim.gates import simulate_gates
    from bitsim.multipliers import mac_circuit, multiplier_circuit

    dist = resolve_distribution(args.dist, "--dist")
    if args.netlist:
        from bitsim.yosys import load_yosys_json

        circuit = load_yosys_json(args.netlist, args.module)
        g = simulate_gates(circuit, dist, dist, signed=args.signed, x_port=args.a_port,
                           w_port=args.b_port, n=args.n, seed=args.seed, threads=args.threads)
        counts = {"tree_full_adders": None, "tree_half_adders": None, "final_adder_bits": None,
                  "full_adders": None, "half_adders": None, "gates": circuit.count()}
        arch, bits = args.netlist, len(circuit.inputs[args.a_port])
    else:
        make = mac_circuit if args.mac else multiplier_circuit
        extra = {"acc_bits": args.acc_bits} if args.mac else {}
        circuit = make(args.arch, args.bits, args.w_bits, signed=args.signed, **extra)
        g = simulate_gates(circuit, dist, dist, length=args.length if args.mac else None,
                           n=args.n, seed=args.seed, threads=args.threads)
        counts, arch, bits = circuit.counts(), args.arch, args.bits
    out = {"arch": arch, "bits": bits, "w_bits": args.w_bits or bits, "signed": args.signed,
           "mac": bool(args.mac), "n": g.vectors, "seed": args.seed, "counts": counts,
           "toggles_per_vector": g.per_vector()}
    if args.format == "json":
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
        return
    lines = [f"{arch}: {bits}x{out['w_bits']} bits, {'signed' if args.signed else 'unsigned'}"
             f"{', MAC' if args.mac else ''}, {g.vectors:,} {dist.name} vectors"]
    lines.append("structure: " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in counts.items()
                                           if k != "gates" and v is not None))
    lines.append("gates: " + ", ".join(f"{k} {v}" for k, v in sorted(counts["gates"].items())))
    lines.append("toggles per vector:")
    lines += [f"  {k:<20} {v:10.3f}" for k, v in out["toggles_per_vector"].items()]
    sys.stdout.write("\n".join(lines) + "\n")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bitsim", description="What a quantized neural network costs in silicon.")
    sub = parser.add_subparsers(dest="command", required=True)
    add_flips(sub)
    add_roofline(sub)
    add_accwidth(sub)
    add_report(sub)
    add_plot(sub)
    add_sweep(sub)
    add_gates(sub)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.run(args)
    except (ValueError, TypeError, ImportError, OSError) as err:
        parser.exit(2, f"bitsim {args.command}: error: {err}\n")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
