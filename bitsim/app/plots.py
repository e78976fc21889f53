"""Plots (optional extra ``bitsim[plot]``, matplotlib): the OPS roofline of a network's layers
(as HCM's Fig. 12), bit flips per MAC against bit width, and for systolic arrays the flips per
MAC of each processing element (a heat map over the array) and the savings of methods per
layer. Files are PNG or SVG, chosen by the output name's extension."""

from __future__ import annotations

import os
from typing import Dict, List, Sequence, Tuple

from bitsim._core.checks import InputError, MissingExtra
from bitsim._core.files import atomic_path
from bitsim.sim.mac import SITES

__all__ = [
    "dataflow_heatmap",
    "flips_plot",
    "overflow_plot",
    "roofline_plot",
    "savings_plot",
    "sweep_plot",
]


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise MissingExtra("plots need matplotlib: pip install 'bitsim[plot]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _finish(plt, fig, ax, out, title, ncol=1):
    """Title, grid and legend, then the file."""
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, ncol=ncol)
    fig.tight_layout()
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format=os.path.splitext(out)[1][1:].lower())
    plt.close(fig)


def _check_out(out: str) -> None:
    if not out.lower().endswith((".png", ".svg")):
        raise InputError(f"out: expected a file name ending in .png or .svg, found {out!r}")


def roofline_plot(layers, accelerator, formats: Sequence[str], out: str, title: str = ""):
    """Every conv/linear layer (required operations/s at its OPS/bit) against each format's
    compute roof (peak) and memory roof (bandwidth x OPS/bit), log-log."""
    from bitsim.models.roofline import roofline

    _check_out(out)
    plt = _pyplot()
    layers = [layer for layer in layers if layer.kind != "elementwise"]
    fig, ax = plt.subplots(figsize=(8, 5.5))
    for i, fmt in enumerate(formats):
        color = f"C{i}"
        points = [roofline(layer, accelerator, fmt) for layer in layers]
        xs = [p.ops_per_bit for p in points]
        lo, hi = min(xs) / 2, max(xs) * 2
        peak = points[0].peak_ops_per_s
        ax.plot([lo, hi], [peak, peak], color=color, lw=1.5, label=f"{fmt}: compute roof")
        ax.plot(
            [lo, hi],
            [accelerator.mem_bw_bits_per_s * lo, accelerator.mem_bw_bits_per_s * hi],
            color=color,
            lw=1,
            ls="--",
        )
        ax.scatter(
            xs,
            [p.required_ops_per_s for p in points],
            color=color,
            s=14,
            zorder=3,
            label=f"{fmt}: layers (required)",
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("OPS/bit (operations per bit moved to or from memory)")
    ax.set_ylabel("operations/s")
    _finish(plt, fig, ax, out, title or "OPS roofline (dashed: memory roof)")


def flips_plot(results, out: str, title: str = ""):
    """Mean bit flips per MAC against operand width, one line per site, signed solid and
    unsigned dashed. ``results``: MacFlips of several widths and signedness."""
    _width_plot(
        [(r.config.x_bits, r.config.acc_signed, r.mean_flips) for r in results],
        out,
        title or "bit flips per MAC",
    )


def sweep_plot(results_path: str, out: str):
    """flips_plot of a flips sweep's results (CSV or Parquet); rows that differ in other
    parameters are averaged."""
    from bitsim.app.sweep import read_rows

    rows = [r for r in read_rows(results_path) if r.get("status", "ok") == "ok"]
    if not rows or not {"x_bits", "flips_total"} <= set(rows[0]):
        raise InputError(
            f"results: expected the rows of a flips sweep (x_bits, flips_*) in {results_path}"
        )
    sites = (*SITES, "total")
    groups: Dict[Tuple[int, bool], List[List[float]]] = {}
    for r in rows:
        signed = r.get("x_signed", r.get("signed", True))
        signed = signed if isinstance(signed, bool) else str(signed) in ("True", "true", "1", "")
        groups.setdefault((int(r["x_bits"]), signed), []).append(
            [float(r[f"flips_{s}"]) for s in sites]
        )
    points = [
        (bits, signed, dict(zip(sites, (sum(c) / len(c) for c in zip(*vals)))))
        for (bits, signed), vals in groups.items()
    ]
    _width_plot(points, out, f"bit flips per MAC ({os.path.basename(results_path)})")


def _width_plot(points, out: str, title: str):
    """points: (bits, signed, {site: flips per MAC})."""
    _check_out(out)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for i, site in enumerate([*SITES, "total"]):
        for signed, style in ((True, "-"), (False, "--")):
            pts = sorted((b, f[site]) for b, s, f in points if s == signed)
            if pts:
                ax.plot(
                    *zip(*pts),
                    style,
                    color=f"C{i}",
                    marker="o",
                    ms=3,
                    label=f"{site} ({'signed' if signed else 'unsigned'})",
                )
    ax.set_xlabel("operand bit width")
    ax.set_ylabel("bit flips per MAC")
    _finish(plt, fig, ax, out, title, ncol=2)


def overflow_plot(measurements, out: str, title: str = ""):
    """Observed overflow rate (dot products with a partial sum that does not fit) against
    accumulator width, one line per AccWidthMeasurement, log scale."""
    _check_out(out)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for i, m in enumerate(measurements):
        widths = range(1, int(max(m.hist.nonzero()[0], default=1)) + 2)
        rates = [m.overflow_rate(w) for w in widths]
        label = f"{m.x_bits}x{m.w_bits} bits {'signed' if m.x_signed or m.w_signed else 'unsigned'}"
        ax.step(
            list(widths),
            [max(r, 0.5 / max(m.dots, 1)) for r in rates],
            where="mid",
            color=f"C{i}",
            label=label,
        )
    ax.set_yscale("log")
    ax.set_xlabel("accumulator bits")
    ax.set_ylabel("overflow rate (dot products)")
    _finish(plt, fig, ax, out, title or "overflow rate against accumulator width")


def dataflow_heatmap(result, out: str, title: str = ""):
    """Bit flips per MAC of each PE of the array (every site; blank: PEs the layer left idle).
    ``result``: a bitsim.dataflow.simulate.DataflowFlips."""
    _check_out(out)
    plt = _pyplot()
    m = result.mapping
    fig, ax = plt.subplots(figsize=(6, 5))
    image = ax.imshow(result.pe_mean(), cmap="viridis", origin="upper")
    fig.colorbar(image, ax=ax, label="bit flips per MAC")
    ax.set_xlabel("PE column")
    ax.set_ylabel("PE row")
    sampled = f", {result.folds_simulated} of {m.groups * m.folds} folds" if result.sampled else ""
    ax.set_title(title or f"{result.layer}: {m.dataflow} on {m.array}{sampled}")
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


def savings_plot(rows, out: str, title: str = ""):
    """Saving of total bit flips per MAC of each method per layer, grouped bars. ``rows``:
    dicts with 'layer', 'method' and 'saving' (a fraction)."""
    _check_out(out)
    plt = _pyplot()
    layers = list(dict.fromkeys(r["layer"] for r in rows))
    methods = list(dict.fromkeys(r["method"] for r in rows))
    width = 0.8 / max(len(methods), 1)
    fig, ax = plt.subplots(figsize=(max(6, 0.3 * len(layers)), 5))
    for i, method in enumerate(methods):
        got = {r["layer"]: 100 * r["saving"] for r in rows if r["method"] == method}
        xs = [j + i * width for j, layer in enumerate(layers) if layer in got]
        ax.bar(xs, [got[layer] for layer in layers if layer in got], width, label=method)
    ax.set_xticks([j + (len(methods) - 1) * width / 2 for j in range(len(layers))])
    ax.set_xticklabels(layers, rotation=60, ha="right", fontsize=7)
    ax.axhline(0, color="black", lw=0.8)
    ax.set_ylabel("saving of bit flips per MAC (%)")
    _finish(plt, fig, ax, out, title or "bit-flip savings per layer")
