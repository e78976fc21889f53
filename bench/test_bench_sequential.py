"""Sequential netlist throughput: a Yosys-synthesized 8x8 signed MAC (registered operands,
24-bit accumulator with synchronous clear, 588 cells) driven by sampled operands and the
dot-product clear, every C instruction set against numba and the numpy reference.

    pytest bench/test_bench_sequential.py --benchmark-enable

Reported: cycles/s ("vectors") and gate evaluations/s (cells x cycles / time; the kernel runs
two passes over the cycles for this design, both included in the time).
"""

from pathlib import Path

import pytest

import bitsim
from bitsim.circuits.yosys import load_yosys_json
from bitsim.sim.sequential import simulate_netlist

NETLISTS = Path(__file__).parent.parent / "tests" / "data" / "netlists"
CASES = [("c", level) for level in bitsim.simd_levels()] + [
    ("numba", "auto"),
    ("reference", "auto"),
]
CYCLES = {"c": 10**7, "numba": 10**5, "reference": 2 * 10**3}


@pytest.mark.parametrize(
    "backend,simd", CASES, ids=[f"{b}-{s}" if b == "c" else b for b, s in CASES]
)
def test_mac_netlist_toggles(benchmark, backend, simd):
    netlist = load_yosys_json(str(NETLISTS / "smac8.json"))
    n = CYCLES[backend]
    if backend == "numba":  # compile outside the timing
        simulate_netlist(netlist, {"a": "uniform", "b": "uniform"}, n=10, backend="numba")
    benchmark.group = "smac8 netlist, K = 576, uniform operands"
    benchmark.extra_info.update(vectors=n, gates=len(netlist.gates))
    result = benchmark.pedantic(
        simulate_netlist,
        args=(netlist, {"a": "uniform", "b": "uniform"}),
        kwargs=dict(
            signed=True, n=n, seed=1, clear_port="clr", length=576, backend=backend, simd=simd
        ),
        rounds=1 if backend == "reference" else 3,
        iterations=1,
    )
    assert result.vectors == n
