"""Gate-level circuits: exhaustive correctness, textbook structure counts, toggles equal to the
register-level simulator on register nets, C == numpy reference on every instruction set."""

import itertools

import numpy as np
import pytest

import bitsim
from bitsim.backends.reference.gates import evaluate
from bitsim.circuits.multipliers import ARCHS, mac_circuit, multiplier_circuit
from bitsim.circuits.netlist import NetlistBuilder
from bitsim.sim.gates import compile_netlist, levelized, scheduled, simulate_gates

from util import pipelined_multiplier


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


@pytest.mark.parametrize(
    "x_bits,w_bits,acc_bits,length",
    [(2, 2, 4, None), (2, 2, 6, 1), (3, 2, 8, 5), (4, 4, 12, 9), (4, 4, 20, 64), (5, 3, 7, 3)]
    + [(3, 3, 64, 7)],
)
@pytest.mark.parametrize("signed", [False, True])
@pytest.mark.parametrize("arch", ["dadda", "booth"])
def test_register_level_adder_sites_toggle_like_the_gate_level_adder(
    arch, signed, x_bits, w_bits, acc_bits, length
):
    """addend and carry of the register-level model, per bit position, equal the nets of the
    gate-level MAC's ripple-carry accumulator adder (also with acc_bits below the product's
    width, where the register wraps), on every backend."""
    mac = mac_circuit(arch, x_bits, w_bits, acc_bits=acc_bits, signed=signed)
    kw = dict(length=length, n=2500, seed=5)
    g = simulate_gates(mac, **kw)
    for backend in ("c", "numba", "reference"):
        r = bitsim.simulate_mac(
            x_bits=x_bits, w_bits=w_bits, acc_bits=acc_bits, signed=signed, backend=backend, **kw
        )
        for site in ("addend", "carry"):
            gate = g.per_net[mac.nets[site]].tolist()
            assert gate == r.flips_per_bit[site].tolist(), (backend, site)


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


@pytest.mark.parametrize("simd", bitsim.simd_levels())
@pytest.mark.parametrize("threads", [1, 3])
def test_c_kernel_equals_reference(simd, threads):
    cases = [
        (mac_circuit("dadda", 6, 5, 20, signed=True), dict(length=13)),
        (multiplier_circuit("booth", 7, 7, signed=False), {}),
        (pipelined_multiplier(), {}),
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


def live_values(gates) -> int:
    """Most gate outputs alive at once in this order (made, and read by a later gate or not
    yet made use of): the C kernel's value slots for gate outputs."""
    last = {i: k for k, g in enumerate(gates) for i in g.inputs}
    alive, most = set(), 0
    for k, g in enumerate(gates):
        alive.add(g.out)
        most = max(most, len(alive))
        alive -= {n for n in alive if last.get(n, -1) <= k}
    return most


@pytest.mark.parametrize(
    "netlist",
    [
        lambda: multiplier_circuit("dadda", 8).netlist,
        lambda: multiplier_circuit("dadda", 16).netlist,
        lambda: mac_circuit("booth", 4, 4, 16).netlist,
        lambda: shift_register(3),
    ],
    ids=["dadda8", "dadda16", "mac", "registers"],
)
def test_scheduled_order_is_topological_in_runs_with_fewer_live_values(netlist):
    """Every gate once, each after the gates driving its inputs, each at its latest level
    (one below its earliest reader), one run per (level, type); fewer values live at once than
    in the levelized order."""
    nl = netlist()
    order = nl.ordered()
    gates = scheduled(order)
    assert sorted(map(id, gates)) == sorted(map(id, order))
    made = {g.out for g in gates}
    done = set()
    for g in gates:
        assert all(i in done or i not in made for i in g.inputs)
        done.add(g.out)
    # ALAP levels derived afresh: the gates by level, each level's types in one run each
    asap = {}
    for g in order:
        asap[g.out] = 1 + max((asap.get(i, 0) for i in g.inputs), default=0)
    level = {}
    for g in reversed(order):
        rs = [level[r.out] for r in order if g.out in r.inputs]
        level[g.out] = min(rs, default=max(asap.values()) + 1) - 1
    keys = [(level[g.out], g.type) for g in gates]
    assert keys == sorted(keys, key=lambda k: k[0])
    runs = [k for k, _ in itertools.groupby(keys)]
    assert len(runs) == len(set(runs))
    assert live_values(gates) <= live_values(levelized(order))
    if len(gates) > 300:  # the multipliers: far fewer
        assert live_values(gates) < 0.6 * live_values(levelized(order))
