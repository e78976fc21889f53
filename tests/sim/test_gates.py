"""Gate-level circuits: exhaustive correctness, textbook structure counts, toggles equal to the
register-level simulator on register nets, C == numpy reference on every instruction set."""

import itertools

import numpy as np
import pytest

import bitsim
from bitsim.backends.reference.gates import evaluate
from bitsim.circuits.multipliers import ARCHS, mac_circuit, multiplier_circuit
from bitsim.circuits.netlist import Netlist, NetlistBuilder
from bitsim.sim.gates import compile_netlist, simulate_gates


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


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("signed", [False, True])
@pytest.mark.parametrize("length", [None, 1, 9])
def test_mac_register_nets_toggle_like_the_register_level_simulator(arch, signed, length):
    mac = mac_circuit(arch, 4, 3, acc_bits=12, signed=signed)
    kw = dict(length=length, n=3000, seed=11)
    g = simulate_gates(mac, **kw)
    r = bitsim.simulate_mac(x_bits=4, w_bits=3, acc_bits=12, signed=signed, **kw)
    assert g.bus("x").tolist() == r.flips_per_bit["x"].tolist()
    assert g.bus("w").tolist() == r.flips_per_bit["w"].tolist()
    assert g.bus("p").tolist() == r.flips_per_bit["product"].tolist()
    assert g.bus("acc_next").tolist() == r.flips_per_bit["acc"].tolist()


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("signed", [False, True])
def test_mac_accumulator_adder_computes_the_next_partial_sum(arch, signed):
    mac = mac_circuit(arch, 5, 5, acc_bits=20, signed=signed)
    prog = compile_netlist(mac.netlist, length=7)
    from bitsim.backends.reference.gates import sources
    from bitsim.sim.mac import prepare

    cfg, xs, ws, n, _ = prepare(x_bits=5, signed=signed, length=7, n=2000, seed=4)
    x, w, first, acc = sources(prog, xs, ws, n)
    V = evaluate(prog, x, w, first, acc)
    nxt = sum(
        V[net].astype(np.uint64) << np.uint64(j)
        for j, net in enumerate(mac.netlist.outputs["acc_next"])
    )
    assert np.array_equal(nxt[:-1], acc[1:] & np.uint64((1 << 20) - 1))


def pipelined():
    """A 3x3 unsigned multiplier whose product goes through two register stages."""
    c = multiplier_circuit("wallace", 3, 3)
    b = NetlistBuilder()
    b.netlist = c.netlist
    b.part = "pipeline"
    p = c.netlist.outputs["p"]
    b.output_bus("p2", [b.dff(b.dff(n)) for n in p])
    return c.netlist


@pytest.mark.parametrize("simd", bitsim.simd_levels())
@pytest.mark.parametrize("threads", [1, 3])
def test_c_kernel_equals_reference(simd, threads):
    cases = [
        (mac_circuit("dadda", 6, 5, 20, signed=True), dict(length=13)),
        (multiplier_circuit("booth", 7, 7, signed=False), {}),
        (pipelined(), {}),
    ]
    for circuit, kw in cases:
        for n in (0, 1, 63, 64, 65, 511, 512, 513, 20_000):
            c = simulate_gates(circuit, n=n, seed=n, simd=simd, threads=threads, **kw)
            r = simulate_gates(circuit, n=n, seed=n, backend="reference", **kw)
            assert np.array_equal(c.per_net, r.per_net), (simd, threads, n)


def test_arrays_and_samplers_match_the_mac_simulator_streams():
    rng = np.random.default_rng(3)
    x = rng.integers(-8, 8, 5000).astype(np.int8)
    w = rng.integers(-8, 8, 5000).astype(np.int16)
    g = simulate_gates(mac_circuit("dadda", 4, 4, 16, signed=True), x, w, length=9)
    r = bitsim.simulate_mac(x, w, x_bits=4, acc_bits=16, length=9)
    assert g.bus("acc_next").tolist() == r.flips_per_bit["acc"].tolist()
    h = simulate_gates(
        mac_circuit("dadda", 4, 4, 16, signed=True),
        bitsim.Normal(2.0),
        "laplace",
        n=4000,
        seed=5,
        length=9,
    )
    s = bitsim.simulate_mac(
        bitsim.Normal(2.0), "laplace", x_bits=4, acc_bits=16, length=9, n=4000, seed=5
    )
    assert h.bus("p").tolist() == s.flips_per_bit["product"].tolist()


def test_report_totals_and_parts():
    g = simulate_gates(mac_circuit("dadda", 4, 4, 16), n=2000, seed=1)
    t = g.totals()
    assert t["total"] == int(g.per_net.sum())
    parts = g.per_part()
    assert set(parts) >= {
        "partial_products",
        "reduction_tree",
        "final_adder",
        "accumulator_adder",
        "registers",
    }
    assert sum(v for k, v in parts.items() if k != "registers") == t["gates"]
    assert t["inputs"] == int(g.bus("x").sum() + g.bus("w").sum() + g.bus("first").sum())
    pv = g.per_vector()
    assert pv["total"] == pytest.approx(t["total"] / 2000)


def test_netlist_errors():
    nl = Netlist(nets=6, inputs={"x": [2], "w": [3]})
    from bitsim.circuits.netlist import Gate

    nl.gates = [Gate("AND", (2, 5), 4), Gate("OR", (4, 3), 5)]
    with pytest.raises(ValueError, match="combinational loop"):
        nl.ordered()
    nl.gates = [Gate("AND", (2, 3), 4), Gate("OR", (2, 3), 4)]
    with pytest.raises(ValueError, match="more than one driver"):
        nl.ordered()
    nl.gates = [Gate("AND", (2, 5), 4)]
    with pytest.raises(ValueError, match="never driven"):
        nl.ordered()
    nl.gates = [Gate("DFF", (5,), 4), Gate("XOR", (4, 2), 5)]  # register feedback
    with pytest.raises(ValueError, match="loop"):
        nl.ordered()
    with pytest.raises(ValueError, match="x_port: expected one of the input buses w, x, found 'a'"):
        simulate_gates(multiplier_circuit("dadda", 4), n=10, x_port="a")
    with pytest.raises(ValueError, match="arch: expected one of array"):
        multiplier_circuit("karatsuba", 4)
    with pytest.raises(ValueError, match="x_bits: expected an integer in \\[1, 32\\]"):
        multiplier_circuit("dadda", 0)
    with pytest.raises(ValueError, match="x: .* found 99 at index 1"):
        simulate_gates(multiplier_circuit("dadda", 4), [1, 99], [1, 2])


@pytest.mark.parametrize("simd", bitsim.simd_levels())
@pytest.mark.parametrize("dtype,signed", [(np.int8, True), (np.uint8, False), (np.int8, False)])
def test_byte_arrays_are_packed_directly_and_exactly(simd, dtype, signed):
    """int8/uint8 operand arrays skip the int64 detour: same toggles, same range errors."""
    circuit = multiplier_circuit("booth", 4, 3, signed)
    for n in (1, 100, 511, 512, 513, 3000):
        rng = np.random.default_rng(n)
        lo = -8 if signed else 0
        x = rng.integers(lo, lo + 16, n).astype(dtype)
        w = rng.integers(lo // 2, lo // 2 + 8, n).astype(dtype)
        fast = simulate_gates(circuit, x, w, simd=simd, threads=2)
        slow = simulate_gates(circuit, x.astype(np.int64), w.astype(np.int64), simd=simd)
        ref = simulate_gates(circuit, x, w, backend="reference")
        assert np.array_equal(fast.per_net, ref.per_net) and np.array_equal(
            slow.per_net, ref.per_net
        )
    x = np.zeros(600, dtype=dtype)
    x[555] = 127
    with pytest.raises(ValueError, match="x: .* found 127 at index 555"):
        simulate_gates(circuit, x, np.zeros(600, dtype=dtype), simd=simd)


def shift_register(depth):
    """x[0] through ``depth`` flip-flops, XORed with w[0] at the end."""
    b = NetlistBuilder()
    x, w = b.input_bus("x", 2), b.input_bus("w", 2)
    q = x[0]
    for _ in range(depth):
        q = b.dff(q)
    b.output_bus("y", [b.gate("XOR", q, w[0])])
    return b.netlist


@pytest.mark.parametrize("depth", [0, 1, 3, 700])
def test_warmup_follows_the_deepest_register_chain(depth):
    """Split runs replay exactly as many vectors as the deepest flip-flop chain remembers: a
    700-deep chain (deeper than any fixed warm-up) still splits exactly."""
    nl = shift_register(depth)
    prog = compile_netlist(nl)
    assert prog.register_depth == depth and prog.warmup == depth + 1
    rng = np.random.default_rng(depth)
    x, w = rng.integers(0, 4, 20_000), rng.integers(0, 4, 20_000)
    whole = simulate_gates(nl, x, w, threads=1).per_net
    assert np.array_equal(simulate_gates(nl, x, w, threads=3).per_net, whole)
    assert np.array_equal(
        simulate_gates(nl, x[:3000], w[:3000], backend="reference").per_net,
        simulate_gates(nl, x[:3000], w[:3000]).per_net,
    )


@pytest.mark.parametrize("backend", ["c", "numba", "reference"])
def test_every_backend_checks_gate_operands(backend):
    circuit = multiplier_circuit("dadda", 4, 4, True)
    with pytest.raises(
        ValueError, match=r"x: expected integers in \[-8, 7\] .* found 8 at index 2"
    ):
        simulate_gates(circuit, np.array([1, 2, 8, 0]), np.zeros(4, dtype=int), backend=backend)
