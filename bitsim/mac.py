"""Register-level MAC bit-flip simulation: the public API.

The model (README.md, "The MAC model", has a worked bit-level example):

* Each MAC loads activation x (``x_bits``) and weight w (``w_bits``) into input registers; each
  operand is signed (two's complement) or unsigned on its own.
* The product register holds p = x * w in ``x_bits + w_bits`` bits, two's complement when either
  operand is signed.
* The accumulator register (``acc_bits``) takes acc + p, p sign- or zero-extended, modulo
  2**acc_bits. The first term of each dot product of ``length`` K terms loads p itself, straight
  over the previous dot product's result (no idle clear cycle); ``length=None`` is one endless
  dot product. All registers start at zero.
* The bit flips of a register are the Hamming distances between its consecutive values; the
  first MAC counts the flips from the reset state.
* The accumulator is signed when the product is. A partial sum (the exact, unbounded sum of the
  products since the dot product started) overflows when it lies outside the accumulator's
  range; the register then holds it modulo 2**acc_bits, as hardware does.
"""
from __future__ import annotations

import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Dict, Optional

import numpy as np

from bitsim.formats import IntFormat
from bitsim.operands import check_int, check_seed, make_stream

SITES = ("x", "w", "product", "acc")
BACKENDS = ("c", "numba", "reference")
SIMD_CHOICES = ("auto", "scalar", "avx2", "avx512")
DEFAULT_CHUNK = 512           # MACs per kernel block: operands and register words stay in L1/L2
SEGMENT_MACS = 1 << 24        # MACs per task when a run is split for threads or progress


@dataclass(frozen=True)
class MacConfig:
    """Widths and signedness of one MAC unit, and the dot-product length K (None: endless)."""

    x_bits: int = 8
    w_bits: int = 8
    acc_bits: int = 32
    x_signed: bool = True
    w_signed: bool = True
    length: Optional[int] = None

    def __post_init__(self):
        check_int(self.x_bits, "x_bits", 1, 32)
        check_int(self.w_bits, "w_bits", 1, 32)
        check_int(self.acc_bits, "acc_bits", 2, 64)
        for name in ("x_signed", "w_signed"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise TypeError(f"{name}: expected a bool, found "
                                f"{type(getattr(self, name)).__name__}")
        if self.length is not None:
            check_int(self.length, "length", 1)

    @property
    def x_format(self) -> IntFormat:
        return IntFormat(int(self.x_bits), bool(self.x_signed))

    @property
    def w_format(self) -> IntFormat:
        return IntFormat(int(self.w_bits), bool(self.w_signed))

    @property
    def product_bits(self) -> int:
        return self.x_bits + self.w_bits

    @property
    def acc_signed(self) -> bool:
        """The product, and so the accumulator, is signed when either operand is."""
        return bool(self.x_signed or self.w_signed)

    @property
    def acc_range(self):
        """(smallest, largest) value the accumulator register represents."""
        fmt = IntFormat(self.acc_bits, self.acc_signed)
        return fmt.lo, fmt.hi

    def site_bits(self, site: str) -> int:
        return {"x": self.x_bits, "w": self.w_bits, "product": self.product_bits,
                "acc": self.acc_bits}[site]


@dataclass
class MacFlips:
    """Bit flips of a simulated MAC stream.

    Attributes
    ----------
    config : MacConfig
    macs : int
        Number of MACs simulated.
    seed : int or None
        Seed of the samplers (None when both operands were arrays).
    flips_per_bit : dict of str to ndarray of uint64
        For each site ('x', 'w', 'product', 'acc'), total bit flips of each bit position of that
        register (index 0 = least significant bit), over all MACs.
    overflows : int
        Number of partial sums outside the accumulator's range.
    min_partial_sum, max_partial_sum : int or None
        Extremes of the exact partial sums (None when no MAC was simulated).
    """

    config: MacConfig
    macs: int
    seed: Optional[int]
    flips_per_bit: Dict[str, np.ndarray]
    overflows: int
    min_partial_sum: Optional[int]
    max_partial_sum: Optional[int]
    distributions: Dict[str, str] = field(default_factory=dict)

    def total(self, site: Optional[str] = None) -> int:
        """Total bit flips of one site, or of all four when ``site`` is None."""
        sites = SITES if site is None else (site,)
        return sum(int(self.flips_per_bit[s].sum()) for s in sites)

    def mean(self, site: Optional[str] = None) -> float:
        """Mean bit flips per MAC of one site, or of the whole MAC (0.0 for an empty run)."""
        return self.total(site) / self.macs if self.macs else 0.0

    @property
    def mean_flips(self) -> Dict[str, float]:
        """Mean bit flips per MAC of each site and in total ('total')."""
        out = {s: self.mean(s) for s in SITES}
        out["total"] = self.mean()
        return out

    def to_dict(self) -> dict:
        cfg = self.config
        return {
            "x_bits": cfg.x_bits, "w_bits": cfg.w_bits, "acc_bits": cfg.acc_bits,
            "x_signed": bool(cfg.x_signed), "w_signed": bool(cfg.w_signed),
            "length": cfg.length, "n": self.macs, "seed": self.seed,
            "distributions": dict(self.distributions),
            "flips": self.mean_flips,
            "flips_total": {s: self.total(s) for s in SITES},
            "flips_per_bit": {s: [int(v) for v in self.flips_per_bit[s]] for s in SITES},
            "overflows": self.overflows,
            "min_partial_sum": self.min_partial_sum,
            "max_partial_sum": self.max_partial_sum,
        }


@dataclass
class _Part:
    """Counts of one range of MACs; adjacent parts merge exactly."""

    flips: np.ndarray
    overflows: int
    min_sum: Optional[int]
    max_sum: Optional[int]
    sum_after: int

    def merge(self, other: "_Part") -> "_Part":
        def pick(f, a, b):
            return b if a is None else a if b is None else f(a, b)

        return _Part(self.flips + other.flips, self.overflows + other.overflows,
                     pick(min, self.min_sum, other.min_sum),
                     pick(max, self.max_sum, other.max_sum), other.sum_after)


class _CBackend:
    def __init__(self, simd: str, chunk: int):
        from bitsim import _mac

        if simd != "auto" and not _mac.simd_supported(simd):
            raise ValueError(f"simd: {simd!r} is not supported by this CPU or build")
        self._mac = _mac
        self.simd = -1 if simd == "auto" else _mac.SIMD_LEVELS[simd]
        self.chunk = chunk

    def run(self, cfg, xs, ws, start, count, sum_before):
        return _Part(*self._mac.run(cfg, xs, ws, start, count, sum_before, self.simd, self.chunk))

    def tail(self, cfg, xs, ws, start, count):
        return self._mac.tail(cfg, xs, ws, start, count, self.simd, self.chunk)


class _PythonBackend:
    """The numba and reference backends: same interface, range checks done up front."""

    def __init__(self, module, chunk: int):
        self.module = module
        self.chunk = chunk

    def run(self, cfg, xs, ws, start, count, sum_before):
        for s in (xs, ws):
            if s.array is not None:
                s.check_range(max(start - 1, 0), start + count)
        return _Part(*self.module.run(cfg, xs, ws, start, count, sum_before, self.chunk))

    def tail(self, cfg, xs, ws, start, count):
        from bitsim.reference import mac as reference

        return reference.tail(cfg, xs, ws, start, count, self.chunk)


def _backend(name: str, simd: str, chunk: int):
    if name == "c":
        return _CBackend(simd, chunk)
    if simd != "auto":
        raise ValueError(f"simd: only the 'c' backend takes an instruction set, found {simd!r} "
                         f"with backend {name!r}")
    if name == "numba":
        from bitsim.jit import mac as module
    else:
        from bitsim.reference import mac as module
    return _PythonBackend(module, chunk)


def stderr_progress(label: str = "") -> Callable[[int, int], None]:
    """A progress callback that rewrites one stderr line: MACs done, rate and ETA."""
    started = time.monotonic()

    def report(done: int, total: int) -> None:
        elapsed = time.monotonic() - started
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = (total - done) / rate if rate > 0 else float("inf")
        sys.stderr.write(f"\r{label}{done:,}/{total:,} MACs, {rate / 1e6:,.0f} M MAC/s, "
                         f"ETA {eta:,.0f} s ")
        if done == total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return report


def simulate_mac(x="uniform", w="uniform", *, x_bits: int = 8, w_bits: Optional[int] = None,
                 acc_bits: int = 32, signed: bool = True, x_signed: Optional[bool] = None,
                 w_signed: Optional[bool] = None, length: Optional[int] = None,
                 n: Optional[int] = None, seed: int = 0, backend: str = "c", threads: int = 1,
                 chunk_size: int = DEFAULT_CHUNK, simd: str = "auto",
                 progress=None) -> MacFlips:
    """Count the bit flips of every register of a MAC unit over a stream of operands.

    Parameters
    ----------
    x, w : array_like of int, str or Distribution
        Activations and weights in the order the processing element sees them: 1-D integer
        arrays of equal length, or a sampler: 'uniform' (every value of the format equally
        likely, the PANN setting), 'normal', 'half-normal', 'laplace' or a
        ``bitsim.distributions`` instance with a scale.
    x_bits, w_bits : int
        Operand widths, 1..32 (w_bits defaults to x_bits).
    acc_bits : int
        Accumulator width, 2..64.
    signed : bool
        Signedness of both operands; ``x_signed``/``w_signed`` override it per operand.
    length : int or None
        Dot-product length K >= 1; None for one endless dot product.
    n : int
        Number of MACs; required when both operands are sampled, else the arrays' length.
    seed : int
        Seed of the samplers, in [0, 2**64). The same seed gives the same operands and counts,
        whatever the backend, thread count or chunk size.
    backend : {'c', 'numba', 'reference'}
        The compiled kernel, the numba JIT kernel or the pure-numpy reference.
    threads : int
        Threads working on consecutive ranges of the stream (the C kernel releases the GIL);
        the merged counts equal the single-threaded ones exactly.
    chunk_size : int
        MACs per internal block; memory use is bounded by it, results do not depend on it.
    simd : {'auto', 'scalar', 'avx2', 'avx512'}
        Instruction set of the C kernel ('auto': the best this CPU has).
    progress : bool or callable, optional
        True prints progress to stderr; a callable is called as progress(done, total).

    Returns
    -------
    MacFlips
        Bit flips per site and bit position (flips), overflow count and extreme partial sums.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend: expected one of {', '.join(BACKENDS)}, found {backend!r}")
    if simd not in SIMD_CHOICES:
        raise ValueError(f"simd: expected one of {', '.join(SIMD_CHOICES)}, found {simd!r}")
    threads = check_int(threads, "threads", 1, 1024)
    chunk_size = check_int(chunk_size, "chunk_size", 1, 1 << 26)
    cfg, xs, ws, n, seed = prepare(x, w, x_bits=x_bits, w_bits=w_bits, acc_bits=acc_bits,
                                   signed=signed, x_signed=x_signed, w_signed=w_signed,
                                   length=length, n=n, seed=seed)
    impl = _backend(backend, simd, chunk_size)
    report = _progress_callback(progress)
    return result(cfg, xs, ws, n, seed, _run_split(impl, cfg, xs, ws, n, threads, report))


def prepare(x="uniform", w="uniform", *, x_bits=8, w_bits=None, acc_bits=32, signed=True,
            x_signed=None, w_signed=None, length=None, n=None, seed=0):
    """Checked (MacConfig, x stream, w stream, MAC count, seed) of simulate_mac's arguments."""
    x_signed = signed if x_signed is None else x_signed
    w_signed = signed if w_signed is None else w_signed
    cfg = MacConfig(x_bits, x_bits if w_bits is None else w_bits, acc_bits, x_signed, w_signed,
                    length)
    seed = check_seed(seed)
    xs = make_stream(x, "x", cfg.x_format, seed, 0)
    ws = make_stream(w, "w", cfg.w_format, seed, 1)
    return cfg, xs, ws, _count(xs, ws, n), seed


def result(cfg, xs, ws, n, seed, part: "_Part") -> MacFlips:
    """The MacFlips of a run whose merged counts are ``part``."""
    return MacFlips(
        config=cfg, macs=n,
        seed=None if xs.array is not None and ws.array is not None else seed,
        flips_per_bit={s: part.flips[i, :cfg.site_bits(s)].copy() for i, s in enumerate(SITES)},
        overflows=part.overflows, min_partial_sum=part.min_sum, max_partial_sum=part.max_sum,
        distributions={s.name: "array" if s.array is not None else s.dist.name
                       for s in (xs, ws)})


def split(n: int, pieces: int):
    """[start, stop) ranges of about equal size covering [0, n)."""
    bounds = [n * i // pieces for i in range(pieces + 1)]
    return [(a, b) for a, b in zip(bounds[:-1], bounds[1:]) if b > a] or [(0, 0)]


def chain(tails, first_before: int = 0):
    """Exact partial sums before consecutive ranges, from each range's (tail, restarted)."""
    befores, before = [], first_before
    for tail, restarted in tails:
        befores.append(before)
        before = tail if restarted else before + tail
    return befores


def merge(parts) -> "_Part":
    """Counts of consecutive ranges merged into the counts of their union."""
    total = parts[0]
    for p in parts[1:]:
        total = total.merge(p)
    return total


def _count(xs, ws, n) -> int:
    lengths = [s.length for s in (xs, ws) if s.length is not None]
    if len(lengths) == 2 and lengths[0] != lengths[1]:
        raise ValueError(f"x, w: expected arrays of equal length, found {lengths[0]} and "
                         f"{lengths[1]}")
    if n is None:
        if not lengths:
            raise ValueError("n: expected the number of MACs when both operands are sampled, "
                             "found None")
        return lengths[0]
    if isinstance(n, float) and n.is_integer():   # -n 1e9 on the command line
        n = int(n)
    n = check_int(n, "n", 0, (1 << 63) - 1)
    if lengths and n != lengths[0]:
        raise ValueError(f"n: expected {lengths[0]} (the operand arrays' length), found {n}")
    return n


def _progress_callback(progress) -> Optional[Callable[[int, int], None]]:
    if progress is None or progress is False:
        return None
    if progress is True:
        return stderr_progress()
    if callable(progress):
        return progress
    raise TypeError(f"progress: expected a bool or a callable, found {type(progress).__name__}")


def _run_split(impl, cfg, xs, ws, n, threads, report) -> _Part:
    """Run [0, n) as consecutive segments; threads run segments concurrently after a first
    pass finds the exact partial sum before each segment (bitsim_mac_tail)."""
    if threads == 1 and report is None:
        return impl.run(cfg, xs, ws, 0, n, 0)
    ranges = split(n, max(threads, -(-n // SEGMENT_MACS)))
    done, parts = 0, []
    if threads == 1:
        before = 0
        for a, b in ranges:
            parts.append(impl.run(cfg, xs, ws, a, b - a, before))
            before = parts[-1].sum_after
            done += b - a
            report(done, n)
        return merge(parts)
    with ThreadPoolExecutor(max_workers=threads) as pool:
        tails = list(pool.map(lambda r: impl.tail(cfg, xs, ws, r[0], r[1] - r[0]), ranges))
        futures = [pool.submit(impl.run, cfg, xs, ws, a, b - a, before)
                   for (a, b), before in zip(ranges, chain(tails))]
        for (a, b), fut in zip(ranges, futures):
            parts.append(fut.result())
            done += b - a
            if report is not None:
                report(done, n)
    return merge(parts)


def default_threads() -> int:
    """Cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1
