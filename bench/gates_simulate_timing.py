"""CPU time of the public ``bitsim.simulate_gates`` on the 8x8 Dadda, the 8x8 Yosys (mult8.json)
and the 16x16 Dadda multipliers, with operand arrays (uniform uint8/uint16, made before the
clock starts) and with the seeded uniform samplers; one thread, best of REPS calls. For A/B
comparisons of whole versions of bitsim (Python and compiled code): run it under each version
in turns, with PYTHONPATH pointing at that version's tree (bench/test_bench_gates.py does so
against the version before issue 14's gate work, built in place from git history):

    python bench/gates_simulate_timing.py NETLISTS_DIR SIMD REPS VECTORS_8x8 VECTORS_16x16

Prints one JSON object: the bitsim package's path and, per "netlist, operands", gate
evaluations per second of CPU time (gates x vectors / seconds)."""

import json
import sys
import time

import numpy as np

import bitsim
from bitsim.circuits.multipliers import multiplier_circuit
from bitsim.circuits.yosys import load_yosys_json
from bitsim.sim.gates import simulate_gates


def main(netlists: str, simd: str, reps: int, n8: int, n16: int) -> dict:
    cases = {  # circuit, operand ports, operand bits, vectors
        "dadda 8x8": (multiplier_circuit("dadda", 8), ("x", "w"), 8, n8),
        "Yosys 8x8 (mult8)": (load_yosys_json(f"{netlists}/mult8.json"), ("a", "b"), 8, n8),
        "dadda 16x16": (multiplier_circuit("dadda", 16), ("x", "w"), 16, n16),
    }
    out = {"bitsim": bitsim.__file__}
    for name, (circuit, (xp, wp), bits, n) in cases.items():
        gates = len(getattr(circuit, "netlist", circuit).gates)
        rng = np.random.default_rng(0)
        dtype = np.uint8 if bits <= 8 else np.uint16
        x, w = (rng.integers(0, 2**bits, n).astype(dtype) for _ in range(2))
        for operands, args in (("arrays", (x, w)), ("sampled", ())):
            kwargs = dict(x_port=xp, w_port=wp, simd=simd)
            if not args:
                kwargs.update(n=n, seed=1)
            best = float("inf")
            for _ in range(reps):
                t = time.process_time()
                simulate_gates(circuit, *args, **kwargs)
                best = min(best, time.process_time() - t)
            out[f"{name}, {operands}"] = gates * n / best
    return out


if __name__ == "__main__":
    args = sys.argv[1:]
    print(json.dumps(main(args[0], args[1], int(args[2]), int(args[3]), int(args[4]))))
