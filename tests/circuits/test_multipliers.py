"""Multiplier and MAC generators: exhaustive correctness to 8x8 bits, random vectors to 32x32,
textbook structure counts."""

import itertools

import numpy as np
import pytest

from bitsim.backends.reference.gates import evaluate
from bitsim.circuits.multipliers import ARCHS, multiplier_circuit
from bitsim.sim.gates import compile_netlist


def product_of(circuit, x, w):
    """The circuit's output bus p for operand values x, w (numpy reference evaluation)."""
    prog = compile_netlist(circuit.netlist)
    zeros = np.zeros(len(x), dtype=np.uint64)
    V = evaluate(prog, x, w, zeros.astype(bool), zeros)
    bits = circuit.netlist.outputs["p"]
    out = np.zeros(len(x), dtype=object)
    for j, net in enumerate(bits):
        out += V[net].astype(object) * (1 << j)
    return out


def expected_product(x, w, width):
    return np.array([(int(a) * int(b)) % (1 << width) for a, b in zip(x, w)], dtype=object)


def operands(n, m, signed):
    lo_x, hi_x = (-(1 << (n - 1)), (1 << (n - 1)) - 1) if signed else (0, (1 << n) - 1)
    lo_w, hi_w = (-(1 << (m - 1)), (1 << (m - 1)) - 1) if signed else (0, (1 << m) - 1)
    pairs = np.array(list(itertools.product(range(lo_x, hi_x + 1), range(lo_w, hi_w + 1))))
    return pairs[:, 0], pairs[:, 1]


SIZES = [(n, n) for n in range(1, 9)] + [(3, 5), (8, 4), (2, 7), (5, 1)]


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("signed", [False, True])
def test_every_multiplier_is_exhaustively_correct_up_to_8_bits(arch, signed):
    for n, m in SIZES:
        c = multiplier_circuit(arch, n, m, signed)
        x, w = operands(n, m, signed)
        got = product_of(c, x, w)
        want = expected_product(x, w, n + m)
        bad = np.flatnonzero(got != want)
        assert not bad.size, (arch, signed, n, m, x[bad[0]], w[bad[0]], got[bad[0]])


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("n,m", [(12, 12), (16, 16), (24, 9), (32, 32)])
@pytest.mark.parametrize("signed", [False, True])
def test_wide_multipliers_on_random_vectors(arch, n, m, signed):
    rng = np.random.default_rng(n * 100 + m)
    lo_x, hi_x = (-(1 << (n - 1)), (1 << (n - 1))) if signed else (0, 1 << n)
    lo_w, hi_w = (-(1 << (m - 1)), (1 << (m - 1))) if signed else (0, 1 << m)
    x = np.concatenate([[lo_x, hi_x - 1, lo_x], rng.integers(lo_x, hi_x, 400)])
    w = np.concatenate([[lo_w, hi_w - 1, hi_w - 1], rng.integers(lo_w, hi_w, 400)])
    c = multiplier_circuit(arch, n, m, signed)
    assert (product_of(c, x, w) == expected_product(x, w, n + m)).all()


@pytest.mark.parametrize("n", range(3, 17))
def test_textbook_adder_counts(n):
    dadda = multiplier_circuit("dadda", n)
    assert dadda.tree_full_adders == n * n - 4 * n + 3
    assert dadda.tree_half_adders == n - 1
    assert dadda.final_adder_bits == 2 * n - 2
    for arch in ("dadda", "array"):  # any full/half-adder multiplier, ripple final adder
        assert multiplier_circuit(arch, n).full_adders == n * n - 2 * n, arch
    # PikeLPN's adder count i*j - max(i, j) is Dadda's full + half adders
    assert dadda.full_adders + dadda.half_adders == n * n - n
    fa, ha = n * n - 2 * n, n  # a full adder: 2 XOR, 2 AND, 1 OR; a half adder: XOR, AND
    assert dadda.counts()["gates"] == {"AND": n * n + 2 * fa + ha, "XOR": 2 * fa + ha, "OR": fa}
