"""Conventions shared by every command: argument types, the operand and run options, output.

One convention everywhere: ``--bits`` (and ``--x-bits``/``--w-bits``) is a comma-separated list
of widths, ``--signed [both|signed|unsigned]`` picks the arithmetic (bare ``--signed``: signed),
``--threads`` defaults to every core, ``--format`` is table, csv, json or markdown,
``--backend``/``--simd`` choose the kernels, and ``-n`` accepts 1e6.
"""

from __future__ import annotations

import argparse
import math
import sys
from typing import List, Optional, Tuple

from bitsim._core.checks import MAX_COUNT, InputError, int_range
from bitsim._core.files import write_text
from bitsim._core.progress import ProgressCallback, stderr_progress
from bitsim._core.render import FORMATS
from bitsim._core.segments import default_threads
from bitsim.backends.dispatch import BACKENDS, SIMD_CHOICES
from bitsim.models.layers import Conv2d, Linear, MatMul, Pair
from bitsim.sim.distributions import DISTRIBUTIONS, resolve_distribution
from bitsim.sim.formats import parse_format
from bitsim.sim.mac import MacFlips, simulate_mac

__all__ = [
    "POSITIVE",
    "add_distribution_args",
    "add_format",
    "add_layer_args",
    "add_operand_args",
    "add_progress_args",
    "add_run_args",
    "count",
    "dims",
    "format_list",
    "int_in",
    "int_list",
    "int_or",
    "layer_from_args",
    "number",
    "only_with",
    "operand_choices",
    "progress_of",
    "signedness",
    "simulate_each",
    "width_pairs",
    "write",
]

SIGNED = {"both": [True, False], "signed": [True], "unsigned": [False]}


def int_in(lo: int, hi: Optional[int] = MAX_COUNT):
    """An argument type: one integer in [lo, hi] (hi None: unbounded)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, found {text!r}") from None
        if value < lo or (hi is not None and value > hi):
            raise argparse.ArgumentTypeError(
                f"expected an integer {int_range(lo, hi)}, found {value}"
            )
        return value

    parse.__name__ = "integer"
    return parse


def int_list(lo: int = 1, hi: int = 32):
    """An argument type: comma-separated integers, each in [lo, hi]."""
    one = int_in(lo, hi)

    def parse(text: str) -> List[int]:
        parts = [v for v in text.split(",") if v.strip()]
        if not parts:
            raise argparse.ArgumentTypeError(f"expected comma-separated integers, found {text!r}")
        try:
            return [one(v) for v in parts]
        except argparse.ArgumentTypeError as err:
            if "expected an integer," in str(err):
                raise argparse.ArgumentTypeError(
                    f"expected comma-separated integers, found {text!r}"
                ) from None
            raise

    parse.__name__ = "list of integers"
    return parse


def count(lo: int = 1, hi: int = MAX_COUNT):
    """An argument type: a whole count in [lo, hi] that may be written 1e9."""

    def parse(text: str) -> int:
        expected = f"expected a whole number {int_range(lo, hi)} (e.g. 1e6), found {text!r}"
        try:
            value = int(text)
        except ValueError:
            try:
                real = float(text)
            except ValueError:
                raise argparse.ArgumentTypeError(expected) from None
            if not math.isfinite(real) or real != int(real):
                raise argparse.ArgumentTypeError(expected) from None
            value = int(real)
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(expected)
        return value

    parse.__name__ = "count"
    return parse


def number(lo: float = -math.inf, hi: float = math.inf, open_lo: bool = True):
    """An argument type: a finite real number in (lo, hi] (``open_lo`` False: [lo, hi])."""

    def parse(text: str) -> float:
        if math.isinf(hi):
            where = f" {'>' if open_lo else '>='} {lo:g}" if math.isfinite(lo) else ""
        else:
            where = f" in {'(' if open_lo else '['}{lo:g}, {hi:g}]"
        expected = f"expected a finite number{where}, found {text!r}"
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(expected) from None
        if not math.isfinite(value) or value > hi or value < lo or (open_lo and value == lo):
            raise argparse.ArgumentTypeError(expected)
        return value

    parse.__name__ = "number"
    return parse


POSITIVE = number(0.0)  # a finite number > 0 (areas, clocks, bandwidths, scales)


def int_or(word: str, lo: int, hi: int = MAX_COUNT):
    """An argument type: ``word`` itself, or an integer in [lo, hi]."""
    one = int_in(lo, hi)

    def parse(text: str):
        if text == word:
            return word
        try:
            return one(text)
        except argparse.ArgumentTypeError:
            raise argparse.ArgumentTypeError(
                f"expected an integer {int_range(lo, hi)} or {word!r}, found {text!r}"
            ) from None

    parse.__name__ = f"integer or {word!r}"
    return parse


def format_list(text: str) -> List[str]:
    """An argument type: comma-separated number formats (int8, fp32, bf16, e5m10, ...)."""
    names = [f.strip() for f in text.split(",") if f.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"expected comma-separated formats, found {text!r}")
    for name in names:
        try:
            parse_format(name)
        except InputError as err:
            raise argparse.ArgumentTypeError(str(err).split(": ", 1)[1]) from None
    return names


def dims(text: str):
    """'256x256x3x3' -> (256, 256, 3, 3), each a positive integer."""
    try:
        values = tuple(int(v) for v in text.lower().split("x"))
    except ValueError:
        values = ()
    if not values or min(values) < 1 or max(values) > MAX_COUNT:
        raise argparse.ArgumentTypeError(
            f"expected positive integers joined by 'x', found {text!r}"
        )
    return values


def only_with(args, condition: bool, needs: str, *flags: str) -> None:
    """An error when one of ``flags`` was given (its value is not None) though it has no
    effect unless ``condition`` (described by ``needs``, e.g. '--mac')."""
    if condition:
        return
    for flag in flags:
        value = getattr(args, flag.lstrip("-").replace("-", "_"))
        if value is not None and value is not False:
            shown = "" if value is True else f" {value}"
            raise InputError(f"{flag}: has no effect without {needs}, found {flag}{shown}")


def add_operand_args(p, default_bits: List[int], signed: str = "both") -> None:
    """--bits/--x-bits/--w-bits, --signed, the distributions and --scale."""
    p.add_argument(
        "--bits",
        type=int_list(),
        default=default_bits,
        help=f"operand widths of both operands, 1..32 (default {','.join(map(str, default_bits))})",
    )
    p.add_argument("--x-bits", type=int_list(), help="activation widths (overrides --bits)")
    p.add_argument("--w-bits", type=int_list(), help="weight widths (overrides --bits)")
    p.add_argument(
        "--signed",
        nargs="?",
        const="signed",
        default=signed,
        choices=list(SIGNED),
        help=f"arithmetic: two's complement, unsigned or both (default {signed}; "
        f"--signed alone: signed)",
    )
    add_distribution_args(p)


def add_distribution_args(p, scale: bool = True) -> None:
    """--dist, --x-dist, --w-dist and (with ``scale``) --scale."""
    p.add_argument(
        "--dist",
        default="uniform",
        choices=list(DISTRIBUTIONS),
        help="operand distribution of both operands (default uniform)",
    )
    p.add_argument(
        "--x-dist", choices=list(DISTRIBUTIONS), help="activation distribution (overrides --dist)"
    )
    p.add_argument(
        "--w-dist", choices=list(DISTRIBUTIONS), help="weight distribution (overrides --dist)"
    )
    if scale:
        p.add_argument(
            "--scale",
            type=POSITIVE,
            default=None,
            help="scale of non-uniform distributions in LSBs (default: a quarter of "
            "the format's magnitude range)",
        )


def add_run_args(
    p, n_default: Optional[int] = None, n_help: str = "MACs", backend: bool = True
) -> None:
    """-n, --seed, --threads and, for simulations, --backend and --simd."""
    if n_default is not None:
        p.add_argument(
            "-n",
            type=count(1),
            default=n_default,
            help=f"{n_help} per configuration (default {n_default:.0e})",
        )
    p.add_argument(
        "--seed",
        type=int_in(0, (1 << 64) - 1),
        default=0,
        help="sampler seed, 0..2^64-1 (default 0)",
    )
    p.add_argument(
        "--threads",
        type=int_in(1, 1024),
        default=default_threads(),
        help="threads (default: every core; results do not depend on it)",
    )
    if backend:
        p.add_argument(
            "--backend",
            choices=BACKENDS,
            default="c",
            help="kernels: compiled C, numba or the numpy reference (default c)",
        )
        p.add_argument(
            "--simd",
            choices=SIMD_CHOICES,
            default="auto",
            help="instruction set of the C kernels (default: the best available)",
        )


def add_format(p, default: str = "table") -> None:
    p.add_argument(
        "--format", choices=FORMATS, default=default, help=f"output format (default {default})"
    )


def width_pairs(args):
    """(x_bits, w_bits) pairs: --bits b gives (b, b); --x-bits/--w-bits lists are zipped, a
    single value standing for every entry of the other list."""
    xs = args.x_bits or args.bits
    ws = args.w_bits or args.bits
    if len(xs) != len(ws) and 1 not in (len(xs), len(ws)):
        raise InputError(
            f"--x-bits, --w-bits: expected lists of equal length or a single value, found "
            f"{len(xs)} and {len(ws)} values"
        )
    n = max(len(xs), len(ws))
    return [(xs[i if len(xs) > 1 else 0], ws[i if len(ws) > 1 else 0]) for i in range(n)]


def signedness(args) -> List[bool]:
    return SIGNED[args.signed]


def operand_choices(args):
    """(x distribution, w distribution) of add_operand_args' options."""
    return (
        resolve_distribution(args.x_dist or args.dist, "--x-dist", args.scale),
        resolve_distribution(args.w_dist or args.dist, "--w-dist", args.scale),
    )


def add_progress_args(p) -> None:
    """--progress / --no-progress (default: progress on stderr when it is a terminal)."""
    p.add_argument(
        "--progress",
        action="store_true",
        default=None,
        help="progress on stderr, also when it is not a terminal (plain lines; default: "
        "on a terminal only)",
    )
    p.add_argument(
        "--no-progress", dest="progress", action="store_false", help="no progress on stderr"
    )


def progress_of(args, label: str = "", unit: str = "MACs") -> Optional[ProgressCallback]:
    """The progress callback of add_progress_args' options: None unless --progress, or stderr
    is a terminal and --no-progress is not given."""
    show = sys.stderr.isatty() if args.progress is None else args.progress
    return stderr_progress(label, unit) if show else None


def simulate_each(args) -> List[Tuple[int, int, bool, MacFlips]]:
    """(x_bits, w_bits, signed, MacFlips) of every width pair and signedness of the options
    (add_operand_args, add_run_args, --acc-bits, --length, -n)."""
    x_dist, w_dist = operand_choices(args)
    out = []
    for x_bits, w_bits in width_pairs(args):
        for signed in signedness(args):
            label = f"x{x_bits} w{w_bits} {'signed' if signed else 'unsigned'}: "
            r = simulate_mac(
                x_dist,
                w_dist,
                x_bits=x_bits,
                w_bits=w_bits,
                acc_bits=args.acc_bits,
                signed=signed,
                length=args.length,
                n=args.n,
                seed=args.seed,
                threads=args.threads,
                backend=args.backend,
                simd=args.simd,
                progress=progress_of(args, label) if hasattr(args, "progress") else None,
            )
            out.append((x_bits, w_bits, signed, r))
    return out


def write(text: str, out: Optional[str] = None) -> None:
    """Text to a file (--out, written atomically) or standard output."""
    if out:
        write_text(out, text)
    else:
        sys.stdout.write(text)


def add_layer_args(p, network: bool = False, matmul: bool = False) -> None:
    """--conv CINxCOUTxKHxKW with --input, --stride, --padding, --groups, or --linear INxOUT
    (and, with ``network``, --network NAME; with ``matmul``, --matmul NxKxM)."""
    layer = p.add_mutually_exclusive_group(required=True)
    layer.add_argument("--conv", type=dims, help="convolution CINxCOUTxKHxKW, e.g. 256x256x3x3")
    layer.add_argument("--linear", type=dims, help="linear layer INxOUT, e.g. 512x1000")
    if matmul:
        layer.add_argument(
            "--matmul", type=dims, help="matrix product (N x K) (K x M) as NxKxM, e.g. 128x64x128"
        )
    if network:
        layer.add_argument(
            "--network",
            help="every convolution and linear layer of a built-in network (resnet18, vgg16, ...)",
        )
    p.add_argument("--input", type=dims, default=None, help="input HxW of a convolution")
    p.add_argument("--stride", type=int_in(1), default=None, help="convolution stride (default 1)")
    p.add_argument(
        "--padding",
        type=int_or("same", 0),
        default=None,
        help="padding in pixels, or 'same' (kernel // 2, the default)",
    )
    p.add_argument("--groups", type=int_in(1), default=None, help="convolution groups (default 1)")


def layer_from_args(args, **formats):
    """The Conv2d, Linear or MatMul layer of add_layer_args' options (``formats``: a_format,
    w_format); the convolution's options without --conv are an error."""
    only_with(args, args.conv is not None, "--conv", "--input", "--stride", "--padding", "--groups")
    if getattr(args, "matmul", None) is not None:
        if len(args.matmul) != 3:
            raise InputError(f"--matmul: expected NxKxM, found {'x'.join(map(str, args.matmul))}")
        return MatMul("matmul", *args.matmul, **formats)
    if args.linear is not None:
        if len(args.linear) != 2:
            raise InputError(f"--linear: expected INxOUT, found {'x'.join(map(str, args.linear))}")
        return Linear("linear", *args.linear, **formats)
    if len(args.conv) != 4:
        raise InputError(f"--conv: expected CINxCOUTxKHxKW, found {'x'.join(map(str, args.conv))}")
    if args.input is None or len(args.input) not in (1, 2):
        raise InputError(
            "--input: expected HxW for a convolution, found "
            f"{'nothing' if args.input is None else 'x'.join(map(str, args.input))}"
        )
    cin, cout, kh, kw = args.conv
    hw = args.input if len(args.input) == 2 else args.input * 2
    padding: Pair = (kh // 2, kw // 2) if args.padding in (None, "same") else args.padding
    return Conv2d(
        "conv",
        cin,
        cout,
        (kh, kw),
        tuple(hw),
        stride=args.stride or 1,
        padding=padding,
        groups=args.groups or 1,
        **formats,
    )
