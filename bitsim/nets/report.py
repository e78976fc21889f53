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
say otherwise (a MatMul layer multiplies two activations: both take the activation format);
elementwise layers compute in ``elementwise_format`` with constants (BatchNorm
scales, pooling reciprocals) in ``constant_format`` (PokeBNN's int16 / int8 by default).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Callable, Dict, List, Optional

import numpy as np

from bitsim._core.checks import InputError, InputTypeError, MissingExtra, check_count, check_int
from bitsim._core.files import load_yaml, read_text
from bitsim._core.render import Column, render
from bitsim.models.costs import layer_cost, total_cost
from bitsim.models.power import ACC_SITES, MULT_SITES
from bitsim.sim.accwidth import (
    measure,
    statistical_bits,
    weight_aware_bits,
    width_for_range,
    worst_case_bits,
)
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
MAX_OUTPUTS = 2048  # outputs per layer whose real operand streams are simulated
_OVERRIDE_KEYS = ("a_bits", "w_bits", "a_signed", "w_signed")


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
            if not isinstance(spec, dict) or not set(spec) <= set(_OVERRIDE_KEYS):
                raise InputError(
                    f"overrides: expected for {name!r} a width or a mapping with "
                    f"{', '.join(_OVERRIDE_KEYS)}, found {spec!r}"
                )
            for key, value in spec.items():
                if key.endswith("_signed"):
                    if not isinstance(value, bool):
                        raise InputTypeError(
                            f"overrides[{name!r}].{key}: expected a bool, found {value!r}"
                        )
                else:
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

    def signedness(self, layer):
        """(activations signed, weights signed) of a layer."""
        spec = self.overrides.get(layer.name, {})
        return spec.get("a_signed", self.a_signed), spec.get("w_signed", self.w_signed)


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
        a_signed, w_signed = precision.signedness(layer)
        fa = IntFormat(a, a_signed)
        if layer.kind == "matmul":  # both operands are activations
            out.append(layer.with_formats(fa, fa, fa))
        else:
            out.append(layer.with_formats(fa, IntFormat(w, w_signed), fa))
    return out


@dataclass
class Report:
    network: str
    precision: Precision
    layers: List[dict]
    totals: dict
    simulated: bool
    bops: str = "hcm"  # the BOPS definition (bitsim.models.costs.BOPS_DEFINITIONS)
    examples: int = 0  # real inputs measured (0: none)
    acc_tile: Optional[int] = None
    max_outputs: int = MAX_OUTPUTS

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
                "examples": self.examples,
                "acc_tile": self.acc_tile,
                "max_outputs": self.max_outputs,
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
        if self.examples:
            title += (
                f"; measured on {self.examples} real example(s), at most "
                f"{self.max_outputs} outputs per layer"
                + (f", tiles of {self.acc_tile} terms" if self.acc_tile else "")
            )
            columns += [c for c in MEASURED_COLUMNS if any(r.get(c.key) is not None for r in rows)]
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


def _is_torch_module(obj) -> bool:
    return any(
        c.__module__.startswith("torch.nn") and c.__name__ == "Module" for c in type(obj).__mro__
    )


def _network(net, input_shape, inputs):
    """(layers, name) of a Network, a layer list, a torch module or an ONNX file."""
    if isinstance(net, str):
        if not net.endswith(".onnx"):
            raise InputError(
                f"network: expected a built-in network or an .onnx file, found {net!r}"
            )
        from bitsim.nets.onnx import from_onnx

        imported = from_onnx(net, input_shape)
        return imported.layers, imported.name, imported.declared
    if _is_torch_module(net):
        from bitsim.nets.pytorch import from_torch

        imported = from_torch(net, input_shape, inputs=inputs)
        return imported.layers, imported.name, imported.declared
    if hasattr(net, "layers"):
        return net.layers, getattr(net, "name", "network"), getattr(net, "declared", {})
    return list(net), "network", {}


def _measured(
    model, inputs, input_shape, layers, precision, acc_tile, max_outputs, seed, run, gating
) -> Dict[int, dict]:
    """Per layer index: what the real operand streams of ``inputs`` measure (see ``report``)."""
    from bitsim.nets.capture import capture, capture_onnx, pe_streams, zero_gated_flips

    captured = (
        capture_onnx(model, inputs, layers=layers, input_shapes=input_shape)
        if isinstance(model, str)
        else capture(model, inputs, layers=layers)
    )
    out = {}
    for c in captured:
        xs, ws, taken = pe_streams(c, max_outputs, seed)
        layer, k = c.layer, c.layer.k
        fa, fw = layer.a_format, layer.w_format
        fmt = dict(x_bits=fa.bits, w_bits=fw.bits, x_signed=fa.signed, w_signed=fw.signed)
        sim = simulate_mac(xs, ws, acc_bits=precision.acc_bits, length=k, **fmt, **run)
        widths = measure(k, xs, ws, **fmt, **run)
        data_bits = widths.smallest_width(0.0)
        rows = c.weight_rows()
        gated: Dict[str, Any] = {}
        if gating:
            per_site = zero_gated_flips(xs, ws, k, acc_bits=precision.acc_bits, **fmt)
            ungated = sim.mean()
            gated = {
                **{f"flips_{site}_gated": v for site, v in per_site.items()},
                "flips_per_mac_gated": sum(per_site.values()),
                "gating_saving": 1 - sum(per_site.values()) / ungated if ungated else 0.0,
            }
        row: Dict[str, Any] = {
            "outputs_measured": taken,
            "zero_share": float(np.mean((xs == 0) | (ws == 0))) if len(xs) else 0.0,
            "flips_per_mac_data": sim.mean(),
            **{f"flips_{site}_data": v for site, v in sim.mean_flips.items() if site != "total"},
            "power_data": layer.macs * sim.mean(),
            "quantization_data": c.source,
            "acc_bits_a2q": (
                weight_aware_bits(rows, fa.bits, fa.signed).layer_bits if rows is not None else None
            ),
            "acc_bits_tiled": (
                worst_case_bits(min(acc_tile, k), fa.bits, fw.bits, fa.signed, fw.signed)
                if acc_tile
                else None
            ),
            "acc_bits_data": data_bits,
            "min_partial_sum_data": widths.min_partial_sum,
            "max_partial_sum_data": widths.max_partial_sum,
            "overflow_rate_data": widths.overflow_rate(precision.acc_bits),
            "overflow_rates_data": {
                str(w): widths.overflow_rate(w) for w in range(max(1, data_bits - 4), data_bits + 1)
            },
            **gated,
        }
        out[c.index] = row
    return out


MEASURED_COLUMNS = [
    Column("zero_share", "zero %", "{:.1%}"),
    Column("flips_per_mac_data", "flips/MAC data", "{:.2f}"),
    Column("power_data", "power data", "{:.3g}"),
    Column("gating_saving", "gated -%", "{:.1%}"),
    Column("acc_bits_a2q", "acc A2Q"),
    Column("acc_bits_tiled", "acc tile"),
    Column("acc_bits_data", "acc data"),
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
    *,
    inputs=None,
    input_shape=None,
    acc_tile: Optional[int] = None,
    max_outputs: int = MAX_OUTPUTS,
    zero_gating: bool = False,
) -> Report:
    """Per-layer and total costs of a network.

    net: a bitsim.nets.zoo.Network, a layer list, a torch.nn.Module (with ``input_shape`` or
    ``inputs``, see ``bitsim.nets.pytorch``) or the path of an .onnx file (``input_shape``: a
    dict of input name -> shape for dynamic axes, see ``bitsim.nets.onnx``; widths read from the
    graph's quantization become overrides, the user's own overrides win; likewise for the
    quantize/dequantize and fake-quantize operations of a torch model).
    n, seed, threads, backend, simd, progress: of the bit-flip simulation (see
    ``simulate_mac``; progress is reported per simulated configuration). bops: the definition
    of BOPS, 'hcm' or 'qonnx' (``bitsim.models.costs``). energy: joules per MAC of a
    register-level result (``bitsim.models.energy``); with it, each layer gets
    ``energy_pj_per_mac_{signed,unsigned}`` and ``energy_mj_{signed,unsigned}`` (millijoules
    per inference), and the totals the sums.

    inputs: real examples for a torch module or an ONNX file (images, or a dict of token ids and
    masks; see ``bitsim.nets.capture.capture`` and ``capture_onnx``): each convolution,
    transposed convolution, linear layer, matrix product and einsum is then also measured on
    its real integer operands (``bitsim.nets.capture``: the graph's own integers where its
    quantization nodes give them, else per-tensor activations and per-channel weights
    calibrated on the inputs; ``quantization_data`` says which), at most ``max_outputs``
    outputs per layer (a seeded sample) in the processing-element order: share of MACs with a
    zero operand, flips per MAC (total and per register site) and PANN power, the accumulator
    width the data needed and the overflow rates of narrower widths, next to the data-type
    bound, the weight-aware (A2Q) bound and, with ``acc_tile`` = T, the data-type bound of
    tiles of T terms (accumulations split as in Brevitas' AXE). ``zero_gating``: also the
    flips when a MAC with a zero operand is gated (holds its registers and its adder's inputs;
    ``bitsim.nets.capture.zero_gated_flips``): per site of ``bitsim.sim.mac.SITES``, in total
    (``flips_per_mac_gated``) and the saving against ``flips_per_mac_data``.
    """
    precision = precision or Precision()
    if n is not None:
        n = check_count(n, "n")
        if n == 0:
            raise InputError("n: expected a number of MACs >= 1 (or None: the default), found 0")
    if acc_tile is not None:
        acc_tile = check_int(acc_tile, "acc_tile", 1)
    max_outputs = check_int(max_outputs, "max_outputs", 1)
    if inputs is not None and not (_is_torch_module(net) or isinstance(net, str)):
        raise InputError(
            "inputs: real inputs are measured on PyTorch models (torch.nn.Module) and ONNX files"
        )
    layers, net_name, declared = _network(net, input_shape, inputs)
    name = name if name else net_name  # not `or`: mypy infers None
    if declared:
        merged = {k: dict(v) for k, v in declared.items()}
        for key, spec in precision.overrides.items():
            merged.setdefault(key, {}).update(spec)
        precision = replace(precision, overrides=merged)
    layers = apply_precision(layers, precision)
    run = dict(threads=threads, backend=backend, simd=simd)
    measured = (
        _measured(
            net,
            inputs,
            input_shape,
            layers,
            precision,
            acc_tile,
            max_outputs,
            seed,
            run,
            zero_gating,
        )
        if inputs is not None
        else {}
    )
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
    for index, layer in enumerate(layers):
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
                ("signed", layer.a_format.signed, layer.w_format.signed),
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
            if index in measured:
                row.update(measured[index])
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
    if measured:
        totals["power_data"] = sum(r.get("power_data") or 0.0 for r in rows)
        data_macs = sum(r["macs"] for r in rows if r.get("power_data") is not None)
        totals["flips_per_mac_data"] = totals["power_data"] / data_macs if data_macs else None
    for key in (
        "acc_bits_worst_signed",
        "acc_bits_worst_unsigned",
        "acc_bits_a2q",
        "acc_bits_tiled",
        "acc_bits_data",
    ):
        totals[key] = max((r[key] for r in rows if r.get(key) is not None), default=None)
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
    n_inputs = _count(inputs) if inputs is not None else 0
    return Report(name, precision, rows, totals, simulate, bops, n_inputs, acc_tile, max_outputs)


def _count(inputs) -> int:
    first = next(iter(inputs.values())) if isinstance(inputs, dict) else inputs
    first = first[0] if isinstance(first, (tuple, list)) else first
    return int(len(first))
