"""Glitch-aware timing simulation throughput: the bit-sliced numba kernel against iverilog with
``assign #1`` on every gate (the testbench of tests/verilog_timing.py), same 8x8 multiplier,
unit delay, inertial, one core.

    pytest bench/test_bench_timing.py --benchmark-enable

Reported: vectors/s of both and their ratio. Target (issue 17): >= 10 M vectors/s and >= 1000x
iverilog.
"""

import importlib.util
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from bitsim.circuits.multipliers import multiplier_circuit
from bitsim.sim.timing import simulate_timing

_HELPER = Path(__file__).parent.parent / "tests" / "verilog_timing.py"
_SPEC = importlib.util.spec_from_file_location("verilog_timing", _HELPER)
assert _SPEC is not None and _SPEC.loader is not None
verilog_timing = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(verilog_timing)


@pytest.mark.parametrize("arch", ["array", "dadda"])
def test_timing_against_iverilog(benchmark, arch, tmp_path):
    circuit = multiplier_circuit(arch, 8)
    simulate_timing(circuit, n=1000)  # compile
    n = 1 << 20
    benchmark.group = f"{arch} 8x8 unsigned, unit delay"
    benchmark.extra_info["vectors"] = n
    benchmark.extra_info["gates"] = len(circuit.netlist.gates)
    result = benchmark.pedantic(simulate_timing, args=(circuit,), kwargs=dict(n=n), rounds=1)
    rate = n / benchmark.stats.stats.min
    if shutil.which("iverilog") is None:
        return
    rng = np.random.default_rng(0)
    m = 5000
    x, w = rng.integers(0, 256, m), rng.integers(0, 256, m)
    delays = [1] * len(circuit.netlist.gates)
    period = len(result.settle) + 5
    (tmp_path / "tb.v").write_text(
        verilog_timing.verilog_testbench(
            circuit.netlist, delays, "inertial", "x", "w", x, w, period
        )
    )
    subprocess.run(["iverilog", "-o", str(tmp_path / "tb.vvp"), str(tmp_path / "tb.v")], check=True)
    start = time.perf_counter()
    subprocess.run(["vvp", "-n", str(tmp_path / "tb.vvp")], check=True, capture_output=True)
    iverilog = m / (time.perf_counter() - start)
    benchmark.extra_info["iverilog_vectors_per_s"] = iverilog
    benchmark.extra_info["bitsim_vectors_per_s"] = rate
    benchmark.extra_info["speedup"] = rate / iverilog
