"""``bitsim roofline``: the OPS roofline of a layer or network on an accelerator (HCM sec. 4)."""

from __future__ import annotations

from bitsim._core.render import Column, render
from bitsim.cli.common import (
    POSITIVE,
    add_format,
    add_layer_args,
    format_list,
    layer_from_args,
    write,
)
from bitsim.models.roofline import DDR4_2400_X64, Accelerator, roofline
from bitsim.nets.zoo import network

COLUMNS = [
    Column("layer", left=True),
    Column("format"),
    Column("pes", "PEs", "{:,}"),
    Column("peak_ops_per_s", "peak GOPS/s", "{:,.1f}", get=lambda r: r["peak_ops_per_s"] / 1e9),
    Column(
        "required_ops_per_s", "needs GOPS/s", "{:,.1f}", get=lambda r: r["required_ops_per_s"] / 1e9
    ),
    Column("ops_per_bit", "OPS/bit", "{:.2f}"),
    Column(
        "memory_roof_ops_per_s",
        "memory GOPS/s",
        "{:,.1f}",
        get=lambda r: r["memory_roof_ops_per_s"] / 1e9,
    ),
    Column(
        "attainable_ops_per_s",
        "attainable",
        "{:,.1f}",
        get=lambda r: r["attainable_ops_per_s"] / 1e9,
    ),
    Column("bound"),
]


def register(sub) -> None:
    p = sub.add_parser(
        "roofline",
        help="OPS roofline of a layer on an accelerator (HCM sec. 4)",
        description="Evaluate a convolution or linear layer on an accelerator of a given "
        "area, clock and memory bandwidth, for several number formats: PEs, peak "
        "and required operations/s, OPS/bit, attainable operations/s and bound.",
    )
    add_layer_args(p, network=True)
    p.add_argument("--area-mm2", type=POSITIVE, required=True, help="silicon area in mm^2")
    p.add_argument("--clock", type=POSITIVE, required=True, help="clock in Hz, e.g. 800e6")
    p.add_argument(
        "--mem-bw",
        type=POSITIVE,
        default=DDR4_2400_X64,
        help="memory bandwidth in bits/s (default: DDR4 2.4 GT/s x 64 bit)",
    )
    p.add_argument(
        "--formats",
        type=format_list,
        default="fp32,int32,int16,int8,int4",
        help="comma-separated number formats (default fp32,int32,int16,int8,int4)",
    )
    add_format(p)
    p.set_defaults(run=run, parser=p)


def build_layers(args):
    if args.network is not None:
        return [layer for layer in network(args.network).layers if layer.kind != "elementwise"]
    return [layer_from_args(args)]


def run(args) -> None:
    layers = build_layers(args)
    acc = Accelerator(args.area_mm2, args.clock, args.mem_bw)
    formats = args.formats
    rows = []
    for layer in layers:
        for p in (roofline(layer, acc, f) for f in formats):
            row = {
                "format": p.format,
                "pes": p.pes,
                "peak_ops_per_s": p.peak_ops_per_s,
                "required_ops_per_s": p.required_ops_per_s,
                "ops_per_bit": p.ops_per_bit,
                "memory_roof_ops_per_s": p.memory_roof_ops_per_s,
                "attainable_ops_per_s": p.attainable_ops_per_s,
                "bound": p.bound,
                "meets_requirement": p.meets_requirement,
            }
            if args.network is not None:
                row = {"layer": layer.name, "shape": layer.shape, **row}
            rows.append(row)
    if args.format in ("json", "csv"):
        write(render(rows, args.format))
        return
    what = args.network or f"{layers[0].kind} {layers[0].shape}"
    title = (
        f"OPS roofline: {what}, {args.area_mm2:g} mm^2, {args.clock / 1e6:g} MHz, "
        f"{args.mem_bw / 1e9:g} Gbit/s"
    )
    named = [
        {"layer": layer.name, **r}
        for layer, r in zip([lay for lay in layers for _ in formats], rows)
    ]
    write(render(named, args.format, COLUMNS, title))
