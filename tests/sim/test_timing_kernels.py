"""The C timing kernel (csrc/timing.c) against the numba kernel and the numpy event-queue
oracle: every instruction set, exhaustive transitions of small multipliers, random delays
(hypothesis), block and chunk edges, threads, operand range errors, corrupt plans."""

import dataclasses

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import bitsim
from bitsim import InputError, multiplier_circuit
from bitsim.backends.dispatch import select
from bitsim.circuits.multipliers import ARCHS
from bitsim.sim import timing
from bitsim.sim.timing import simulate_timing

from util import random_delays, same_timing

LEVELS = bitsim.simd_levels()


def every_transition(bits: int):
    """Operand pairs (x, w) whose consecutive vectors take every transition between the
    2^(2 bits) input values exactly once (an Eulerian circuit of the complete digraph with
    loops), after the all-0 start."""
    values = 1 << (2 * bits)
    nxt = [0] * values  # Hierholzer on the complete digraph: edges v -> (v + k) % values
    stack, path = [0], []
    while stack:
        v = stack[-1]
        if nxt[v] < values:
            stack.append((v + nxt[v]) % values)
            nxt[v] += 1
        else:
            path.append(stack.pop())
    seq = np.asarray(path[::-1][1:], dtype=np.int64)  # from vector 0 (all 0) onwards
    return seq & ((1 << bits) - 1), seq >> bits


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("semantics", timing.SEMANTICS)
def test_every_transition_of_3_bit_multipliers_equals_the_oracle(arch, semantics):
    signed = arch in ("booth", "baugh-wooley")
    c = multiplier_circuit(arch, 3, signed=signed)
    x, w = every_transition(3)
    if signed:
        x, w = (x ^ 4) - 4, (w ^ 4) - 4
    assert len(x) == 4096
    for delay in ("unit", random_delays(c.netlist, 3)):
        kw = dict(delay=delay, semantics=semantics, signed=signed)
        ref = simulate_timing(c, x, w, backend="reference", **kw)
        assert ref.glitches.sum() > 0
        for simd in LEVELS:
            assert same_timing(simulate_timing(c, x, w, simd=simd, **kw), ref), simd


@pytest.mark.parametrize("arch", ["array", "booth", "dadda"])
def test_every_transition_of_4_bit_multipliers_equals_numba(arch):
    signed = arch == "booth"
    c = multiplier_circuit(arch, 4, signed=signed)
    x, w = every_transition(4)
    if signed:
        x, w = (x ^ 8) - 8, (w ^ 8) - 8
    for semantics in timing.SEMANTICS:
        kw = dict(delay=random_delays(c.netlist, 4), semantics=semantics, signed=signed)
        fast = simulate_timing(c, x, w, backend="numba", **kw)
        for simd in LEVELS:
            assert same_timing(simulate_timing(c, x, w, simd=simd, **kw), fast), simd


@given(
    arch=st.sampled_from(ARCHS),
    seed=st.integers(0, 2**32 - 1),
    hi=st.integers(1, 6),
    equal=st.booleans(),
    semantics=st.sampled_from(timing.SEMANTICS),
    n=st.sampled_from([1, 2, 63, 64, 65, 255, 256, 257, 511, 512, 513, 1100]),
)
def test_random_delays_all_backends_agree(arch, seed, hi, equal, semantics, n):
    signed = arch in ("booth", "baugh-wooley")
    c = multiplier_circuit(arch, 3, signed=signed)
    kw = dict(delay=random_delays(c.netlist, seed, hi, equal), semantics=semantics, n=n, seed=seed)
    ref = simulate_timing(c, backend="reference", **kw)
    assert same_timing(simulate_timing(c, backend="numba", **kw), ref)
    for simd in LEVELS:
        assert same_timing(simulate_timing(c, simd=simd, **kw), ref), simd
    assert ref.settle.sum() == n


@pytest.mark.parametrize("simd", LEVELS)
def test_chunks_threads_and_block_edges(simd, monkeypatch):
    c = multiplier_circuit("wallace", 5)
    delay = random_delays(c.netlist, 9)
    for n in (1, 511, 512, 513, 3000):
        whole = simulate_timing(c, n=n, seed=n, delay=delay, simd=simd)
        numba = simulate_timing(c, n=n, seed=n, delay=delay, backend="numba")
        assert same_timing(whole, numba), n
    monkeypatch.setattr(timing, "CHUNK", 700)  # chunks cut blocks anywhere
    assert same_timing(
        whole, simulate_timing(c, n=3000, seed=3000, delay=delay, simd=simd, threads=3)
    )


@pytest.mark.parametrize("simd", LEVELS)
def test_operand_arrays_and_range_errors(simd):
    c = multiplier_circuit("dadda", 4)
    rng = np.random.default_rng(1)
    x, w = rng.integers(0, 16, 1000).astype(np.uint8), rng.integers(0, 16, 1000)
    got = simulate_timing(c, x, w, simd=simd)
    assert same_timing(got, simulate_timing(c, x, w, backend="numba"))
    x[700] = 16
    for backend in ("c", "numba"):
        with pytest.raises(InputError, match="x.*index 700"):
            simulate_timing(c, x, w, backend=backend, simd=simd if backend == "c" else "auto")


def test_unit_delay_on_a_mapped_netlist_counts_only_cell_pins():
    """Gates inside cells (part 'internal', delay 0) in the C kernel too."""
    from bitsim.circuits.mapped import map_circuit
    from tests.util_energy import osu018

    nl = map_circuit(multiplier_circuit("array", 4), osu018()).netlist
    delay = random_delays(nl, 6)  # 0 inside cells
    for semantics in timing.SEMANTICS:
        ref = simulate_timing(nl, n=600, delay=delay, semantics=semantics, backend="reference")
        for simd in LEVELS:
            assert same_timing(
                simulate_timing(nl, n=600, delay=delay, semantics=semantics, simd=simd), ref
            )


def test_a_corrupt_plan_is_refused():
    from bitsim.backends.timing_plan import TimingProgram
    from bitsim.sim import mac
    from bitsim.sim.gates import compile_netlist

    c = multiplier_circuit("array", 3)
    prog = compile_netlist(c.netlist)
    ones = np.ones(len(prog.op), dtype=np.int64)
    tp = TimingProgram(prog, ones, ones, True)
    _, xs, ws, _, _ = mac.prepare("uniform", "uniform", x_bits=3, w_bits=3, acc_bits=64, n=10)
    entries = tp.plan.entries.copy()
    entries[5, 6] = tp.plan.slots  # a destination beyond the history
    tp.plan = dataclasses.replace(tp.plan, entries=entries)
    with pytest.raises(ValueError, match="invalid timing plan"):
        select("c").timing_run(tp, xs, ws, 0, 10)
