"""``bitsim flips``: average bit flips per MAC of each site (registers and the accumulator
adder's addend and carries), signed vs unsigned, and the saving of unsigned arithmetic in the
total over every site."""

from __future__ import annotations

from typing import Any, Callable, Mapping

from bitsim._core.render import Column, render
from bitsim.cli.common import (
    add_format,
    add_operand_args,
    add_progress_args,
    add_run_args,
    int_in,
    operand_choices,
    simulate_each,
    write,
)
from bitsim.cli.energy_args import add_energy_args, energy_function, fit_note
from bitsim.sim.mac import SITES

TOTALS = [*SITES, "total"]


def _flips_of(site: str) -> Callable[[Mapping], Any]:
    return lambda r: r["flips"][site]


CSV_COLUMNS = (
    [
        Column(k)
        for k in (
            "x_bits",
            "w_bits",
            "acc_bits",
            "signed",
            "length",
            "n",
            "seed",
            "x_dist",
            "w_dist",
        )
    ]
    + [Column(s, fmt="{:.6f}", get=_flips_of(s)) for s in TOTALS]
    + [Column("overflows")]
)


def register(sub) -> None:
    p = sub.add_parser(
        "flips",
        help="average bit flips per MAC of each site, signed vs unsigned",
        description="Simulate a MAC unit over sampled operands and print the average bit flips "
        "per MAC of the x, w, product and accumulator registers and of the "
        "accumulator adder's addend and carry nets, signed and unsigned side by "
        "side, and the saving of unsigned arithmetic in the total over every "
        "site. Default: the PANN setting (uniform b-bit "
        "operands, 2b-bit product, 32-bit accumulator, one endless dot product).",
    )
    add_operand_args(p, [2, 3, 4, 5, 6, 7, 8])
    p.add_argument(
        "--acc-bits", type=int_in(2, 64), default=32, help="accumulator width, 2..64 (default 32)"
    )
    p.add_argument(
        "--length",
        type=int_in(1),
        default=None,
        help="dot-product length K (default: one endless dot product)",
    )
    add_energy_args(p)
    add_run_args(p, 10**6)
    add_format(p)
    add_progress_args(p)
    p.set_defaults(run=run, parser=p)


def run(args) -> None:
    x_dist, w_dist = operand_choices(args)
    energy = energy_function(args, args.acc_bits)
    rows = [
        {
            "x_bits": x_bits,
            "w_bits": w_bits,
            "acc_bits": args.acc_bits,
            "signed": signed,
            "length": args.length,
            "n": r.macs,
            "seed": args.seed,
            "x_dist": x_dist.name,
            "w_dist": w_dist.name,
            "flips": r.mean_flips,
            "overflows": r.overflows,
            **({"energy_pj_per_mac": energy(r) * 1e12} if energy else {}),
        }
        for x_bits, w_bits, signed, r in simulate_each(args)
    ]
    if args.format in ("json", "csv"):
        extra = [Column("energy_pj_per_mac", fmt="{:.6f}")] if energy else []
        write(render(rows, args.format, CSV_COLUMNS + extra))
        return
    first = rows[0]
    title = (
        f"bit flips per MAC: {first['x_dist']} x {first['w_dist']}, {first['acc_bits']}-bit "
        f"accumulator, dot length {first['length'] or 'endless'}, n = {first['n']:,}, "
        f"seed {first['seed']}"
    )
    if energy:
        title += f"; {fit_note(energy)}"
    table, columns = side_by_side(rows)
    write(render(table, args.format, columns, title))


def side_by_side(rows):
    """One row per width pair with the signed and the unsigned flips, and the saving of
    unsigned arithmetic in total flips when both were simulated."""
    signs = [s for s in (True, False) if any(r["signed"] is s for r in rows)]
    groups: dict = {}
    for r in rows:
        flips = dict(r["flips"])
        if "energy_pj_per_mac" in r:
            flips["pJ"] = r["energy_pj_per_mac"]
        groups.setdefault((r["x_bits"], r["w_bits"]), {})[r["signed"]] = flips
    table = []
    for (xb, wb), g in groups.items():
        row = {"x": xb, "w": wb}
        for s in signs:
            row.update({f"{'s' if s else 'u'}_{k}": v for k, v in g[s].items()})
        if len(signs) == 2 and g[True]["total"]:
            row["saving"] = 1 - g[False]["total"] / g[True]["total"]
        table.append(row)
    columns = [Column("x"), Column("w")]
    for s in signs:
        tag = "signed" if s else "unsigned"
        keys = TOTALS + (["pJ"] if any("energy_pj_per_mac" in r for r in rows) else [])
        columns += [
            Column(f"{'s' if s else 'u'}_{k}", f"{k} {tag}" if k == "x" else k, "{:.3f}")
            for k in keys
        ]
    if len(signs) == 2:
        columns.append(Column("saving", "unsigned saving", "{:.1%}"))
    return table, columns
