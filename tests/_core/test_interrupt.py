"""The interrupt flag and interrupt.Workers: tasks run lazily and in order with a bounded number
in flight; an exception in the caller stops every kernel (C, numba, numpy) and joins every
worker before it propagates; the flag is clear afterwards."""

import threading
import time

import pytest

import bitsim
from bitsim._core import interrupt
from bitsim._core.interrupt import Interrupted, Workers
from bitsim.backends.dispatch import select
from bitsim.sim.mac import prepare


def test_imap_is_lazy_ordered_and_bounded():
    pulled = []

    def tasks():
        for i in range(10**12):  # far more tasks than memory could hold
            pulled.append(i)
            yield i

    with Workers(3) as workers:
        results = workers.imap(lambda i: i * i, tasks())
        assert [next(results) for _ in range(20)] == [i * i for i in range(20)]
    assert len(pulled) <= 20 + 2 * 3


def test_an_exception_in_the_caller_stops_and_joins_every_worker():
    started, stopped = threading.Event(), []

    def task(_):
        started.set()
        while True:  # a kernel that runs until the flag is set
            time.sleep(0.001)
            try:
                interrupt.check()
            except Interrupted:
                stopped.append(1)
                raise

    before = threading.active_count()
    with pytest.raises(KeyboardInterrupt):
        with Workers(2) as workers:
            futures = [workers.submit(task, i) for i in range(5)]  # 2 run, 3 wait
            assert started.wait(10)
            raise KeyboardInterrupt
    assert len(stopped) == 2 and not interrupt.requested()
    assert sum(f.cancelled() for f in futures) == 3
    assert threading.active_count() == before


@pytest.mark.parametrize("backend", ["c", "numba", "reference"])
def test_every_kernel_stops_when_the_flag_is_set(backend):
    cfg, xs, ws, _, _ = prepare(x_bits=8, acc_bits=32, length=100, n=10**6)
    kernels = select(backend)
    kernels.mac_run(cfg, xs, ws, 0, 10, 0)  # loaded (and compiled) first
    interrupt.request()
    try:
        for call in (
            lambda: kernels.mac_run(cfg, xs, ws, 0, 10**6, 0),
            lambda: kernels.mac_tail(cfg, xs, ws, 0, 10**6),
            lambda: kernels.dot_widths(cfg, xs, ws, 0, 10**4),
        ):
            with pytest.raises(Interrupted):
                call()
    finally:
        interrupt.clear()
    assert kernels.mac_run(cfg, xs, ws, 0, 10, 0).flips.sum() > 0  # runs again afterwards


def test_gate_kernels_stop_when_the_flag_is_set():
    from bitsim.circuits.multipliers import circuit

    c = circuit("array", 4, 4, True)
    bitsim.simulate_gates(c, n=10)
    interrupt.request()
    try:
        for backend in ("c", "numba"):
            with pytest.raises(Interrupted):
                bitsim.simulate_gates(c, n=10**6, backend=backend)
    finally:
        interrupt.clear()
    assert not interrupt.requested()


def test_a_sigint_python_swallows_in_a_finalizer_still_stops_the_call(capsys):
    import gc
    import signal
    import sys

    class Finalized:
        def __del__(self):  # SIGINT arrives while Python runs a finalizer: the error is lost
            signal.raise_signal(signal.SIGINT)

    seen = []
    old_hook = sys.unraisablehook
    sys.unraisablehook = seen.append
    try:
        with interrupt.sigint():
            Finalized()
            gc.collect()
            assert interrupt.signalled() and not seen  # not raised, not printed, noted
            with Workers(1) as workers, pytest.raises(KeyboardInterrupt):
                interrupt.result(workers.submit(time.sleep, 0.5))
    finally:
        sys.unraisablehook = old_hook
    assert not interrupt.signalled()  # a later call runs normally
    assert signal.getsignal(signal.SIGINT) is not interrupt._on_sigint
