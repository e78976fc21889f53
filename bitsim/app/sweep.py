"""Experiment sweeps: a YAML grid in, one tidy table out, on every core or on a Dask cluster.

The YAML file has four top-level keys::

    seed: 1                  # the grid seed
    kind: flips              # flips (simulate_mac), accwidth (accwidth) or gates (gates)
    fixed: {acc_bits: 32, n: 1000000}
    grid: {x_bits: [2, 4, 8], signed: [true, false], length: [null, 576]}

Parameters take the names of the Python API: for ``flips`` x_bits, w_bits, acc_bits, signed,
x_signed, w_signed, length, dist, x_dist, w_dist, scale, n; for ``accwidth`` k, x_bits, w_bits,
signed, x_signed, w_signed, dist, x_dist, w_dist, scale, dots, eps; for ``gates`` arch, x_bits,
w_bits, signed, mac, acc_bits, length, dist, x_dist, w_dist, scale, n, delay (zero, the default,
unit or liberty: glitch-aware, ``bitsim.simulate_timing``, adding toggles_settled, toggles_glitches,
glitch_share, settle_max and settle_mean), semantics (inertial or transport), liberty (a Liberty
library: the circuit is mapped to it and priced, adding energy_<kind>_pj per vector, with a delay
the settled/glitch split too; needed by delay liberty) and time_step (seconds per step of delay
liberty, default 1e-11). Schema errors name the key and the line at fault and are reported before
anything runs.

Every cell's seed is derived from the grid seed and the cell's parameters (SHA-256), so results
do not depend on the order, the number of workers or the scheduler. Finished rows go to a
journal (``OUT.partial.jsonl``) as they arrive and the output (CSV, or Parquet with pyarrow) is
written at the end, also after Ctrl-C; rerunning skips the cells already in the output or the
journal. A failing cell records its error and the others go on. Cells of more than
``split_macs`` MACs run as several tasks (a first pass finds each range's starting partial sum)
whose counts merge exactly into the unsplit result.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import itertools
import json
import math
import os
import traceback
from concurrent.futures import as_completed as local_as_completed
from dataclasses import dataclass
from typing import Dict, Iterator, List, NoReturn, Optional, Tuple

from bitsim._core.checks import InputError, MissingExtra, check_bool, check_choice, check_int
from bitsim._core.files import atomic_path, load_yaml
from bitsim._core.interrupt import Workers
from bitsim._core.progress import progress_callback
from bitsim._core.segments import chain, default_threads, merge, split, tail_range
from bitsim._version import __version__
from bitsim.backends.dispatch import BACKENDS, SIMD_CHOICES, select
from bitsim.circuits.liberty import read_liberty
from bitsim.circuits.mapped import map_circuit
from bitsim.circuits.multipliers import ARCHS, circuit, structure
from bitsim.sim import accwidth, mac
from bitsim.sim.distributions import DISTRIBUTIONS, resolve_distribution
from bitsim.sim.energy import simulate_energy
from bitsim.sim.gates import GateToggles, simulate_gates
from bitsim.sim.timing import SEMANTICS, TimingToggles, simulate_timing

__all__ = [
    "BOOL_PARAMS",
    "COMMON",
    "DEFAULT_DOTS",
    "DEFAULT_N",
    "DIST_PARAMS",
    "INT_PARAMS",
    "PARAMS",
    "SPLIT_MACS",
    "Grid",
    "GridError",
    "cell_key",
    "cell_seed",
    "flips_row",
    "grid_id",
    "load_grid",
    "read_rows",
    "run_sweep",
    "task_accwidth",
    "task_flips",
    "task_gates",
    "task_tail",
]

SPLIT_MACS = 1 << 28
MAX_PARTS = 1024  # a cell runs as at most this many tasks (memory does not grow with n)
DEFAULT_N = 10**6  # MACs of a flips cell that does not set n
DEFAULT_DOTS = 10**4  # dot products of an accwidth cell that does not set dots
COMMON = {"x_bits", "w_bits", "signed", "x_signed", "w_signed", "dist", "x_dist", "w_dist", "scale"}
PARAMS = {
    "flips": COMMON | {"acc_bits", "length", "n"},
    "accwidth": COMMON | {"k", "dots", "eps"},
    "gates": COMMON
    | {"arch", "mac", "acc_bits", "length", "n", "delay", "semantics", "liberty", "time_step"},
}
INT_PARAMS = {"x_bits", "w_bits", "acc_bits", "length", "n", "k", "dots"}
BOOL_PARAMS = {"signed", "x_signed", "w_signed", "mac"}
DIST_PARAMS = {"dist", "x_dist", "w_dist"}
DELAYS = ("zero", "unit", "liberty")  # gates: zero-delay (simulate_gates) or simulate_timing


class GridError(InputError):
    """A schema error in a grid file, with the line at fault."""


@dataclass
class Grid:
    seed: int
    kind: str
    fixed: Dict
    grid: Dict[str, list]

    def cells(self) -> List[dict]:
        keys = list(self.grid)
        return [
            {**self.fixed, **dict(zip(keys, values))}
            for values in itertools.product(*(self.grid[k] for k in keys))
        ]


def _whole(value) -> Optional[int]:
    """An integer parameter's value as an int: ints, whole floats (3.0e+8) and numbers that
    YAML 1.1 reads as text (3e8); None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = int(value) if value.strip().lstrip("+-").isdigit() else float(value)
        except ValueError:
            return None
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return value if isinstance(value, int) else None


def _check_value(name, value):
    """None when value suits parameter name, else what was expected."""
    if name in INT_PARAMS:
        if name == "length" and value is None:
            return None
        if _whole(value) is None:
            return "a whole number" + (" or null" if name == "length" else "")
        return None
    if name in BOOL_PARAMS:
        return None if isinstance(value, bool) else "true or false"
    if name in DIST_PARAMS:
        return None if value in DISTRIBUTIONS else f"one of {', '.join(DISTRIBUTIONS)}"
    if name == "arch":
        return None if value in ARCHS else f"one of {', '.join(ARCHS)}"
    if name == "delay":
        return None if value in DELAYS else f"one of {', '.join(DELAYS)}"
    if name == "semantics":
        return None if value in SEMANTICS else f"one of {', '.join(SEMANTICS)}"
    if name == "liberty":
        return None if isinstance(value, str) and value else "a Liberty file's path"
    if name in ("scale", "eps", "time_step"):
        ok = (
            isinstance(value, (int, float))
            and not isinstance(value, bool)
            and math.isfinite(value)
            and value > 0
        )
        return None if ok or (name == "scale" and value is None) else "a positive number"
    return None


def load_grid(path: str) -> Grid:
    """Parse and check a grid file; GridError names the file, line and key at fault."""
    import yaml

    try:
        data, root = load_yaml(path, "grid")
    except InputError as err:
        raise GridError(str(err)) from None

    def fail(node, key, expected, found) -> NoReturn:
        line = node.start_mark.line + 1 if node is not None else 1
        raise GridError(f"{path}:{line}: {key}: expected {expected}, found {found}")

    if not isinstance(root, yaml.MappingNode):
        fail(root, "grid file", "a mapping with seed, kind, fixed and grid", "something else")
    nodes = {k.value: (k, v) for k, v in root.value}
    for key, (knode, _) in nodes.items():
        if key not in ("seed", "kind", "fixed", "grid"):
            fail(knode, key, "one of seed, kind, fixed, grid", f"unknown key {key!r}")
    kind = data.get("kind")
    if kind not in PARAMS:
        fail(nodes.get("kind", (None, None))[1], "kind", "flips, accwidth or gates", repr(kind))
    seed = data.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**64:
        fail(nodes.get("seed", (None, None))[1], "seed", "an integer in [0, 2**64)", repr(seed))
    fixed, grid = data.get("fixed") or {}, data.get("grid") or {}
    for section, mapping, is_grid in (("fixed", fixed, False), ("grid", grid, True)):
        snode = nodes.get(section, (None, None))[1]
        if not isinstance(mapping, dict):
            fail(snode, section, "a mapping of parameters", type(mapping).__name__)
        pnodes = {k.value: (k, v) for k, v in snode.value} if snode is not None else {}
        for name, value in mapping.items():
            knode, vnode = pnodes.get(name, (snode, snode))
            if name not in PARAMS[kind]:
                fail(
                    knode,
                    f"{section}.{name}",
                    f"a parameter of kind {kind} ({', '.join(sorted(PARAMS[kind]))})",
                    f"unknown parameter {name!r}",
                )
            values = value if is_grid else [value]
            if is_grid and (not isinstance(value, list) or not value):
                fail(vnode, f"grid.{name}", "a non-empty list of values", repr(value))
            for v in values:
                expected = _check_value(name, v)
                if expected:
                    fail(vnode, f"{section}.{name}", expected, repr(v))
    overlap = set(fixed) & set(grid)
    if overlap:
        name = sorted(overlap)[0]
        fail(
            _key_node(nodes, "grid", name),
            f"grid.{name}",
            "a parameter not also in fixed",
            "it in both",
        )
    whole = {k: _whole(v) for k, v in fixed.items() if k in INT_PARAMS and v is not None}
    fixed = {**fixed, **whole}
    grid = {
        k: [_whole(v) if k in INT_PARAMS and v is not None else v for v in vs]
        for k, vs in grid.items()
    }
    g = Grid(seed, kind, fixed, grid)
    for cell in g.cells():  # every combination must make a valid configuration
        try:
            _check_cell(kind, cell)
        except (TypeError, ValueError) as err:
            raise GridError(f"{path}: cell {json.dumps(cell, sort_keys=True)}: {err}") from None
    return g


def _key_node(nodes, section, name):
    """The YAML node of key ``name`` in ``section`` (the section's node when absent)."""
    snode = nodes.get(section, (None, None))[1]
    for k, _ in snode.value if snode is not None else []:
        if k.value == name:
            return k
    return snode


def cell_seed(grid_seed: int, cell: dict) -> int:
    """The cell's seed, in [0, 2**63): from the grid seed and its parameters, not its position."""
    text = f"{grid_seed}|{json.dumps(cell, sort_keys=True)}"
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little") >> 1


def cell_key(cell: dict) -> str:
    return json.dumps({k: cell[k] for k in sorted(cell)}, sort_keys=True)


def _operands(cell):
    scale = cell.get("scale")
    dist = cell.get("dist", "uniform")
    return (
        resolve_distribution(cell.get("x_dist", dist), "x_dist", scale),
        resolve_distribution(cell.get("w_dist", dist), "w_dist", scale),
    )


def _mac_kwargs(cell, seed):
    x, w = _operands(cell)
    keys = ("x_bits", "w_bits", "acc_bits", "signed", "x_signed", "w_signed", "length")
    return dict(
        x=x, w=w, seed=seed, n=cell.get("n", DEFAULT_N), **{k: cell[k] for k in keys if k in cell}
    )


def _check_cell(kind, cell):
    if kind == "flips":
        mac.prepare(**_mac_kwargs(cell, 0))
    elif kind == "gates":
        if "arch" not in cell:
            raise InputError("arch: expected a multiplier architecture, found none")
        _circuit(cell)
        mac.prepare(**_mac_kwargs(cell, 0))
        if cell.get("delay", "zero") == "liberty" and "liberty" not in cell:
            raise InputError("delay: liberty needs the parameter liberty (a library's path)")
        if "time_step" in cell and cell.get("delay", "zero") != "liberty":
            raise InputError("time_step: only with delay liberty")
    else:
        if "k" not in cell:
            raise InputError("k: expected the dot-product length, found none")
        if cell.get("dots", DEFAULT_DOTS) < 1:
            raise InputError(f"dots: expected at least one dot product, found {cell['dots']}")
        x_bits = cell.get("x_bits", 8)
        accwidth.worst_case_bits(cell["k"], x_bits, cell.get("w_bits", x_bits), *_signs(cell))


def _signs(cell):
    signed = cell.get("signed", True)
    return cell.get("x_signed", signed), cell.get("w_signed", signed)


# ---- tasks: plain functions of plain data, so Dask can ship them ------------------------


def task_tail(cell, seed, start, count, backend, simd):
    cfg, xs, ws, _, _ = mac.prepare(**_mac_kwargs(cell, seed))
    return select(backend, simd).mac_tail(
        cfg, xs, ws, *tail_range(cfg.length, start, start + count)
    )


def task_flips(cell, seed, start, count, before, backend, simd):
    cfg, xs, ws, _, _ = mac.prepare(**_mac_kwargs(cell, seed))
    return select(backend, simd).mac_run(cfg, xs, ws, start, count, before)


def task_accwidth(cell, seed, backend, simd):
    x, w = _operands(cell)
    xs, ws = _signs(cell)
    return accwidth.width_summary(
        cell["k"],
        x,
        w,
        x_bits=cell.get("x_bits", 8),
        w_bits=cell.get("w_bits"),
        x_signed=xs,
        w_signed=ws,
        dots=cell.get("dots", DEFAULT_DOTS),
        eps=cell.get("eps", 1e-6),
        seed=seed,
        backend=backend,
        simd=simd,
    )


def _circuit(cell):
    x_bits = cell.get("x_bits", 8)
    return circuit(
        cell["arch"],
        x_bits,
        cell.get("w_bits", x_bits),
        cell.get("signed", False),
        cell.get("acc_bits", 32) if cell.get("mac", False) else None,
    )


def task_gates(cell, seed, backend, simd):
    x, w = _operands(cell)
    run = dict(
        length=cell.get("length") if cell.get("mac") else None,
        n=cell.get("n", DEFAULT_N),
        seed=seed,
        backend=backend,
        simd=simd,
    )
    if "liberty" in cell:
        return _energy_row(cell, x, w, run)
    g: GateToggles
    if cell.get("delay", "zero") != "zero":
        g = simulate_timing(
            _circuit(cell),
            x,
            w,
            delay=cell["delay"],
            semantics=cell.get("semantics", "inertial"),
            **run,
        )
    else:
        g = simulate_gates(_circuit(cell), x, w, **run)
    return _toggle_columns(g, g.structure())


def _toggle_columns(g, counts) -> dict:
    row = {f"toggles_{k}": v for k, v in g.per_vector().items()}
    row.update(
        {k: v for k, v in counts.items() if k != "gates"},
        n=g.vectors,
        gates=sum(counts["gates"].values()),
    )
    if isinstance(g, TimingToggles):
        totals = g.glitch_totals()
        row.update({k: totals[k] for k in ("glitch_share", "settle_max", "settle_mean")})
    return row


def _energy_row(cell, x, w, run) -> dict:
    """A gates cell with a library: the circuit mapped through Yosys and priced
    (``bitsim.simulate_energy``), zero-delay or with the cell's delay model; ``run``: the
    simulation's keyword arguments (task_gates)."""
    c = _circuit(cell)
    delay = cell.get("delay", "zero")
    e = simulate_energy(
        map_circuit(c, read_liberty(cell["liberty"])),
        x,
        w,
        signed=cell.get("signed", False),
        delay=delay,
        semantics=cell.get("semantics", "inertial"),
        time_step=cell.get("time_step", 1e-11) if delay == "liberty" else None,
        **run,
    )
    row = _toggle_columns(e.toggles, structure(c))
    row.update({f"energy_{k}_pj": v * 1e12 for k, v in e.per_vector_j.items()})
    return row


def flips_row(cell, seed, parts) -> dict:
    cfg, xs, ws, n, _ = mac.prepare(**_mac_kwargs(cell, seed))
    r = mac.result(cfg, xs, ws, n, seed, merge(parts))
    row: Dict[str, Optional[float]] = {f"flips_{site}": v for site, v in r.mean_flips.items()}
    row.update(
        overflows=r.overflows,
        min_partial_sum=r.min_partial_sum,
        max_partial_sum=r.max_partial_sum,
        n=n,
    )
    return row


# ---- executors ---------------------------------------------------------------------------


class _Local:
    """Worker threads (``interrupt.Workers``): on an exception, KeyboardInterrupt above all,
    ``close`` stops the running cells and drops the others before it returns."""

    def __init__(self, workers):
        self.workers = Workers(workers)

    def submit(self, fn, *args):
        return self.workers.submit(fn, *args)

    def as_completed(self, futures):
        return local_as_completed(futures)

    def close(self, error=None):
        self.workers.__exit__(None if error is None else type(error), error, None)


class _Dask:
    def __init__(self, client):
        self.client = client

    def submit(self, fn, *args):
        return self.client.submit(fn, *args, pure=False)

    def as_completed(self, futures):
        from distributed import as_completed

        return as_completed(futures)

    def close(self, error=None):
        pass


def read_rows(path) -> List[dict]:
    """Rows of a results file: CSV (values as text) or Parquet (needs pyarrow)."""
    if not os.path.exists(path):
        return []
    if path.endswith(".parquet"):
        return _pyarrow(path).parquet.read_table(path).to_pylist()
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _pyarrow(path):
    try:
        import pyarrow
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        raise MissingExtra(f"out: {path} needs pyarrow: pip install 'bitsim[parquet]'") from None
    return pyarrow


def _write_rows(path, rows):
    """The rows to ``path`` (CSV or Parquet), atomically."""
    keys = list(dict.fromkeys(k for r in rows for k in r))
    with atomic_path(path) as tmp:
        if path.endswith(".parquet"):
            pa = _pyarrow(path)
            table = [{k: r.get(k) for k in keys} for r in rows]
            for k in keys:  # integers beyond int64 (wide partial sums) are stored as text
                if any(isinstance(r[k], int) and not -(2**63) <= r[k] < 2**63 for r in table):
                    for r in table:
                        r[k] = None if r[k] is None else str(r[k])
            pa.parquet.write_table(pa.Table.from_pylist(table), tmp)
        else:
            with open(tmp, "w", newline="", encoding="utf-8") as f:
                writer = csv.DictWriter(f, fieldnames=keys, lineterminator="\n")
                writer.writeheader()
                for r in rows:
                    writer.writerow({k: "" if r.get(k) is None else r.get(k) for k in keys})


def grid_id(grid: Grid) -> str:
    """The grid's identity (SHA-256 of seed, kind, fixed and grid), recorded in every row so
    that a rerun resumes only its own output."""
    text = json.dumps(
        {"seed": grid.seed, "kind": grid.kind, "fixed": grid.fixed, "grid": grid.grid},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@contextlib.contextmanager
def _locked(out: str) -> Iterator[None]:
    """Hold ``OUT.lock`` (an exclusive lock, kept as a file) while a sweep writes ``out``."""
    import fcntl

    with open(out + ".lock", "a", encoding="utf-8") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise InputError(
                f"out: another sweep is writing {out} (it holds {out}.lock); wait for it to "
                f"finish or choose another --out"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _own_rows(path: str, rows: List[dict], gid: str, force: bool) -> List[dict]:
    """The rows of an existing output or journal when this grid wrote it; [] with ``force``;
    else an error, so that a file the sweep did not write is never destroyed."""
    if force:
        return []
    foreign = [r for r in rows if r.get("grid_id") != gid]
    if foreign or (not rows and os.path.getsize(path) > 0):
        raise InputError(
            f"out: {path} exists and is not this grid's output (grid_id {gid}); refusing to "
            f"overwrite it: choose another --out, or pass --force (force=True) to replace it"
        )
    return rows


def run_sweep(
    grid: Grid,
    out: str,
    workers: Optional[int] = None,
    client=None,
    split_macs: int = SPLIT_MACS,
    progress=None,
    backend: str = "c",
    simd: str = "auto",
    force: bool = False,
) -> List[dict]:
    """Run every cell not yet in ``out``; returns all rows (old and new). An existing ``out``
    (or journal) is resumed when this grid wrote it (its rows carry the grid's ``grid_id``);
    any other file is an error unless ``force``, which replaces it. ``OUT.lock`` keeps two
    sweeps from writing the same output at once. backend, simd: as for
    ``bitsim.simulate_mac``, for every cell; progress: as for ``simulate_mac``, in cells."""
    check_choice(backend, "backend", BACKENDS)
    check_choice(simd, "simd", SIMD_CHOICES)
    check_bool(force, "force")
    if workers is not None:
        check_int(workers, "workers", 1, 1024)
    split_macs = check_int(split_macs, "split_macs", 1)
    report = progress_callback(progress, unit="cells")
    if not out.endswith((".csv", ".parquet")):
        raise InputError(f"out: expected a file name ending in .csv or .parquet, found {out!r}")
    if out.endswith(".parquet"):
        _pyarrow(out)
    gid = grid_id(grid)
    journal = out + ".partial.jsonl"
    with _locked(out):
        rows = _own_rows(out, read_rows(out), gid, force) if os.path.exists(out) else []
        if os.path.exists(journal):
            with open(journal, encoding="utf-8") as f:
                logged = [json.loads(line) for line in f if line.strip()]
            rows += _own_rows(journal, logged, gid, force)
            if force:
                os.remove(journal)
        done = {r["cell"] for r in rows if r.get("status") == "ok"}
        rows = [r for r in rows if r.get("status") == "ok"]  # failed cells run again
        todo = [c for c in grid.cells() if cell_key(c) not in done]
        ex = _Dask(client) if client is not None else _Local(workers or default_threads())
        error: Optional[BaseException] = None
        try:
            with open(journal, "a", encoding="utf-8") as jf:
                cells = _execute(grid, gid, todo, ex, split_macs, backend, simd)
                for finished, row in enumerate(cells, 1):
                    rows.append(row)
                    jf.write(json.dumps(row, default=_jsonable) + "\n")
                    jf.flush()
                    if report is not None:
                        report(finished, len(todo))
        except BaseException as err:
            error = err
            raise
        finally:
            ex.close(error)
            if rows:
                _write_rows(out, rows)
            if os.path.exists(journal):
                os.remove(journal)
    return rows


def _jsonable(v):
    return v.item() if hasattr(v, "item") else str(v)


def _base_row(grid, gid, cell, seed):
    return {
        "cell": cell_key(cell),
        "grid_id": gid,
        "kind": grid.kind,
        **cell,
        "seed": seed,
        "bitsim_version": __version__,
    }


def _execute(grid: Grid, gid: str, cells, ex, split_macs, backend, simd):
    """Yield one row per cell as cells finish (errors recorded, not raised)."""
    seeds = [cell_seed(grid.seed, c) for c in cells]
    pending: Dict[object, Tuple[int, Optional[int]]] = {}  # future -> (cell, part or None)
    tail_futures: Dict[int, list] = {}  # cell -> futures of its ranges' tails
    parts: Dict[int, dict] = {}
    split_cells = {}

    def row(i: int, values: Optional[dict] = None, err: Optional[BaseException] = None) -> dict:
        """Cell i's row: its values (status ok), or the error that stopped it."""
        done = ("ok", "") if err is None else ("error", _describe(err))
        return {
            **_base_row(grid, gid, cells[i], seeds[i]),
            **(values or {}),
            "status": done[0],
            "error": done[1],
        }

    for i, (cell, seed) in enumerate(zip(cells, seeds)):
        if grid.kind in ("accwidth", "gates"):
            task = task_accwidth if grid.kind == "accwidth" else task_gates
            pending[ex.submit(task, cell, seed, backend, simd)] = (i, None)
            continue
        n = cell.get("n", DEFAULT_N)
        ranges = split(n, min(-(-n // split_macs), MAX_PARTS)) if n > split_macs else [(0, n)]
        split_cells[i] = ranges
        parts[i] = {}
        if len(ranges) == 1:
            pending[ex.submit(task_flips, cell, seed, 0, n, 0, backend, simd)] = (i, 0)
        else:  # first the tails, then the ranges
            tail_futures[i] = [
                ex.submit(task_tail, cell, seed, a, b - a, backend, simd) for a, b in ranges
            ]
    for i, tails in tail_futures.items():
        try:
            befores = list(chain([t.result() for t in tails]))
        except Exception as err:  # noqa: BLE001 - recorded in the row
            yield row(i, err=err)
            continue
        for part, ((a, b), before) in enumerate(zip(split_cells[i], befores)):
            pending[ex.submit(task_flips, cells[i], seeds[i], a, b - a, before, backend, simd)] = (
                i,
                part,
            )
    failed = set()
    for fut in ex.as_completed(list(pending)):
        i, j = pending[fut]
        if i in failed:
            continue
        try:
            value = fut.result()
        except Exception as err:  # noqa: BLE001 - recorded in the row
            failed.add(i)
            yield row(i, err=err)
            continue
        if j is None:
            yield row(i, value)
            continue
        parts[i][j] = value
        if len(parts[i]) == len(split_cells[i]):
            ordered = [parts[i][k] for k in range(len(split_cells[i]))]
            try:
                flips = flips_row(cells[i], seeds[i], ordered)
            except Exception as err:  # noqa: BLE001
                yield row(i, err=err)
                continue
            yield row(i, flips)


def _describe(err) -> str:
    return "".join(traceback.format_exception_only(type(err), err)).strip()
