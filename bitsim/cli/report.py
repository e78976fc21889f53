"""``bitsim report``: per-layer costs, accumulator widths and bit flips of a network: a built-in
one, an ONNX file or a PyTorch model (``--torch module:factory``), measured on real inputs with
``--data``."""

from __future__ import annotations

import importlib
import os
from typing import Any, Dict, Tuple, Union

from bitsim._core.checks import InputError
from bitsim.cli.common import (
    add_distribution_args,
    add_format,
    add_progress_args,
    add_run_args,
    count,
    int_in,
    only_with,
    progress_of,
    write,
)
from bitsim.cli.energy_args import add_energy_args, energy_function, fit_note
from bitsim.models.costs import BOPS_DEFINITIONS
from bitsim.nets.report import MAX_OUTPUTS, Precision, load_overrides, report
from bitsim.nets.zoo import NETWORKS, network


def _shape(text: str) -> Tuple[int, ...]:
    try:
        shape = tuple(int(v) for v in text.lower().split("x"))
    except ValueError:
        shape = ()
    if not shape or min(shape) < 1:
        raise InputError(f"--input-shape: expected sizes such as 1x128, found {text!r}")
    return shape


def input_shapes(items) -> Union[None, Tuple[int, ...], Dict[str, Tuple[int, ...]]]:
    """--input-shape values: 'name=1x128' (repeatable) or one unnamed '1x3x224x224'."""
    if not items:
        return None
    named = [i for i in items if "=" in i]
    if named and len(named) != len(items) or (not named and len(items) > 1):
        raise InputError(
            "--input-shape: expected name=shape for every input, or one unnamed shape, "
            f"found {' '.join(items)}"
        )
    if not named:
        return _shape(items[0])
    return {k: _shape(v) for k, v in (i.split("=", 1) for i in items)}


def load_object(spec: str, flag: str) -> Any:
    """'module:attribute' -> the attribute, called when it is a function (a factory)."""
    module, _, attr = spec.partition(":")
    if not module or not attr:
        raise InputError(f"{flag}: expected module:factory, found {spec!r}")
    try:
        obj = getattr(importlib.import_module(module), attr)
    except ImportError as err:
        raise InputError(f"{flag}: cannot import {module!r}: {err}") from None
    except AttributeError:
        raise InputError(f"{flag}: module {module!r} has no {attr!r}") from None
    return obj() if callable(obj) else obj


def load_data(spec: str) -> Any:
    """--data: a .npy array, a .npz of named arrays (keyword inputs), a .pt tensor or dict, or
    module:function returning them."""
    import numpy as np

    if not os.path.exists(spec):
        if ":" in spec:
            return load_object(spec, "--data")
        raise InputError(f"--data: no such file {spec!r}")
    try:
        import torch
    except ImportError:
        raise InputError("--data: real inputs need PyTorch: pip install 'bitsim[torch]'") from None
    if spec.endswith(".npy"):
        return torch.from_numpy(np.load(spec))
    if spec.endswith(".npz"):
        with np.load(spec) as z:
            return {k: torch.from_numpy(z[k]) for k in z.files}
    if spec.endswith(".pt"):
        return torch.load(spec, weights_only=True)
    raise InputError(
        f"--data: expected a .npy, .npz or .pt file or module:function, found {spec!r}"
    )


def register(sub) -> None:
    p = sub.add_parser(
        "report",
        help="per-layer costs, accumulator widths and bit flips of a network",
        description="Per-layer table and totals of a network (built-in, ONNX file or PyTorch "
        "model): MACs, ACE, ACE_v2, BOPS, compute cost, memory traffic, OPS/bit, accumulator "
        "widths, simulated bit flips per MAC and PANN power (signed and unsigned); with --data, "
        "measured on the real operands of each layer.",
    )
    p.add_argument(
        "network",
        nargs="?",
        help=f"a built-in network ({', '.join(NETWORKS)}) or an .onnx file",
    )
    p.add_argument("--torch", help="a PyTorch model: module:factory (a function returning it)")
    p.add_argument(
        "--data",
        help="real inputs (--torch or .onnx): .npy, .npz (named inputs), .pt, or module:function",
    )
    p.add_argument(
        "--input-shape",
        action="append",
        default=[],
        help="input shape with batch, e.g. input_ids=1x128 (repeatable) or 1x3x224x224",
    )
    p.add_argument(
        "--acc-tile",
        type=int_in(1),
        default=None,
        help="also the accumulator bound of tiles of T terms (accumulation split as in AXE)",
    )
    p.add_argument(
        "--zero-gating",
        action="store_true",
        help="with --data: also the flips when MACs with a zero operand are gated",
    )
    p.add_argument(
        "--max-outputs",
        type=int_in(1),
        default=None,
        help=f"outputs per layer measured on real data, a seeded sample (default {MAX_OUTPUTS})",
    )
    p.add_argument("--a-bits", type=int_in(1, 32), default=8, help="activation width (default 8)")
    p.add_argument("--w-bits", type=int_in(1, 32), default=8, help="weight width (default 8)")
    p.add_argument(
        "--acc-bits", type=int_in(2, 64), default=32, help="accumulator width (default 32)"
    )
    p.add_argument(
        "--first-last-bits",
        type=int_in(1, 32),
        default=None,
        help="width of the first and last layer (e.g. 8)",
    )
    p.add_argument(
        "--unsigned-activations",
        action="store_true",
        help="the 'signed' columns use unsigned activations with signed weights",
    )
    p.add_argument("--overrides", help="JSON or YAML file: layer name -> width or {a_bits, w_bits}")
    p.add_argument(
        "--elementwise-format",
        default="int16",
        help="format of elementwise layers (default int16; e.g. bf16)",
    )
    p.add_argument(
        "--constant-format",
        default="int8",
        help="format of BatchNorm scales and pooling constants (default int8)",
    )
    add_distribution_args(p, scale=False)
    p.add_argument(
        "-n",
        type=count(1),
        default=None,
        help="MACs simulated per distinct configuration (default max(2^20, 64 K))",
    )
    p.add_argument("--no-sim", action="store_true", help="skip the bit-flip simulation")
    p.add_argument(
        "--bops",
        choices=BOPS_DEFINITIONS,
        default="hcm",
        help="BOPS definition: hcm (HCM eq. 1, default) or qonnx (MACs x b_a x b_w, as QONNX "
        "inference_cost and FINN)",
    )
    add_energy_args(p)
    add_run_args(p)
    add_format(p)
    add_progress_args(p)
    p.add_argument("--out", help="write to this file instead of standard output")
    p.set_defaults(run=run, parser=p)


def run(args) -> None:
    energy = energy_function(args, args.acc_bits)
    only_with(args, not args.no_sim, "the simulation (it is off with --no-sim)", "-n")
    only_with(args, args.data is not None, "--data", "--acc-tile", "--zero-gating", "--max-outputs")
    if args.input_shape and not (args.torch or (args.network or "").endswith(".onnx")):
        raise InputError(
            f"--input-shape: has no effect without --torch or an .onnx file, found "
            f"--input-shape {args.input_shape[0]}"
        )
    precision = Precision(
        a_bits=args.a_bits,
        w_bits=args.w_bits,
        acc_bits=args.acc_bits,
        a_signed=not args.unsigned_activations,
        first_last_bits=args.first_last_bits,
        overrides=load_overrides(args.overrides) if args.overrides else {},
        elementwise_format=args.elementwise_format,
        constant_format=args.constant_format,
        x_dist=args.x_dist or args.dist,
        w_dist=args.w_dist or args.dist,
    )
    shapes = input_shapes(args.input_shape)
    if (args.network is None) == (args.torch is None):
        raise InputError("network: expected a built-in network, an .onnx file or --torch")
    if args.data and not (args.torch or args.network.endswith(".onnx")):
        raise InputError("--data: real inputs are measured on PyTorch models and ONNX files")
    if args.torch:
        net = load_object(args.torch, "--torch")
        if isinstance(shapes, tuple):
            shapes = shapes[1:]  # from_torch takes one example's shape without the batch
    elif args.network.endswith(".onnx"):
        net = args.network
    else:
        net = network(args.network)
    r = report(
        net,
        precision,
        simulate=not args.no_sim,
        n=args.n,
        seed=args.seed,
        threads=args.threads,
        backend=args.backend,
        simd=args.simd,
        bops=args.bops,
        energy=energy,
        progress=progress_of(args, f"{args.network or args.torch}: "),
        inputs=load_data(args.data) if args.data else None,
        input_shape=shapes,
        acc_tile=args.acc_tile,
        max_outputs=MAX_OUTPUTS if args.max_outputs is None else args.max_outputs,
        zero_gating=args.zero_gating,
    )
    text = r.render(args.format)
    if energy and args.format in ("table", "markdown"):
        text += f"{fit_note(energy)}\n"
    write(text, args.out)
