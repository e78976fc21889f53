"""Stopping long calls: one process-wide interrupt flag, and ``Workers``, the one way every long
call (simulate_mac, accwidth.measure, simulate_gates, report, sweep cells) runs its kernels.

The kernels run in worker threads, the compiled ones with the GIL released for as long as a
segment takes; the calling thread only waits, in short timeouts, so that SIGINT raises
KeyboardInterrupt in it at once. When anything is raised there, ``Workers`` sets the flag (every
kernel checks it once per block: the C kernels through each extension's copy of the C core's
flag, the numba and numpy kernels through ``check`` once per chunk and return early with
``Interrupted``), drops the tasks not yet started, waits for the running ones, clears the flag
and re-raises: no thread outlives the call, and a KeyboardInterrupt arrives within about a
block of work of the signal.

Python can swallow a KeyboardInterrupt: when SIGINT arrives while the main thread runs a
finalizer or a gc/weakref callback, the exception is printed as "Exception ignored" and lost.
``sigint()`` (the CLI runs every command inside it) therefore notes each SIGINT before raising,
``result`` raises again while one is noted, and KeyboardInterrupts that Python could not raise are
not printed.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Callable, Deque, Iterable, Iterator, List, Optional, TypeVar

__all__ = [
    "Interrupted",
    "Workers",
    "check",
    "clear",
    "register",
    "request",
    "requested",
    "result_in_worker",
    "sigint",
    "signalled",
]

T = TypeVar("T")
R = TypeVar("R")

WAIT_S = 0.05  # the calling thread wakes up this often, so that signals are handled promptly

_flag = threading.Event()
_setters: List[Callable[[bool], None]] = []  # the compiled modules' flags (backends.dispatch)
_lock = threading.Lock()
_signalled = threading.Event()  # a SIGINT arrived (inside ``sigint()``)


class Interrupted(Exception):
    """A kernel stopped early because the interrupt flag was set; it has no result."""


def register(setter: Callable[[bool], None]) -> None:
    """Have ``setter(on)`` follow the flag (the compiled modules register their C flags)."""
    with _lock:
        if setter not in _setters:
            _setters.append(setter)
            setter(_flag.is_set())


def request() -> None:
    """Set the flag: every running kernel stops within a block."""
    with _lock:
        _flag.set()
        for setter in _setters:
            setter(True)


def clear() -> None:
    """Clear the flag: kernels run again."""
    with _lock:
        _flag.clear()
        for setter in _setters:
            setter(False)


def requested() -> bool:
    """True while the flag is set."""
    return _flag.is_set()


def check() -> None:
    """Raise ``Interrupted`` when the flag is set (the Python kernels call it once per chunk)."""
    if _flag.is_set():
        raise Interrupted()


def signalled() -> bool:
    """True once a SIGINT arrived inside ``sigint()``, even if Python swallowed its exception."""
    return _signalled.is_set()


def _on_sigint(signum, frame) -> None:
    _signalled.set()
    raise KeyboardInterrupt


def _unraisable(hook):
    def drop_interrupts(unraisable) -> None:
        if not isinstance(unraisable.exc_value, KeyboardInterrupt):
            hook(unraisable)

    return drop_interrupts


@contextlib.contextmanager
def sigint() -> Iterator[None]:
    """Within the block, SIGINT raises KeyboardInterrupt and is remembered (``signalled``), so
    an interrupt Python swallowed in a finalizer still stops the call at its next wait; such
    swallowed KeyboardInterrupts are not printed. Outside the main thread: no change."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _signalled.clear()
    old_handler = signal.signal(signal.SIGINT, _on_sigint)
    old_hook = sys.unraisablehook
    sys.unraisablehook = _unraisable(old_hook)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old_handler)
        sys.unraisablehook = old_hook
        _signalled.clear()


def result(future: "Future[R]", tick: Optional[Callable[[], None]] = None) -> R:
    """The future's result; the calling thread waits in short timeouts (signals get through,
    and a SIGINT whose KeyboardInterrupt was swallowed is raised again here), and calls
    ``tick()`` after each one."""
    while not wait([future], timeout=WAIT_S).done:
        if _signalled.is_set():
            raise KeyboardInterrupt
        if tick is not None:
            tick()
    return future.result()


def result_in_worker(future: "Future[R]") -> R:
    """The result of a future that another task of the same pool sets, for a worker thread:
    ``Interrupted`` as soon as the flag is set (the task that should set it may never run)."""
    while not wait([future], timeout=WAIT_S).done:
        if _flag.is_set():
            raise Interrupted()
    return future.result()


class Workers:
    """A pool of ``threads`` worker threads for one long call, used as a context manager.

    ``imap`` runs tasks lazily with a bounded number in flight, so memory does not depend on
    how many tasks there are. Leaving the ``with`` block by an exception (KeyboardInterrupt
    above all) stops every task of the pool as the module docstring says, then re-raises.
    """

    def __init__(self, threads: int):
        self.threads = threads
        self._pool = ThreadPoolExecutor(max_workers=threads)

    def __enter__(self) -> "Workers":
        return self

    def __exit__(self, kind, err, tb) -> None:
        if kind is None:
            self._pool.shutdown(wait=True)
            return
        # the first to see an exception stops the kernels (a nested pool finds the flag set)
        owner = not issubclass(kind, GeneratorExit) and not requested()
        if owner:
            request()
        try:
            self._pool.shutdown(wait=True, cancel_futures=True)
        finally:
            if owner:
                clear()

    def submit(self, fn: Callable[..., R], *args) -> "Future[R]":
        """Run fn(*args) on the pool."""
        return self._pool.submit(fn, *args)

    def imap(
        self, fn: Callable[[T], R], tasks: Iterable[T], window: Optional[int] = None
    ) -> Iterator[R]:
        """fn(t) for each task, in order; at most ``window`` (default 2 x threads) tasks are
        submitted ahead. The next task is taken from ``tasks`` only when the previous result
        has been consumed, so with window 1 a task may depend on the result before it."""
        window = window or 2 * self.threads
        pending: Deque[Future] = deque()
        it = iter(tasks)
        exhausted = False
        while True:
            while not exhausted and len(pending) < window:
                try:
                    task = next(it)
                except StopIteration:
                    exhausted = True
                    break
                pending.append(self._pool.submit(fn, task))
            if not pending:
                return
            yield result(pending.popleft())

    def map(self, fn: Callable[[T], R], tasks: Iterable[T]) -> List[R]:
        """[fn(t) for t in tasks] on the pool."""
        return list(self.imap(fn, tasks))
