"""``bitsim gates --liberty L``: energy per vector and power of a netlist mapped to a library."""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from bitsim._core.checks import InputError
from bitsim._core.render import Column, render
from bitsim.circuits.liberty import read_liberty
from bitsim.circuits.mapped import MappedNetlist, load_mapped_json, map_circuit, verilog
from bitsim.circuits.multipliers import circuit, structure
from bitsim.cli.common import operand_choices, signedness, width_pairs, write
from bitsim.cli.gates import stream_options, time_step_ps, timing_of, toggle_row
from bitsim.sim.energy import GLITCH_KINDS, KINDS, simulate_energy
from bitsim.sim.export import saif, sta_tcl


def run_energy(args) -> None:
    """The rows of ``bitsim gates --liberty``: one per width and signedness."""
    x_dist, w_dist = operand_choices(args)
    library = read_liberty(args.liberty)
    configs: List[Tuple[MappedNetlist, str, bool, Optional[Dict]]]
    if args.netlist:
        mapped = load_mapped_json(args.netlist, library, args.module)
        configs = [(mapped, args.netlist, s, None) for s in signedness(args)]
    else:
        configs = []
        for xb, wb in width_pairs(args):
            for s in signedness(args):
                c = circuit(args.arch, xb, wb, s, args.acc_bits if args.mac else None)
                configs.append((map_circuit(c, library), args.arch, s, structure(c)))
    files = [f for f in ("saif", "sta_tcl", "verilog") if getattr(args, f)]
    if files and len(configs) != 1:
        raise InputError(
            f"--{files[0].replace('_', '-')}: expected one configuration (one width pair and "
            f"one signedness), found {len(configs)}"
        )
    rows = []
    for mapped, name, signed, counts in configs:
        e = simulate_energy(
            mapped,
            x_dist,
            w_dist,
            clock=args.clock,
            internal_model=args.internal_model or "transition",
            **stream_options(args, signed),
            delay=args.delay,
            semantics=args.semantics,
            time_step=time_step_ps(args) * 1e-12 if args.delay == "liberty" else None,
        )
        g = e.toggles
        cells: dict = {}
        for inst in mapped.instances:
            cells[inst.cell.name] = cells.get(inst.cell.name, 0) + 1
        counts = counts if counts is not None else structure(mapped.netlist)
        row = {
            **toggle_row(args, name, g, signed, x_dist.name, w_dist.name, counts),
            "cells": cells,
            **e.to_dict(per_net=args.energy_per_net),
        }
        if args.delay != "zero":
            row["timing"] = timing_of(args, g)
        rows.append(row)
        for flag, text in (("saif", saif), ("sta_tcl", sta_tcl), ("verilog", None)):
            path = getattr(args, flag)
            if path:
                write(verilog(mapped) if text is None else text(e), path)
    if args.format == "json":
        write(render(rows, "json"))
        return
    names = [f"{r['bits']}x{r['w_bits']} {'signed' if r['signed'] else 'unsigned'}" for r in rows]
    kinds = KINDS + (GLITCH_KINDS if args.delay != "zero" else ())
    metrics = [(f"energy per vector, {k} (pJ)", "energy_per_vector_pj", k) for k in kinds]
    metrics += [(f"power, {k} (W)", "power_w", k) for k in KINDS]
    metrics += [
        (f"energy per vector, {k} (pJ)", "energy_by_part_pj", k)
        for k in dict.fromkeys(k for r in rows for k in r["energy_by_part_pj"])
    ]
    metrics += [("toggles per vector", "toggles_per_vector", "total")]
    if args.delay != "zero":
        metrics += [("toggles per vector, glitches", "toggles_per_vector", "glitches")]
        metrics += [("glitch share", "timing", "glitch_share")]
    table = [
        {"metric": label, **{n: r[key][sub] for n, r in zip(names, rows)}}
        for label, key, sub in metrics
    ]
    if args.format == "csv":
        write(render(table, "csv"))
        return
    columns = [Column("metric", left=True)] + [Column(n, get=_formatted(n)) for n in names]
    title = (
        f"{rows[0]['arch']}{', MAC' if rows[0]['mac'] else ''} on {rows[0]['library']} at "
        f"{args.clock:g} Hz: {rows[0]['n']:,} vectors of {x_dist.name} x {w_dist.name} operands"
    )
    write(render(table, args.format, columns, title))


def _formatted(key: str) -> Callable[[Mapping], Any]:
    return lambda row: f"{row[key]:.4g}"
