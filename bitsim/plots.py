"""Plots (optional extra ``bitsim[plot]``, matplotlib): the OPS roofline of a network's layers
(as HCM's Fig. 12) and bit flips per MAC against bit width. Files are PNG or SVG, chosen by
the output name's extension."""
from __future__ import annotations

from typing import Sequence

from bitsim.mac import SITES


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise ImportError("plots need matplotlib: pip install 'bitsim[plot]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _check_out(out: str) -> None:
    if not out.lower().endswith((".png", ".svg")):
        raise ValueError(f"out: expected a file name ending in .png or .svg, found {out!r}")


def roofline_plot(layers, accelerator, formats: Sequence[str], out: str, title: str = ""):
    """Every conv/linear layer (required operations/s at its OPS/bit) against each format's
    compute roof (peak) and memory roof (bandwidth x OPS/bit), log-log."""
    from bitsim.roofline import roofline

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
        ax.plot([lo, hi], [accelerator.mem_bw_bits_per_s * lo, accelerator.mem_bw_bits_per_s * hi],
                color=color, lw=1, ls="--")
        ax.scatter(xs, [p.required_ops_per_s for p in points], color=color, s=14, zorder=3,
                   label=f"{fmt}: layers (required)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("OPS/bit (operations per bit moved to or from memory)")
    ax.set_ylabel("operations/s")
    ax.set_title(title or "OPS roofline (dashed: memory roof)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


def flips_plot(results, out: str, title: str = ""):
    """Mean bit flips per MAC against operand width, one line per site, signed solid and
    unsigned dashed. ``results``: MacFlips of several widths and signedness."""
    _check_out(out)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for i, site in enumerate([*SITES, "total"]):
        for signed, style in ((True, "-"), (False, "--")):
            pts = sorted((r.config.x_bits, r.mean_flips[site]) for r in results
                         if r.config.acc_signed == signed)
            if pts:
                ax.plot(*zip(*pts), style, color=f"C{i}", marker="o", ms=3,
                        label=f"{site} ({'signed' if signed else 'unsigned'})")
    ax.set_xlabel("operand bit width")
    ax.set_ylabel("bit flips per MAC")
    ax.set_title(title or "bit flips per MAC")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
