"""Glitch-aware timing simulation throughput, in CPU time, one thread: the C kernel (each
instruction set), the numba kernel and iverilog with gate delays (the testbench of
tests/verilog_timing.py: ``assign #(r, f)`` per gate, every change of every net counted) on
the same 8x8 multiplier and the same kind of vectors, in the same run.

    pytest bench/test_bench_timing.py --benchmark-enable -s

Delay models: unit (every gate 1) and random per-gate rise/fall delays of 1-4 steps, inertial.
Reported (``extra_info`` and one line per case): vectors/s of each and the ratios to
iverilog. Targets (issue 17): >= 10 M vectors/s for an 8x8 multiplier with unit delay on one
core, and >= 1000x iverilog with delays on the same netlist.
"""

import importlib.util
import resource
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

import bitsim
from bitsim.circuits.multipliers import multiplier_circuit
from bitsim.sim.timing import simulate_timing

_HELPER = Path(__file__).parent.parent / "tests" / "verilog_timing.py"
_SPEC = importlib.util.spec_from_file_location("verilog_timing", _HELPER)
assert _SPEC is not None and _SPEC.loader is not None
verilog_timing = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(verilog_timing)

N_C = 1 << 22
N_NUMBA = 1 << 20
N_IVERILOG = 5000


def cpu_rate(fn, n, rounds=3):
    """Vectors per CPU second of this process: the best of ``rounds`` calls."""
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return n / best


def iverilog_rate(netlist, delays, period, tmp_path):
    """Vectors per CPU second of vvp (children's user + system time) on N_IVERILOG vectors."""
    rng = np.random.default_rng(0)
    x, w = rng.integers(0, 256, N_IVERILOG), rng.integers(0, 256, N_IVERILOG)
    src = verilog_timing.verilog_testbench(netlist, delays, "inertial", "x", "w", x, w, period)
    (tmp_path / "tb.v").write_text(src)
    subprocess.run(["iverilog", "-o", str(tmp_path / "tb.vvp"), str(tmp_path / "tb.v")], check=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(["vvp", "-n", str(tmp_path / "tb.vvp")], check=True, capture_output=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return N_IVERILOG / cpu


@pytest.mark.parametrize("delay", ["unit", "rise-fall"])
@pytest.mark.parametrize("arch", ["array", "dadda"])
def test_timing_against_iverilog(benchmark, arch, delay, tmp_path):
    circuit = multiplier_circuit(arch, 8)
    gates = len(circuit.netlist.gates)
    if delay == "unit":
        model = "unit"
        delays = [1] * gates
    else:
        rng = np.random.default_rng(1)
        model = (rng.integers(1, 5, gates), rng.integers(1, 5, gates))
        delays = list(zip(*model))
    simulate_timing(circuit, n=1000, delay=model, backend="numba")  # compile
    benchmark.group = f"{arch} 8x8 unsigned, {delay} delay, inertial"
    result = benchmark.pedantic(
        simulate_timing, args=(circuit,), kwargs=dict(n=N_C, delay=model), rounds=1
    )
    rates = {
        f"c-{simd}": cpu_rate(
            lambda s=simd: simulate_timing(circuit, n=N_C, delay=model, simd=s), N_C
        )
        for simd in bitsim.simd_levels()
    }
    rates["numba"] = cpu_rate(
        lambda: simulate_timing(circuit, n=N_NUMBA, delay=model, backend="numba"), N_NUMBA, 1
    )
    info = {"gates": gates, "horizon": len(result.settle) - 1}
    info.update({f"{k}_vectors_per_s": v for k, v in rates.items()})
    if shutil.which("iverilog") is not None:
        ive = iverilog_rate(circuit.netlist, delays, len(result.settle) + 5, tmp_path)
        info["iverilog_vectors_per_s"] = ive
        info.update({f"{k}_over_iverilog": v / ive for k, v in rates.items()})
    benchmark.extra_info.update(info)
    print(f"\n{benchmark.group}: " + ", ".join(f"{k} {v:.4g}" for k, v in info.items()))
