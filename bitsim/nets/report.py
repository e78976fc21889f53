"""Whole-network reports: analytic costs, accumulator widths and simulated bit flips per layer.

Per layer: MACs, K, ACE, ACE_v2, BOPS, compute cost, weight and activation bits moved, OPS/bit
(bitsim.models.costs); the accumulator width that can never overflow (bitsim.sim.accwidth, data-
type bound) and the Gaussian estimate for overflow rate <= 1e-6; simulated bit flips per MAC and
PANN power (bit flips per inference, bitsim.models.power) for signed and for unsigned
arithmetic; the layer's share of the network's MACs, ACE_v2 and signed PANN power. Flips are
simulated once per distinct (widths, K, distributions, signedness, accumulator) and reused by
every layer with the same configuration.

Precision: every convolution and linear layer takes ``a_bits``/``w_bits`` unless
``first_last_bits`` or ``overrides`` (layer name -> widths; a JSON or YAML file from the CLI)
say otherwise; elementwise layers compute in ``elementwise_format`` with constants (BatchNorm
scales, pooling reciprocals) in ``constant_format`` (PokeBNN's int16 / int8 by default).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Callable, Dict, List, Optional

from bitsim._core.checks import InputError, InputTypeError, MissingExtra, check_count, check_int
from bitsim._core.files import load_yaml, read_text
from bitsim._core.render import Column, render
from bitsim.models.costs import layer_cost, total_cost
from bitsim.models.power import ACC_SITES, MULT_SITES
from bitsim.sim.accwidth import statistical_bits, width_for_range, worst_case_bits
from bitsim.sim.distributions import resolve_distribution
from bitsim.sim.formats import IntFormat, parse_format
from bitsim.sim.mac import MacConfig, MacFlips, simulate_mac

__all__ = [
    "COLUMNS",
    "EPS",
    "SIM_MIN_MACS",
    "Precision",
    "Report",
    "apply_precision",
    "load_overrides",
    "report",
]

EPS = 1e-6
SIM_MIN_MACS = 1 << 20


@dataclass
class Precision:
    """Number formats of a network's layers (see the module docstring)."""

    a_bits: int = 8
    w_bits: int = 8
    acc_bits: int = 32
    a_signed: bool = True
    w_signed: bool = True
    first_last_bits: Optional[int] = None
    overrides: Dict[str, dict] = field(default_factory=dict)
    elementwise_format: str = "int16"
    constant_format: str = "int8"
    x_dist: str = "uniform"
    w_dist: str = "uniform"

    def __post_init__(self):
        check_int(self.a_bits, "a_bits", 1, 32)
        check_int(self.w_bits, "w_bits", 1, 32)
        check_int(self.acc_bits, "acc_bits", 2, 64)
        for name in ("a_signed", "w_signed"):
            if not isinstance(getattr(self, name), bool):
                raise InputTypeError(
                    f"{name}: expected a bool, found {type(getattr(self, name)).__name__}"
                )
        if self.first_last_bits is not None:
            check_int(self.first_last_bits, "first_last_bits", 1, 32)
        for name, spec in self.overrides.items():
            if isinstance(spec, int) and not isinstance(spec, bool):
                spec = {"a_bits": spec, "w_bits": spec}
            if not isinstance(spec, dict) or not set(spec) <= {"a_bits", "w_bits"}:
                raise InputError(
                    f"overrides: expected for {name!r} a width or a mapping with "
                    f"a_bits and/or w_bits, found {spec!r}"
                )
            for key, value in spec.items():
                check_int(value, f"overrides[{name!r}].{key}", 1, 32)
            self.overrides[name] = spec
        parse_format(self.elementwise_format, "elementwise_format")
        parse_format(self.constant_format, "constant_format")
        resolve_distribution(self.x_dist, "x_dist")
        resolve_distribution(self.w_dist, "w_dist")

    def widths(self, layer, first: bool, last: bool):
        a, w = self.a_bits, self.w_bits
        if self.first_last_bits is not None and (first or last):
            a = w = self.first_last_bits
        spec = self.overrides.get(layer.name, {})
        return spec.get("a_bits", a), spec.get("w_bits", w)


def load_overrides(path: str) -> Dict[str, dict]:
    """Layer name -> widths from a JSON or YAML file (YAML loaded safely)."""
    text = read_text(path, "overrides")
    if path.endswith((".yaml", ".yml")):
        data = load_yaml(path, "overrides", text)[0]
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise InputError(f"overrides: {path} is not valid JSON: {err}") from None
    if not isinstance(data, dict):
        raise InputError(
            f"overrides: expected a mapping of layer names to widths in {path}, "
            f"found {type(data).__name__}"
        )
    return data


def apply_precision(layers, precision: Precision):
    """The layers with the precision's formats (names that match no layer are an error)."""
    names = {layer.name for layer in layers}
    unknown = sorted(set(precision.overrides) - names)
    if unknown:
        raise InputError(f"overrides: no layer named {', '.join(map(repr, unknown))}")
    compute = [i for i, layer in enumerate(layers) if layer.kind != "elementwise"]
    ew, const = parse_format(precision.elementwise_format), parse_format(precision.constant_format)
    out = []
    for i, layer in enumerate(layers):
        if layer.kind == "elementwise":
            out.append(layer.with_formats(ew, const, ew))
            continue
        a, w = precision.widths(layer, i == compute[0], i == compute[-1])
        fa = IntFormat(a, precision.a_signed)
        out.append(layer.with_formats(fa, IntFormat(w, precision.w_signed), fa))
    return out


@dataclass
class Report:
    network: str
    precision: Precision
    layers: List[dict]
    totals: dict
    simulated: bool
    bops: str = "hcm"  # the BOPS definition (bitsim.models.costs.BOPS_DEFINITIONS)

    def to_dict(self) -> dict:
        p = self.precision
        return {
            "network": self.network,
            "precision": {
                "a_bits": p.a_bits,
                "w_bits": p.w_bits,
                "acc_bits": p.acc_bits,
                "first_last_bits": p.first_last_bits,
                "overrides": p.overrides,
                "elementwise_format": p.elementwise_format,
                "constant_format": p.constant_format,
                "x_dist": p.x_dist,
                "w_dist": p.w_dist,
                "simulated": self.simulated,
            },
            "bops_definition": self.bops,
            "layers": self.layers,
            "totals": self.totals,
        }

    def to_dataframe(self):
        try:
            import pandas as pd
        except ImportError:
            raise MissingExtra("to_dataframe needs pandas: pip install 'bitsim[pandas]'") from None
        return pd.DataFrame(self.layers + [self.totals])

    def render(self, fmt: str = "table") -> str:
        """The report as text: 'table' and 'markdown' show the main columns, 'csv' every
        column of every layer and the totals, 'json' ``to_dict()``."""
        rows = self.layers + [self.totals]
        if fmt == "json":
            return render(rows, fmt, document=self.to_dict())
        if fmt == "csv":
            return render(rows, fmt, [Column(k) for k in self.layers[0]])
        p = self.precision
        title = (
            f"{self.network}: W{p.w_bits}A{p.a_bits}"
            + (f", first/last {p.first_last_bits}-bit" if p.first_last_bits else "")
            + f", {p.acc_bits}-bit accumulator, elementwise {p.elementwise_format}, "
            + (
                f"flips of {p.x_dist} x {p.w_dist} operands (s: signed, u: unsigned), "
                f"power in bit flips per inference"
                if self.simulated
                else "no simulation"
            )
        )
        columns = [
            Column("bops", f"BOPS ({self.bops})", c.fmt) if c.key == "bops" else c for c in COLUMNS
        ] + (ENERGY_COLUMNS if "energy_mj_signed" in self.totals else [])
        return render(rows, fmt, columns, self.network if fmt == "markdown" else title)


COLUMNS = [
    Column("name", "layer", left=True),
    Column("type", "type", left=True),
    Column("shape", "shape", left=True),
    Column("macs", "MACs", "{:,}"),
    Column("k", "K"),
    Column("ace_v2", "ACE_v2", "{:.3g}"),
    Column("bops", "BOPS", "{:.3g}"),
    Column("ops_per_bit", "OPS/bit", "{:.2f}"),
    Column("acc_bits_worst_signed", "acc bits"),
    Column("flips_per_mac_signed", "flips/MAC s", "{:.2f}"),
    Column("flips_per_mac_unsigned", "flips/MAC u", "{:.2f}"),
    Column("power_signed", "power s", "{:.3g}"),
    Column("power_unsigned", "power u", "{:.3g}"),
    Column("share_macs", "MACs %", "{:.1%}"),
    Column("share_ace_v2", "ACE_v2 %", "{:.1%}"),
    Column("share_power", "power %", "{:.1%}"),
]
ENERGY_COLUMNS = [
    Column("energy_pj_per_mac_signed", "pJ/MAC s", "{:.3g}"),
    Column("energy_pj_per_mac_unsigned", "pJ/MAC u", "{:.3g}"),
    Column("energy_mj_signed", "mJ s", "{:.3g}"),
    Column("energy_mj_unsigned", "mJ u", "{:.3g}"),
]


def report(
    net,
    precision: Optional[Precision] = None,
    simulate: bool = True,
    n: Optional[int] = None,
    seed: int = 0,
    threads: int = 1,
    name: Optional[str] = None,
    backend: str = "c",
    simd: str = "auto",
    bops: str = "hcm",
    energy: Optional[Callable[[MacFlips], float]] = None,
    progress=None,
) -> Report:
    """Per-layer and total costs of a network (a bitsim.nets.zoo.Network or a layer list).
    n, seed, threads, backend, simd, progress: of the bit-flip simulation (see
    ``simulate_mac``; progress is reported per simulated configuration); bops: the definition
    of BOPS, 'hcm' or 'qonnx' (``bitsim.models.costs``).
    energy: joules per MAC of a register-level result (``bitsim.models.energy``); with it,
    each layer gets ``energy_pj_per_mac_{signed,unsigned}`` and ``energy_mj_{signed,unsigned}``
    (millijoules per inference), and the totals the sums."""
    precision = precision or Precision()
    if n is not None:
        n = check_count(n, "n")
        if n == 0:
            raise InputError("n: expected a number of MACs >= 1 (or None: the default), found 0")
    layers = net.layers if hasattr(net, "layers") else list(net)
    name = name if name else getattr(net, "name", "network")  # not `or`: mypy infers None
    layers = apply_precision(layers, precision)
    flips_cache: Dict[MacConfig, MacFlips] = {}

    def flips(cfg):
        if cfg not in flips_cache:
            macs = n or max(SIM_MIN_MACS, 64 * cfg.length)
            flips_cache[cfg] = simulate_mac(
                precision.x_dist,
                precision.w_dist,
                **asdict(cfg),
                n=macs,
                seed=seed,
                threads=threads,
                backend=backend,
                simd=simd,
                progress=progress,
            )
        return flips_cache[cfg]

    rows, costs = [], []
    for layer in layers:
        cost = layer_cost(layer, bops)
        costs.append(cost)
        row = {
            "name": layer.name,
            "type": layer.kind if layer.kind != "elementwise" else layer.op,
            **{k: v for k, v in cost.to_dict().items() if k not in ("name", "kind")},
        }
        row["activation_bits"] = cost.input_bits + cost.output_bits
        if layer.kind != "elementwise":
            a, w = layer.a_format.bits, layer.w_format.bits
            row.update(a_bits=a, w_bits=w)
            arithmetic = (
                ("signed", precision.a_signed, precision.w_signed),
                ("unsigned", False, False),
            )
            for tag, xs, ws in arithmetic:
                cfg = MacConfig(a, w, precision.acc_bits, xs, ws, layer.k)
                row[f"acc_bits_worst_{tag}"] = worst_case_bits(layer.k, a, w, xs, ws)
                row[f"acc_bits_stat_{tag}"] = statistical_bits(
                    layer.k, a, w, xs, ws, precision.x_dist, precision.w_dist, EPS
                )
                if simulate:
                    sim = flips(cfg)
                    row[f"acc_bits_measured_{tag}"] = width_for_range(
                        min(sim.min_partial_sum, 0), max(sim.max_partial_sum, 0), cfg.acc_signed
                    )
                    row[f"flips_per_mac_{tag}"] = sim.mean()
                    row[f"mult_flips_per_mac_{tag}"] = sum(sim.mean(s) for s in MULT_SITES)
                    row[f"acc_flips_per_mac_{tag}"] = sum(sim.mean(s) for s in ACC_SITES)
                    row[f"power_{tag}"] = layer.macs * sim.mean()
                    if energy is not None:
                        joules = energy(sim)
                        row[f"energy_pj_per_mac_{tag}"] = joules * 1e12
                        row[f"energy_mj_{tag}"] = layer.macs * joules * 1e3
        rows.append(row)
    totals = {
        "name": "total",
        "type": "total",
        "shape": "",
        **{
            k: v
            for k, v in total_cost(costs).to_dict().items()
            if k not in ("name", "kind", "shape")
        },
    }
    totals["activation_bits"] = sum(r["activation_bits"] for r in rows)
    for key in ("power_signed", "power_unsigned", "energy_mj_signed", "energy_mj_unsigned"):
        if simulate and any(key in r for r in rows):
            totals[key] = sum(r.get(key, 0.0) for r in rows)
    for key in ("acc_bits_worst_signed", "acc_bits_worst_unsigned"):
        totals[key] = max((r[key] for r in rows if key in r), default=None)
    keys = list(dict.fromkeys(k for r in rows for k in r))
    rows = [{k: r.get(k) for k in keys} for r in rows]
    totals = {k: totals.get(k) for k in keys}
    for r in rows + [totals]:
        for share, key in (
            ("share_macs", "macs"),
            ("share_ace_v2", "ace_v2"),
            ("share_power", "power_signed"),
        ):
            whole = totals.get(key)
            r[share] = r[key] / whole if whole and r.get(key) is not None else None
    if simulate and totals["macs"]:
        totals["flips_per_mac_signed"] = totals["power_signed"] / totals["macs"]
        totals["flips_per_mac_unsigned"] = totals["power_unsigned"] / totals["macs"]
        for tag in ("signed", "unsigned"):
            if totals.get(f"energy_mj_{tag}") is not None:
                totals[f"energy_pj_per_mac_{tag}"] = (
                    totals[f"energy_mj_{tag}"] * 1e9 / totals["macs"]
                )
    return Report(name, precision, rows, totals, simulate, bops)
