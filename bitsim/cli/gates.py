"""``bitsim gates``: gate-level toggles of a generated multiplier or MAC, or a Yosys netlist."""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, Union

import numpy as np

from bitsim._core.checks import InputError
from bitsim._core.render import Column, render
from bitsim.circuits.multipliers import ARCHS, MultiplierCircuit, circuit
from bitsim.circuits.netlist import Netlist
from bitsim.circuits.yosys import load_yosys_json, read_module
from bitsim.cli.common import (
    POSITIVE,
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
from bitsim.sim.distributions import DISTRIBUTIONS, resolve_distribution
from bitsim.sim.energy import DEFAULT_CLOCK_HZ, INTERNAL_MODELS
from bitsim.sim.gates import GateToggles, simulate_gates
from bitsim.sim.liberty_delay import DEFAULT_TIME_STEP_PS
from bitsim.sim.sequential import FIRST_CYCLE, simulate_netlist
from bitsim.sim.timing import SEMANTICS, simulate_netlist_timing, simulate_timing

DELAYS = ("zero", "unit", "liberty")


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
    p.set_defaults(bits=None)  # 8 for --arch; with --netlist, the port's width (checked)
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
        help="dot-product length of --mac or --clear-port (default: endless)",
    )
    p.add_argument("--a-port", help="netlist port of the first operand (default a)")
    p.add_argument("--b-port", help="netlist port of the second operand (default b)")
    p.add_argument("--module", default=None, help="netlist module (default: the top one)")
    p.add_argument(
        "--liberty",
        default=None,
        help="price toggles in joules with this Liberty library (bitsim[liberty]); --netlist "
        "must then be mapped to it (dfflibmap/abc -liberty), --arch is mapped through Yosys",
    )
    p.add_argument(
        "--clock",
        type=POSITIVE,
        default=DEFAULT_CLOCK_HZ,
        help=f"clock frequency in Hz for power and leakage (default {DEFAULT_CLOCK_HZ:g})",
    )
    p.add_argument(
        "--internal-model",
        choices=INTERNAL_MODELS,
        default=None,
        help="with --liberty: internal energy per output transition by the table of the pin "
        "that caused it (transition, default) or by OpenSTA 2.0.x's report_power formula",
    )
    p.add_argument("--saif", default=None, help="with --liberty: write the activity as SAIF")
    p.add_argument(
        "--sta-tcl", default=None, help="with --liberty: write OpenSTA set_power_activity commands"
    )
    p.add_argument(
        "--verilog", default=None, help="with --liberty: write the mapped netlist as Verilog"
    )
    p.add_argument(
        "--energy-per-net",
        action="store_true",
        help="with --liberty: energy per transition of every cell output (and flip-flop D and "
        "clock pin) in the JSON",
    )
    p.add_argument(
        "--port",
        action="append",
        default=[],
        metavar="NAME=FILE.npy",
        help="drive netlist input port NAME per cycle with the integers of a .npy file, or "
        "sample them (NAME=uniform|normal|half-normal|laplace); repeatable; signed or unsigned "
        "as --signed says; -n defaults to the arrays' length",
    )
    p.add_argument(
        "--clear-port",
        default=None,
        help="netlist port asserted on the first product of every --length dot product "
        "(after the design's operand-register latency)",
    )
    p.add_argument(
        "--clear-latency",
        type=int_in(0),
        default=None,
        help="cycles from the operand ports to the accumulator (default: from the netlist)",
    )
    p.add_argument(
        "--first-cycle",
        choices=FIRST_CYCLE,
        default="reset",
        help="count the change from the all-zero reset state into cycle 0 (reset, the "
        "default) or not (skip)",
    )
    p.add_argument(
        "--delay",
        choices=DELAYS,
        default="zero",
        help="gate delay model: zero (the default; each net changes at most once a vector), "
        "unit (every gate 1 step) or liberty (each cell's rise and fall delays from --liberty's "
        "timing tables at its load and input slew, in steps of --time-step): glitches counted, "
        "bitsim.simulate_timing; registers change at t = 0 with the inputs, the clock period is "
        "assumed longer than the settle time",
    )
    p.add_argument(
        "--time-step",
        type=POSITIVE,
        default=None,
        metavar="PS",
        help="with --delay liberty: picoseconds per time step (default 10; delays rounded to "
        "the nearest step, at least 1)",
    )
    p.add_argument(
        "--semantics",
        choices=SEMANTICS,
        default=None,
        help="with --delay unit: inertial (pulses shorter than a delay swallowed, the default) "
        "or transport (identical for unit delay)",
    )
    p.add_argument("--per-net", action="store_true", help="toggles of every net (JSON, netlist)")
    add_run_args(p, 10**6, "vectors")
    p.set_defaults(n=None)  # --netlist with --port: the arrays' length
    add_format(p)
    add_progress_args(p)
    p.set_defaults(run=run, parser=p)


def run(args) -> None:
    only_with(args, args.mac, "--mac", "--acc-bits")
    only_with(args, args.mac or args.clear_port is not None, "--mac or --clear-port", "--length")
    only_with(
        args,
        args.netlist is not None,
        "--netlist",
        "--a-port",
        "--b-port",
        "--module",
        "--clear-port",
        "--clear-latency",
        "--per-net",
    )
    only_with(args, args.arch is not None, "--arch", "--mac", "--x-bits", "--w-bits")
    timed = args.delay != "zero"
    only_with(args, timed, "--delay unit or liberty", "--semantics")
    only_with(args, args.delay == "liberty", "--delay liberty", "--time-step")
    args.semantics = args.semantics or "inertial"
    if args.delay == "liberty" and not args.liberty:
        raise InputError("--delay: liberty needs --liberty (the library whose delays to use)")
    if timed and args.first_cycle != "reset":
        raise InputError(f"--first-cycle: expected reset with --delay, found {args.first_cycle}")
    if args.port and args.netlist is None:
        raise InputError(f"--port: has no effect without --netlist, found --port {args.port[0]}")
    for flag in ("saif", "sta_tcl", "verilog", "energy_per_net", "internal_model"):
        if getattr(args, flag) and not args.liberty:
            raise InputError(f"--{flag.replace('_', '-')}: needs --liberty")
    if args.netlist is not None and args.bits is not None:
        check_port_widths(args)
    # defaults of options whose absence the checks above had to see
    args.bits = [8] if args.bits is None else args.bits
    args.acc_bits = 32 if args.acc_bits is None else args.acc_bits
    args.a_port, args.b_port = args.a_port or "a", args.b_port or "b"
    if args.liberty:
        from bitsim.cli.gates_energy import run_energy

        run_energy(args)
        return
    x_dist, w_dist = operand_choices(args)
    rows = []
    configs: List[Tuple[Union[Netlist, MultiplierCircuit], str, bool]]
    if args.netlist:
        netlist = load_yosys_json(args.netlist, args.module)
        sequential_netlist = args.clear_port or any(g.type == "DFF" for g in netlist.gates)
        if timed and not sequential_netlist:
            write_rows([timed_row(args, netlist, s) for s in signedness(args)], args.format)
            return
        if args.port or sequential_netlist:
            write_rows([sequential(args, netlist, s) for s in signedness(args)], args.format)
            return
        configs = [(netlist, args.netlist, s) for s in signedness(args)]
    else:
        configs = [
            (
                circuit(args.arch, xb, wb, s, args.acc_bits if args.mac else None),
                args.arch,
                s,
            )
            for xb, wb in width_pairs(args)
            for s in signedness(args)
        ]
    for circ, name, signed in configs:
        if timed:
            rows.append(timed_row(args, circ, signed))
            continue
        g = simulate_gates(
            circ,
            x_dist,
            w_dist,
            **stream_options(args, signed),
            progress=progress_of(args, f"{name} {'signed' if signed else 'unsigned'}: ", "vectors"),
        )
        rows.append(toggle_row(args, name, g, signed, x_dist.name, w_dist.name))
    write_rows(rows, args.format)


def stream_options(args, signed: bool) -> Dict[str, Any]:
    """The operand stream and run options that ``simulate_gates`` and ``simulate_energy``
    take from the command line alike."""
    return {
        "signed": signed,
        "x_port": args.a_port if args.netlist else "x",
        "w_port": args.b_port if args.netlist else "w",
        "length": args.length if args.mac else None,
        "n": 10**6 if args.n is None else args.n,
        "seed": args.seed,
        "threads": args.threads,
        "backend": args.backend,
        "simd": args.simd,
    }


def toggle_row(
    args, name: str, g, signed: bool, x_dist: str, w_dist: str, counts: Optional[Dict] = None
) -> Dict[str, Any]:
    """The keys of every ``bitsim gates`` row: the circuit, operand widths and distributions,
    run size, structure ``counts`` (default: the simulated circuit's) and toggles per vector."""
    return {
        "arch": name,
        "bits": len(g.bus(g.x_port)),
        "w_bits": len(g.bus(g.w_port)),
        "signed": signed,
        "mac": bool(args.mac),
        "n": g.vectors,
        "seed": args.seed,
        "x_dist": x_dist,
        "w_dist": w_dist,
        "counts": g.structure() if counts is None else counts,
        "toggles_per_vector": g.per_vector(),
    }


def timed_row(args, circ: Union[Netlist, MultiplierCircuit], signed: bool) -> Dict[str, Any]:
    """One row of a glitch-aware timing simulation (``--delay unit``) of a multiplier, a MAC or
    a netlist without flip-flops: the zero-delay row's keys, ``toggles_per_vector`` counting
    every change (glitches included) plus ``settled`` (the zero-delay count) and ``glitches``,
    and ``timing`` (``timing_of``)."""
    x_dist, w_dist = operand_choices(args)
    x_port = args.a_port if args.netlist else "x"
    w_port = args.b_port if args.netlist else "w"
    ports: Dict[str, Any] = port_arrays(args.port, args.scale)
    for port in ports:
        if port not in (x_port, w_port):
            raise InputError(
                f"--port: with --delay unit expected the operand ports {x_port}, {w_port}, "
                f"found {port!r}"
            )
    x, w = ports.get(x_port, x_dist), ports.get(w_port, w_dist)
    n = args.n
    if n is None and not isinstance(x, np.ndarray) and not isinstance(w, np.ndarray):
        n = 10**6
    g = simulate_timing(
        circ,
        x,
        w,
        delay=args.delay,
        semantics=args.semantics,
        signed=signed,
        x_port=x_port,
        w_port=w_port,
        length=args.length if args.mac else None,
        n=n,
        seed=args.seed,
        threads=args.threads,
        backend=args.backend,
        simd=args.simd,
    )
    return {
        **toggle_row(
            args,
            args.netlist or args.arch,
            g,
            signed,
            "array" if isinstance(x, np.ndarray) else x.name,
            "array" if isinstance(w, np.ndarray) else w.name,
        ),
        "timing": timing_of(args, g),
    }


def timing_of(args, g) -> Dict[str, Any]:
    """The ``timing`` object of a row: delay model, semantics, time step (ps, --delay
    liberty), glitch share, settle time (steps: max and mean over vectors)."""
    totals = g.glitch_totals()
    out: Dict[str, Any] = {"delay": args.delay, "semantics": g.semantics}
    if args.delay == "liberty":
        out["time_step_ps"] = time_step_ps(args)
    out.update({k: totals[k] for k in ("glitch_share", "settle_max", "settle_mean")})
    return out


def time_step_ps(args) -> float:
    return DEFAULT_TIME_STEP_PS if args.time_step is None else args.time_step


def check_port_widths(args) -> None:
    """--bits with --netlist states the operand ports' width: it must be theirs (read from
    the module's ports, whatever its cells: simple gates or library cells)."""
    mod, _ = read_module(args.netlist, args.module)
    ports = mod.get("ports", {})
    for port in (args.a_port or "a", args.b_port or "b"):
        info = ports.get(port, {})
        width = len(info.get("bits", [])) if info.get("direction") == "input" else 0
        if width and args.bits != [width]:
            raise InputError(
                f"--bits: expected the width of --netlist port {port!r} ({width}), found "
                f"{','.join(map(str, args.bits))}"
            )


def write_rows(rows, fmt: str) -> None:
    if fmt == "json":
        write(render(rows, "json"))
        return
    if fmt == "csv":
        nested = ("counts", "toggles_per_vector", "per_port", "per_net", "ports", "timing")
        flat = [
            {
                **{k: v for k, v in r.items() if k not in nested},
                **{k: v for k, v in r["counts"].items() if k != "gates"},
                "gates": sum(r["counts"]["gates"].values()),
                **{f"toggles_{k}": v for k, v in r["toggles_per_vector"].items()},
                **{f"toggles_port_{k}": v for k, v in r.get("per_port", {}).items()},
                **{f"timing_{k}": v for k, v in r.get("timing", {}).items()},
            }
            for r in rows
        ]
        write(render(flat, "csv"))
        return
    table, columns = by_metric(rows)
    write(render(table, fmt, columns, title(rows[0])))


def port_arrays(specs: List[str], scale) -> Dict[str, Any]:
    """--port NAME=FILE.npy options: port name -> the file's 1-D integer array (or, for
    NAME=uniform|normal|half-normal|laplace, that sampler)."""
    out: Dict[str, Any] = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            raise InputError(f"--port: expected NAME=FILE.npy, found {spec!r}")
        if name in out:
            raise InputError(f"--port: expected each port once, found {name!r} twice")
        if path in DISTRIBUTIONS:
            out[name] = resolve_distribution(path, "--port", scale)
            continue
        try:
            out[name] = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as err:
            raise InputError(
                f"--port: expected a readable .npy file for {name}, found {path!r} ({err})"
            ) from None
    return out


def sequential(args, netlist: Netlist, signed: bool) -> Dict[str, Any]:
    """One row of a netlist simulated cycle by cycle (bitsim.simulate_netlist, or with --delay
    bitsim.simulate_netlist_timing: the row gains ``timing``): ports from --port files, the
    --a-port/--b-port operands sampled when no file drives them."""
    x_dist, w_dist = operand_choices(args)
    ports: Dict[str, Any] = port_arrays(args.port, args.scale)
    for port, dist in ((args.a_port, x_dist), (args.b_port, w_dist)):
        if port in netlist.inputs and port not in ports and port != args.clear_port:
            ports[port] = dist
    n = args.n
    if n is None and not any(isinstance(v, np.ndarray) for v in ports.values()):
        n = 10**6
    common: Dict[str, Any] = dict(
        signed=signed,
        n=n,
        seed=args.seed,
        clear_port=args.clear_port,
        length=args.length,
        clear_latency=args.clear_latency,
    )
    g: GateToggles
    if args.delay != "zero":
        g = simulate_netlist_timing(
            netlist,
            ports,
            delay=args.delay,
            semantics=args.semantics,
            threads=args.threads,
            backend=args.backend,
            simd=args.simd,
            **common,
        )
    else:
        g = simulate_netlist(
            netlist,
            ports,
            first_cycle=args.first_cycle,
            backend=args.backend,
            simd=args.simd,
            **common,
        )
    described = {p: "array" if isinstance(v, np.ndarray) else v.name for p, v in ports.items()}
    row = {
        "arch": args.netlist,
        "bits": len(netlist.inputs[args.a_port]) if args.a_port in netlist.inputs else None,
        "w_bits": len(netlist.inputs[args.b_port]) if args.b_port in netlist.inputs else None,
        "signed": signed,
        "mac": False,
        "n": g.vectors,
        "seed": args.seed,
        "x_dist": described.get(args.a_port),
        "w_dist": described.get(args.b_port),
        "ports": described,
        "clear_port": args.clear_port,
        "first_cycle": args.first_cycle,
        "counts": {"gates": g.structure()["gates"]},
        "toggles_per_vector": g.per_vector(),
        "per_port": g.per_port(),
    }
    if args.delay != "zero":
        row["timing"] = timing_of(args, g)
    if args.per_net:
        row["per_net"] = g.named()
    return row


def title(row) -> str:
    return (
        f"{row['arch']}{', MAC' if row['mac'] else ''}: toggles per vector (per MAC) and "
        f"structure, {row['n']:,} vectors of {row['x_dist']} x {row['w_dist']} operands"
    )


def by_metric(rows):
    """One line per metric (toggles by total and part, then structure counts), one column per
    simulated configuration."""
    names = [
        ("" if r["bits"] is None else f"{r['bits']}x{r['w_bits']} ")
        + ("signed" if r["signed"] else "unsigned")
        for r in rows
    ]
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
