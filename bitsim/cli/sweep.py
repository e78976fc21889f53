"""``bitsim sweep``: a YAML grid of experiments into one table, on every core or Dask."""

from __future__ import annotations

import sys

from bitsim._core.checks import MissingExtra
from bitsim.app.sweep import SPLIT_MACS, load_grid, run_sweep
from bitsim.backends.dispatch import BACKENDS, SIMD_CHOICES
from bitsim.cli.common import add_progress_args, count, int_in, progress_of


def register(sub) -> None:
    p = sub.add_parser(
        "sweep",
        help="run a YAML grid of experiments into one table (all cores or Dask)",
        description="Expand the grid of a YAML file (seed, kind, fixed, grid) and run every "
        "cell not yet in the output; one row per cell with its parameters, "
        "results, seed and the bitsim version. See bitsim.app.sweep for the format.",
    )
    p.add_argument("grid", help="grid file (YAML)")
    p.add_argument("--out", required=True, help="results.csv or results.parquet")
    p.add_argument(
        "--threads",
        "--workers",
        dest="threads",
        type=int_in(1, 1024),
        default=None,
        help="local threads (default: every core)",
    )
    p.add_argument(
        "--scheduler",
        default=None,
        help="Dask scheduler address, e.g. tcp://host:8786 (needs bitsim[dask])",
    )
    p.add_argument(
        "--split-macs",
        type=count(1),
        default=None,
        help="cells larger than this run as several merged tasks (default 2^28)",
    )
    p.add_argument(
        "--backend", choices=BACKENDS, default="c", help="kernels of every cell (default c)"
    )
    p.add_argument(
        "--simd",
        choices=SIMD_CHOICES,
        default="auto",
        help="instruction set of the C kernels (default: the best available)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="replace --out even when it is not this grid's output (default: refuse)",
    )
    add_progress_args(p)
    p.set_defaults(run=run, parser=p)


def run(args) -> None:
    grid = load_grid(args.grid)
    client = None
    if args.scheduler:
        try:
            from distributed import Client
        except ImportError:
            raise MissingExtra("--scheduler: needs Dask: pip install 'bitsim[dask]'") from None
        client = Client(args.scheduler)
    try:
        rows = run_sweep(
            grid,
            args.out,
            workers=args.threads,
            client=client,
            split_macs=args.split_macs or SPLIT_MACS,
            progress=progress_of(args, "sweep: ", "cells"),
            force=args.force,
            backend=args.backend,
            simd=args.simd,
        )
    finally:
        if client is not None:
            client.close()
    failed = [r for r in rows if r.get("status") != "ok"]
    sys.stderr.write(f"{len(rows)} rows in {args.out}, {len(failed)} failed\n")
