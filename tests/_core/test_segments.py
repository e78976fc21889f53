"""Stateful check of the segment protocol behind threads and sweeps: any sequence of ranges run
one after the other, each given the exact partial sum the previous one left (run's sum_after or
tail's chain), merges into the counts of one run over the whole stream."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from bitsim._core.segments import Counts, chain, merge, split, tail_range
from bitsim.backends.dispatch import select
from bitsim.backends.reference import mac as reference
from bitsim.sim import mac


class SegmentedRun(RuleBasedStateMachine):
    @initialize(
        bits=st.integers(1, 32),
        signed=st.booleans(),
        acc_bits=st.integers(2, 64),
        length=st.one_of(st.none(), st.integers(1, 30)),
        seed=st.integers(0, 2**63),
        n=st.integers(1, 400),
    )
    def setup(self, bits, signed, acc_bits, length, seed, n):
        self.cfg, self.xs, self.ws, self.n, _ = mac.prepare(
            x_bits=bits, signed=signed, acc_bits=acc_bits, length=length, n=n, seed=seed
        )
        self.done, self.before, self.parts = 0, 0, []

    @rule(size=st.integers(0, 120), block=st.integers(1, 50))
    def run_next_range(self, size, block):
        size = min(size, self.n - self.done)
        # the starting partial sum, two ways: carried from the last run, and from tail passes
        kernels = select("c", chunk=block)
        tails = (
            [kernels.mac_tail(self.cfg, self.xs, self.ws, a, b - a) for a, b in split(self.done, 3)]
            if self.done
            else []
        )
        assert list(chain(tails))[-1] == self.before
        part = kernels.mac_run(self.cfg, self.xs, self.ws, self.done, size, self.before)
        assert isinstance(part, Counts)
        self.parts.append(part)
        self.before = part.sum_after
        self.done += size

    @invariant()
    def merged_counts_equal_one_reference_run(self):
        if not getattr(self, "parts", None):
            return
        merged = merge(self.parts)
        flips, overflows, lo, hi, after = reference.run(
            self.cfg, self.xs, self.ws, 0, self.done, 0, 64
        )
        assert np.array_equal(merged.flips, flips)
        assert (merged.overflows, merged.min_sum, merged.max_sum) == (overflows, lo, hi)
        assert merged.sum_after == after


SegmentedRun.TestCase.settings = settings(max_examples=30, stateful_step_count=8, deadline=None)
TestSegmentedRun = SegmentedRun.TestCase


@settings(max_examples=60, deadline=None)
@given(
    length=st.one_of(st.none(), st.integers(1, 40)),
    seed=st.integers(0, 2**63),
    n=st.integers(1, 300),
    cut=st.tuples(st.integers(0, 300), st.integers(0, 300)),
    backend=st.sampled_from(["c", "reference"]),
)
def test_tail_of_a_range_is_the_tail_of_its_last_dot_product(length, seed, n, cut, backend):
    """The first pass of a threaded run asks only for the MACs from each range's last
    dot-product start (at most K of them), and gets the tail of the whole range."""
    cfg, xs, ws, n, _ = mac.prepare(x_bits=8, acc_bits=32, length=length, n=n, seed=seed)
    a, b = sorted(min(c, n) for c in cut)
    kernels = select(backend, chunk=16)
    first, count = tail_range(cfg.length, a, b)
    assert a <= first and first + count == b
    if length and b - a >= length:
        assert count <= length and first % length == 0
    assert kernels.mac_tail(cfg, xs, ws, first, count) == kernels.mac_tail(cfg, xs, ws, a, b - a)
