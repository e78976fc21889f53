"""Backend and instruction-set selection: the one module that imports the compiled extensions.

``select(backend, simd, chunk)`` returns an object with the same six kernels whichever backend
it is: ``mac_run``, ``mac_tail`` (register-level MAC, segment protocol), ``dot_widths``
(accumulator widths per dot product), ``gates_run`` (gate-level toggles), ``seq_run``
(gate-level toggles of sequential netlists, cycle by cycle) and ``timing_run`` (glitch-aware
toggles with gate delays, ``bitsim.backends.timing_plan``). Every backend
checks operand arrays against their formats and raises the same error naming the operand and
the index of the first bad value. Results are identical across backends, bit for bit.
"""

from __future__ import annotations

import importlib
from typing import List

from bitsim._core import interrupt
from bitsim._core.checks import InputError, check_choice, check_int
from bitsim._core.segments import DEFAULT_CHUNK, Counts

__all__ = ["BACKENDS", "SIMD_CHOICES", "Backend", "compiler", "select", "simd_levels"]

BACKENDS = ("c", "numba", "reference")
SIMD_CHOICES = ("auto", "scalar", "avx2", "avx512")


def _compiled(name: str):
    """bitsim._ext._mac or bitsim._ext._gates, with a clear error when the build is missing;
    its copy of the C core's interrupt flag follows bitsim._core.interrupt."""
    try:
        module = importlib.import_module(f"bitsim._ext.{name}")
    except ImportError as err:  # pragma: no cover - a broken install
        raise ImportError(
            f"backend: the compiled kernels are not built ({err}); reinstall "
            f"bitsim, or use backend='numba' or 'reference'"
        ) from None
    interrupt.register(module.interrupt)
    return module


def compiler() -> str:
    """The compiler that built the C kernels, e.g. 'gcc 12.2.0' or 'clang 14.0.6'."""
    return str(_compiled("_mac").COMPILER)


def simd_levels() -> List[str]:
    """Instruction sets the compiled kernels can use on this CPU, best last."""
    mac = _compiled("_mac")
    return [name for name in mac.SIMD_LEVELS if mac.simd_supported(name)]


class Backend:
    """The kernels of one backend; see the module docstring."""

    name: str
    simd: str

    def mac_run(self, cfg, xs, ws, start: int, count: int, sum_before: int) -> Counts:
        raise NotImplementedError

    def mac_tail(self, cfg, xs, ws, start: int, count: int):
        raise NotImplementedError

    def dot_widths(self, cfg, xs, ws, first_dot: int, dots: int):
        raise NotImplementedError

    def mac_tail_vectorised(self, cfg, xs, ws) -> bool:
        """True when ``mac_tail`` sums these operands in vector lanes (C kernel, csrc/mac.h):
        several times as fast as ``mac_run``, so an endless dot product gains from threads."""
        return False

    def gates_run(self, prog, xs, ws, start: int, warmup: int, count: int, acc_before: int):
        raise NotImplementedError

    def seq_run(self, prog, streams, n: int, count_first: bool):
        raise NotImplementedError

    def timing_run(self, tp, xs, ws, start: int, count: int):
        raise NotImplementedError


class _Compiled(Backend):
    name = "c"

    def __init__(self, simd: str, chunk: int):
        self._mac, self._gates = _compiled("_mac"), _compiled("_gates")
        self._seq = _compiled("_seqgates")
        self._timing = _compiled("_timing")
        if simd != "auto" and not self._mac.simd_supported(simd):
            raise InputError(
                f"simd: {simd!r} is not supported by this CPU or build (supported: "
                f"{', '.join(simd_levels())})"
            )
        self.simd, self.chunk = simd, chunk
        self._level = self._mac.SIMD_AUTO if simd == "auto" else self._mac.SIMD_LEVELS[simd]

    def mac_run(self, cfg, xs, ws, start, count, sum_before):
        return Counts(
            *self._mac.run(cfg, xs, ws, start, count, sum_before, self._level, self.chunk)
        )

    def mac_tail(self, cfg, xs, ws, start, count):
        return self._mac.tail(cfg, xs, ws, start, count, self._level, self.chunk)

    def dot_widths(self, cfg, xs, ws, first_dot, dots):
        return self._mac.dot_widths(cfg, xs, ws, first_dot, dots, self._level, self.chunk)

    def mac_tail_vectorised(self, cfg, xs, ws):
        return self._mac.tail_vectorised(cfg, xs, ws, self._level)

    def gates_run(self, prog, xs, ws, start, warmup, count, acc_before):
        return self._gates.run(prog, xs, ws, start, warmup, count, acc_before, self._level)

    def seq_run(self, prog, streams, n, count_first):
        return self._seq.run(prog, streams, n, count_first, self._level, self.chunk)

    def timing_run(self, tp, xs, ws, start, count):
        return self._timing.run(tp, xs, ws, start, count, self._level)


class _Python(Backend):
    """numba or numpy kernels: operand arrays are range-checked here, before they run."""

    def __init__(self, name: str, chunk: int):
        self.name, self.simd, self.chunk = name, "auto", chunk
        self._package = "jit" if name == "numba" else "reference"

    def _kernel(self, module: str):
        """The kernel module, imported when first used (numba compiles on import)."""
        return importlib.import_module(f"bitsim.backends.{self._package}.{module}")

    @staticmethod
    def _check(streams, start: int, stop: int) -> None:
        for s in streams:
            if s.array is not None:
                s.check_range(max(start, 0), stop)

    def mac_run(self, cfg, xs, ws, start, count, sum_before):
        self._check((xs, ws), start - 1, start + count)
        return Counts(*self._kernel("mac").run(cfg, xs, ws, start, count, sum_before, self.chunk))

    def mac_tail(self, cfg, xs, ws, start, count):
        self._check((xs, ws), start, start + count)
        return self._kernel("mac").tail(cfg, xs, ws, start, count, self.chunk)

    def dot_widths(self, cfg, xs, ws, first_dot, dots):
        self._check((xs, ws), first_dot * cfg.length, (first_dot + dots) * cfg.length)
        return self._kernel("accwidth").dot_widths(cfg, xs, ws, first_dot, dots, self.chunk)

    def gates_run(self, prog, xs, ws, start, warmup, count, acc_before):
        self._check((xs, ws), start - warmup, start + count)
        return self._kernel("gates").run(prog, xs, ws, start, warmup, count, acc_before, self.chunk)

    def seq_run(self, prog, streams, n, count_first):
        self._check(streams, 0, n)
        return self._kernel("seqgates").run(prog, streams, n, count_first, self.chunk)

    def timing_run(self, tp, xs, ws, start, count):
        from bitsim.backends.timing_plan import operand_bits

        self._check((xs, ws), start - 1, start + count)
        return self._kernel("timing").simulate(tp, *operand_bits(tp, xs, ws, start, count))


def select(backend: str = "c", simd: str = "auto", chunk: int = DEFAULT_CHUNK) -> Backend:
    """The kernels of ``backend`` ('c', 'numba', 'reference'); ``simd`` ('auto', 'scalar',
    'avx2', 'avx512') picks the C kernels' instruction set; ``chunk``: operands per block."""
    check_choice(backend, "backend", BACKENDS)
    check_choice(simd, "simd", SIMD_CHOICES)
    chunk = check_int(chunk, "chunk_size", 1, 1 << 26)
    if backend == "c":
        return _Compiled(simd, chunk)
    if simd != "auto":
        raise InputError(
            f"simd: only the 'c' backend takes an instruction set, found {simd!r} "
            f"with backend {backend!r}"
        )
    return _Python(backend, chunk)
