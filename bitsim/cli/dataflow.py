"""``bitsim dataflow``: a layer on a systolic array: cycles, utilization and bit flips per site
of every processing element, with methods that cut them (bitsim.dataflow)."""

from __future__ import annotations

from typing import List

import numpy as np

from bitsim._core.checks import InputError
from bitsim._core.render import Column, render
from bitsim.cli.common import (
    add_format,
    add_layer_args,
    add_operand_args,
    add_run_args,
    int_in,
    layer_from_args,
    number,
    operand_choices,
    signedness,
    width_pairs,
    write,
)
from bitsim.cli.energy_args import add_energy_args, calibrations
from bitsim.dataflow.mapping import DATAFLOWS, Array
from bitsim.dataflow.methods import AXES, compare
from bitsim.dataflow.operands import sample_tensors
from bitsim.dataflow.simulate import ENCODINGS, PSUM
from bitsim.sim.formats import IntFormat
from bitsim.sim.mac import SITES

TOTALS = [*SITES, PSUM, "total"]


def _flips(site):
    return lambda r: r["flips"].get(site)


COLUMNS = [
    Column("dataflow", left=True),
    Column("cycles", fmt="{:,}"),
    Column("utilization", "util %", "{:.1f}", get=lambda r: 100 * r["utilization"]),
    Column("macs", "MACs", "{:,}"),
    Column("folds_simulated", "folds", get=lambda r: f"{r['folds_simulated']}/{r['folds']}"),
    *[Column(s, fmt="{:.3f}", get=_flips(s)) for s in TOTALS],
    Column("ci", "+-95%", "{:.3f}", get=lambda r: r["flips_ci95"]["total"] or 0.0),
]
BITS = Column(
    "bits",
    left=True,
    get=lambda r: f"{r['x_bits']}x{r['w_bits']} {'signed' if r['signed'] else 'unsigned'}",
)
SAVING = Column("saving", "saving %", "{:.2f}", get=lambda r: 100 * r["saving"])
ENERGY = Column("energy_pj_per_mac", "pJ/MAC", "{:.3g}")


def _dataflows(text: str) -> List[str]:
    items = [d.strip() for d in text.split(",") if d.strip()]
    bad = [d for d in items if d not in DATAFLOWS]
    if bad or not items:
        raise InputError(f"--dataflow: expected ws, os or is (comma-separated), found {text!r}")
    return items


def register(sub) -> None:
    p = sub.add_parser(
        "dataflow",
        help="a layer on a systolic array: cycles, utilization, bit flips of every PE",
        description="Map a convolution or linear layer onto an RxC systolic array (weight, "
        "output or input stationary; SCALE-Sim's cycle conventions), run each processing "
        "element's MAC on the operands it sees, and print cycles, utilization and mean bit "
        "flips per MAC of each register, partial-sum links included. --reorder, "
        "--zero-gating and --encoding apply methods that cut flips and print the saving.",
    )
    add_layer_args(p, matmul=True)
    p.add_argument("--array", required=True, help="systolic array RxC, e.g. 32x32")
    p.add_argument(
        "--dataflow", default="ws", help="ws, os or is, or a comma-separated list (default ws)"
    )
    p.add_argument("--x", help="input tensor, .npy of integers: (C, H, W), (IN,) or (N, K)")
    p.add_argument(
        "--w", help="weights, .npy of integers: (COUT, CIN/groups, KH, KW), (OUT, IN) or (K, M)"
    )
    add_operand_args(p, [8], signed="signed")
    p.add_argument(
        "--acc-bits",
        type=int_in(2, 64),
        default=32,
        help="accumulator and partial-sum width, 2..64 (default 32)",
    )
    p.add_argument(
        "--reorder",
        nargs="?",
        const="out",
        choices=list(AXES),
        help="reorder output (default) or input channels by a Hamming-distance tour",
    )
    p.add_argument("--zero-gating", action="store_true", help="gate MACs with a zero operand")
    p.add_argument("--encoding", choices=list(ENCODINGS), default="twos", help="operand encoding")
    p.add_argument(
        "--max-folds",
        type=int_in(1),
        default=64,
        help="folds simulated at most; larger layers are sampled (default 64)",
    )
    p.add_argument(
        "--energy-per-flip", type=number, default=None, help="joules per bit flip, for energy"
    )
    add_energy_args(p)
    p.add_argument("--heatmap", help="PNG or SVG file: flips per MAC of each PE (first dataflow)")
    add_run_args(p)
    add_format(p)
    p.set_defaults(run=run, parser=p)


def _load(path: str, flag: str) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as err:
        raise InputError(f"{flag}: cannot read {path}: {err}") from None


def _tensors(args, layer):
    if (args.x is None) != (args.w is None):
        raise InputError("--x, --w: expected both tensor files or neither")
    if args.x is not None:
        return _load(args.x, "--x"), _load(args.w, "--w"), "arrays"
    x_dist, w_dist = operand_choices(args)
    x, w = sample_tensors(layer, x_dist, w_dist, args.seed)
    return x, w, "sampled"


def run(args) -> None:
    calibration = calibrations(args, args.acc_bits)
    if calibration is not None and args.energy_per_flip is not None:
        raise InputError(
            "--energy-per-flip: expected either it or --liberty/--calibration, found both"
        )
    array = Array.parse(args.array, "--array")
    dataflows = _dataflows(args.dataflow)
    methods = args.reorder is not None or args.zero_gating or args.encoding != "twos"
    rows, first, source = [], None, ""
    for x_bits, w_bits in width_pairs(args):
        for signed in signedness(args):
            layer = layer_from_args(
                args, a_format=IntFormat(x_bits, signed), w_format=IntFormat(w_bits, signed)
            )
            x, w, source = _tensors(args, layer)
            for dataflow in dataflows:
                c = compare(
                    layer,
                    x,
                    w,
                    array,
                    dataflow,
                    reorder=args.reorder,
                    gating=args.zero_gating,
                    encoding=args.encoding,
                    acc_bits=args.acc_bits,
                    max_folds=args.max_folds,
                    seed=args.seed,
                    energy_per_flip=args.energy_per_flip,
                    calibration=None
                    if calibration is None
                    else calibration(x_bits, w_bits, signed),
                    threads=args.threads,
                    backend=args.backend,
                    simd=args.simd,
                )
                first = first or c.method
                row = c.to_dict() if methods else c.baseline.to_dict()
                row.update(
                    shape=layer.shape, operands=source, x_bits=x_bits, w_bits=w_bits, signed=signed
                )
                rows.append(row)
    if args.heatmap:
        from bitsim.app.plots import dataflow_heatmap

        dataflow_heatmap(first, args.heatmap)
    if args.format == "json":
        write(render(rows, "json"))
        return
    columns = [BITS] + COLUMNS + ([SAVING] if methods else [])
    columns += [ENERGY] if rows[0].get("energy_pj_per_mac") is not None else []
    kind = "matmul" if args.matmul else "linear" if args.linear else "conv"
    title = (
        f"{kind} {rows[0]['shape']} on a {array} array, {source} operands, "
        f"{args.acc_bits}-bit accumulator: bit flips per MAC"
    )
    write(render(rows, args.format, columns, title))
