"""``bitsim gates``: gate-level toggles of a generated multiplier or MAC, or a Yosys netlist."""

from __future__ import annotations

from typing import Any, Callable, List, Mapping, Tuple, Union

from bitsim._core.render import Column, render
from bitsim.circuits.multipliers import ARCHS, MultiplierCircuit, circuit
from bitsim.circuits.netlist import Netlist
from bitsim.circuits.yosys import load_yosys_json
from bitsim.cli.common import (
    add_format,
    add_operand_args,
    add_progress_args,
    add_run_args,
    int_in,
    only_with,
    operand_choices,
    progress_of,
    signedness,
    width_pairs,
    write,
)
from bitsim.sim.gates import simulate_gates


def register(sub) -> None:
    p = sub.add_parser(
        "gates",
        help="gate-level toggles of a multiplier or MAC, or of a Yosys netlist",
        description="Structure counts and toggles per vector (per MAC) by part of a generated "
        "multiplier (or MAC with --mac) or of a Yosys JSON netlist.",
    )
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--arch", choices=ARCHS, help="a generated multiplier architecture")
    what.add_argument(
        "--netlist", help="Yosys JSON netlist (write_json after synth -flatten and abc -g ...)"
    )
    add_operand_args(p, [8])
    p.add_argument("--mac", action="store_true", help="a whole MAC (accumulator adder too)")
    p.add_argument(
        "--acc-bits",
        type=int_in(2, 64),
        default=None,
        help="accumulator width of --mac (default 32)",
    )
    p.add_argument(
        "--length",
        type=int_in(1),
        default=None,
        help="dot-product length of --mac (default: endless)",
    )
    p.add_argument("--a-port", help="netlist port of the first operand (default a)")
    p.add_argument("--b-port", help="netlist port of the second operand (default b)")
    p.add_argument("--module", default=None, help="netlist module (default: the top one)")
    add_run_args(p, 10**6, "vectors")
    add_format(p)
    add_progress_args(p)
    p.set_defaults(run=run, parser=p)


def run(args) -> None:
    only_with(args, args.mac, "--mac", "--acc-bits", "--length")
    only_with(args, args.netlist is not None, "--netlist", "--a-port", "--b-port", "--module")
    only_with(args, args.arch is not None, "--arch", "--mac", "--x-bits", "--w-bits")
    x_dist, w_dist = operand_choices(args)
    rows = []
    configs: List[Tuple[Union[Netlist, MultiplierCircuit], str, bool]]
    if args.netlist:
        netlist = load_yosys_json(args.netlist, args.module)
        configs = [(netlist, args.netlist, s) for s in signedness(args)]
    else:
        configs = [
            (
                circuit(args.arch, xb, wb, s, (args.acc_bits or 32) if args.mac else None),
                args.arch,
                s,
            )
            for xb, wb in width_pairs(args)
            for s in signedness(args)
        ]
    for circ, name, signed in configs:
        g = simulate_gates(
            circ,
            x_dist,
            w_dist,
            signed=signed,
            x_port=(args.a_port or "a") if args.netlist else "x",
            w_port=(args.b_port or "b") if args.netlist else "w",
            length=args.length if args.mac else None,
            n=args.n,
            seed=args.seed,
            threads=args.threads,
            backend=args.backend,
            simd=args.simd,
            progress=progress_of(args, f"{name} {'signed' if signed else 'unsigned'}: ", "vectors"),
        )
        rows.append(
            {
                "arch": name,
                "bits": len(g.bus(g.x_port)),
                "w_bits": len(g.bus(g.w_port)),
                "signed": signed,
                "mac": bool(args.mac),
                "n": g.vectors,
                "seed": args.seed,
                "x_dist": x_dist.name,
                "w_dist": w_dist.name,
                "counts": g.structure(),
                "toggles_per_vector": g.per_vector(),
            }
        )
    if args.format == "json":
        write(render(rows, "json"))
        return
    if args.format == "csv":
        flat = [
            {
                **{k: v for k, v in r.items() if k not in ("counts", "toggles_per_vector")},
                **{k: v for k, v in r["counts"].items() if k != "gates"},
                "gates": sum(r["counts"]["gates"].values()),
                **{f"toggles_{k}": v for k, v in r["toggles_per_vector"].items()},
            }
            for r in rows
        ]
        write(render(flat, "csv"))
        return
    table, columns = by_metric(rows)
    write(render(table, args.format, columns, title(rows[0])))


def title(row) -> str:
    return (
        f"{row['arch']}{', MAC' if row['mac'] else ''}: toggles per vector (per MAC) and "
        f"structure, {row['n']:,} vectors of {row['x_dist']} x {row['w_dist']} operands"
    )


def by_metric(rows):
    """One line per metric (toggles by total and part, then structure counts), one column per
    simulated configuration."""
    names = [f"{r['bits']}x{r['w_bits']} {'signed' if r['signed'] else 'unsigned'}" for r in rows]
    metrics = list(dict.fromkeys(k for r in rows for k in r["toggles_per_vector"]))
    table = [
        {"metric": m, **{n: r["toggles_per_vector"].get(m) for n, r in zip(names, rows)}}
        for m in metrics
    ]
    counts = list(
        dict.fromkeys(
            k for r in rows for k, v in r["counts"].items() if k != "gates" and v is not None
        )
    )
    table += [
        {"metric": c.replace("_", " "), **{n: r["counts"][c] for n, r in zip(names, rows)}}
        for c in counts
    ]
    gate_types = sorted({t for r in rows for t in r["counts"]["gates"]})
    table += [
        {"metric": f"{t} gates", **{n: r["counts"]["gates"].get(t, 0) for n, r in zip(names, rows)}}
        for t in gate_types
    ]
    columns = [Column("metric", left=True)] + [Column(n, get=_num_of(n)) for n in names]
    return table, columns


def _num_of(key: str) -> Callable[[Mapping], Any]:
    return lambda row: _num(row[key])


def _num(v):
    return f"{v:.3f}" if isinstance(v, float) else v
