"""Sequential netlists (bitsim.sim.sequential): Yosys MACs and flip-flop cells simulated by
bitsim equal Verilator net by net, cycle by cycle; the backends agree bit for bit."""

import json
from pathlib import Path

import numpy as np
import pytest
import verilator
from hypothesis import given
from hypothesis import strategies as st

import bitsim
from bitsim.backends.reference.seqgates import clear_values, trace
from bitsim.circuits.multipliers import mac_circuit
from bitsim.circuits.netlist import GATE_TYPES, Gate, Netlist
from bitsim.circuits.yosys import load_yosys_json
from bitsim.cli import main
from bitsim.sim.formats import IntFormat
from bitsim.sim.gates import simulate_gates
from bitsim.sim.operands import make_stream
from bitsim.sim.sequential import compile_sequential, operand_latency, simulate_netlist

from util import BACKEND_IDS, BACKENDS

DATA = Path(__file__).parent.parent / "data" / "netlists"

MACS = [("smac4", 4, True), ("umac4", 4, False), ("smac8", 8, True), ("umac8", 8, False)]
DESIGNS = [m[0] for m in MACS] + ["ffcells"]


BUILTIN_MAC = ("dadda", 4, True, 12)  # arch, bits, signed, accumulator bits


@pytest.fixture(scope="session")
def model(tmp_path_factory):
    """One Verilator build per session of every test netlist and of a built-in MAC (its
    accumulator state bus as real flip-flops)."""
    where = tmp_path_factory.mktemp("verilator")
    arch, bits, signed, acc_bits = BUILTIN_MAC
    mac = mac_circuit(arch, bits, bits, acc_bits, signed)
    verilator.write_yosys_json(mac.netlist, where / "builtin_mac.json", "builtin_mac")
    paths = [DATA / f"{d}.json" for d in DESIGNS] + [where / "builtin_mac.json"]
    return verilator.build(paths, where)


def stimulus(nl, n, rng, signed, clear_length=None):
    """Random values per cycle of every input port but the clock (clr: the dot-product
    structure when clear_length is given)."""
    out = {}
    for p, bus in nl.inputs.items():
        if set(bus) & nl.clocks:
            continue
        fmt = IntFormat(len(bus), signed and len(bus) > 1)
        out[p] = rng.integers(fmt.lo, fmt.hi + 1, n)
    if clear_length is not None:
        prog = compile_sequential(nl, [])
        prog.clear_period, prog.clear_phase = clear_length, operand_latency(nl, ["a"], "clr")
        out["clr"] = clear_values(prog, 0, n)
    return out


@pytest.mark.parametrize("design", DESIGNS)
def test_netlists_equal_verilator_net_by_net(model, design, tmp_path):
    n = 400
    nl = load_yosys_json(str(DATA / f"{design}.json"))
    signed = design.startswith("s")
    stim = stimulus(nl, n, np.random.default_rng(DESIGNS.index(design)), signed)
    got = model.run({design: stim}, n, tmp_path)[design]
    d = next(d for d in model.designs if d.name == design)
    net_of = {b: net for net, b in nl.source_bits.items()}
    cols = [net_of[b] for b in d.bits]
    keep = [k for k, b in enumerate(d.bits) if b not in d.clocks]
    names = list(stim)
    streams = [
        make_stream(
            stim[p], p, IntFormat(len(nl.inputs[p]), signed and len(nl.inputs[p]) > 1), 0, i
        )
        for i, p in enumerate(names)
    ]
    values = trace(compile_sequential(nl, names), streams, n)
    mismatch = values[:, cols][:, keep] != got[:, keep]
    assert not mismatch.any(), [nl.net_name(cols[keep[k]]) for k in np.nonzero(mismatch.any(0))[0]]
    # toggles: every backend equals the changes Verilator saw, net by net; total over every
    # net bit but the clock, the change from the reset state into cycle 0 counted
    seen = (got[1:, keep] != got[:-1, keep]).sum(axis=0)
    for backend, simd in BACKENDS:
        g = simulate_netlist(nl, stim, signed=signed, backend=backend, simd=simd)
        assert g.per_net[[cols[k] for k in keep]].tolist() == seen.tolist(), backend
        assert g.totals()["total"] == int(seen.sum())
        skip = simulate_netlist(nl, stim, signed=signed, first_cycle="skip", backend=backend)
        first = (got[1, keep] != got[0, keep]).sum()
        assert skip.totals()["total"] == int(seen.sum() - first)


@pytest.mark.parametrize("design,bits,signed", MACS)
def test_mac_clear_port_computes_dot_products(design, bits, signed):
    """--clear-port: with the design's operand latency, the accumulator holds each dot
    product of `length` operand pairs, the first starting at cycle 0."""
    nl = load_yosys_json(str(DATA / f"{design}.json"))
    assert operand_latency(nl, ["a", "b"], "clr") == 1
    K, n = 5, 61
    rng = np.random.default_rng(bits)
    fmt = IntFormat(bits, signed)
    a, b = (rng.integers(fmt.lo, fmt.hi + 1, n) for _ in range(2))
    prog = compile_sequential(nl, ["a", "b"])
    prog.clear_net, prog.clear_period, prog.clear_phase = nl.inputs["clr"][0], K, 1
    streams = [make_stream(v, p, fmt, 0, i) for i, (p, v) in enumerate((("a", a), ("b", b)))]
    values = trace(prog, streams, n)
    acc_bits = len(nl.outputs["acc"])
    acc = sum(values[:, net].astype(np.int64) << j for j, net in enumerate(nl.outputs["acc"]))
    for k in range((n - 2) // K):
        # operands of cycle t reach acc in cycle t + 2 (row t + 3): dot k in row (k + 1) K + 2
        dot = int(np.dot(a[k * K : (k + 1) * K], b[k * K : (k + 1) * K])) % (1 << acc_bits)
        assert acc[(k + 1) * K + 2] == dot


@pytest.mark.parametrize("backend,simd", BACKENDS, ids=BACKEND_IDS)
def test_backends_agree_on_long_runs(backend, simd):
    """Many stretches, several passes (the endless counter of ffcells never forgets), the
    dot-product clear, samplers: every backend equals the reference."""
    for design, signed, kw in [
        ("smac8", True, {"clear_port": "clr", "length": 9}),
        ("umac4", False, {}),
        ("ffcells", False, {}),
    ]:
        nl = load_yosys_json(str(DATA / f"{design}.json"))
        ports = {
            p: "uniform" for p in ("a", "b", "d", "en", "srst", "sset", "rst_n") if p in nl.inputs
        }
        args = dict(signed=signed, n=1500, seed=5, **kw)
        ref = simulate_netlist(nl, ports, backend="reference", **args)
        got = simulate_netlist(nl, ports, backend=backend, simd=simd, **args)
        assert np.array_equal(got.per_net, ref.per_net), design


def test_mac_registers_count_every_write(model, tmp_path):
    """The 'registers' figure of a built-in MAC over n MACs is its accumulator register's n
    writes: what Verilator's flip-flops show over n + 1 cycles (the last write lands in cycle
    n), and the register-level simulator's accumulator flips."""
    arch, bits, signed, acc_bits = BUILTIN_MAC
    n, K = 300, 7
    rng = np.random.default_rng(2)
    x, w = rng.integers(-8, 8, n), rng.integers(-8, 8, n)
    mac = mac_circuit(arch, bits, bits, acc_bits, signed)
    g = simulate_gates(mac, x, w, length=K)
    first = (np.arange(n + 1) % K == 0).astype(np.int64)
    pad = np.zeros(1, dtype=np.int64)
    stim = {"x": np.concatenate([x, pad]), "w": np.concatenate([w, pad]), "first": first}
    got = model.run({"builtin_mac": stim}, n + 1, tmp_path)["builtin_mac"]
    d = next(d for d in model.designs if d.name == "builtin_mac")
    cols = [d.bits.index(q) for q in mac.netlist.state["acc"]]
    writes = (got[1:, cols] != got[:-1, cols]).sum(axis=0)
    assert g.per_part()["registers"] == int(writes.sum())
    r = bitsim.simulate_mac(x, w, x_bits=bits, acc_bits=acc_bits, length=K)
    assert writes.tolist() == r.flips_per_bit["acc"].tolist()
    # the state nets themselves, over the n vectors, show the n - 1 writes before the last
    assert int(g.bus("acc").sum()) == int((got[1 : n + 1, cols] != got[:n, cols]).sum())


def test_feed_forward_netlist_equals_the_vector_parallel_simulator():
    """pipe4 (a registered product, no feedback): both simulators count the same toggles."""
    nl = load_yosys_json(str(DATA / "pipe4.json"))
    rng = np.random.default_rng(4)
    a, b = rng.integers(0, 16, 2500), rng.integers(0, 16, 2500)
    seq = simulate_netlist(nl, {"a": a, "b": b})
    vec = simulate_gates(nl, a, b, x_port="a", w_port="b")
    assert np.array_equal(seq.per_net, vec.per_net)
    assert seq.per_vector() == vec.per_vector()


def test_port_bits_sharing_a_net_count_once():
    """Two output bits wired to one net are one net: counted once in 'outputs' and 'total'."""
    nl = Netlist(nets=4, inputs={"a": [2]}, outputs={"y": [3, 3], "z": [2]})
    nl.gates = [Gate("NOT", (2,), 3)]
    g = simulate_netlist(nl, {"a": np.array([0, 1, 1, 0, 1])})
    assert g.per_net[2] == 3 and g.per_net[3] == 3  # NOT a is 1 in the reset state
    assert g.totals() == {"total": 6, "inputs": 3, "gates": 3, "outputs": 6}


def test_errors():
    nl = load_yosys_json(str(DATA / "smac4.json"))
    with pytest.raises(ValueError, match="feedback through flip-flops"):
        simulate_gates(nl, x_port="a", w_port="b", n=10)
    with pytest.raises(
        ValueError, match=r"port: expected one of the input ports a, b, clr, found 'clk'"
    ):
        simulate_netlist(nl, {"clk": "uniform"}, n=10)
    with pytest.raises(ValueError, match="ports: expected arrays of equal length"):
        simulate_netlist(nl, {"a": np.zeros(3, int), "b": np.zeros(4, int)})
    with pytest.raises(ValueError, match="n: expected the number of cycles"):
        simulate_netlist(nl, {"a": "uniform"})
    with pytest.raises(
        ValueError, match=r"a: expected integers in \[-8, 7\] .* found 9 at index 1"
    ):
        simulate_netlist(nl, {"a": np.array([0, 9])}, signed=True)
    with pytest.raises(ValueError, match="length: expected the dot-product length"):
        simulate_netlist(nl, {"a": "uniform"}, n=5, clear_port="clr")
    with pytest.raises(ValueError, match="first_cycle: expected one of reset, skip"):
        simulate_netlist(nl, {"a": "uniform"}, n=5, first_cycle="x")
    loop = Netlist(nets=5, inputs={"a": [2]})
    loop.gates = [Gate("AND", (2, 4), 3), Gate("NOT", (3,), 4)]
    with pytest.raises(ValueError, match="combinational loop through net"):
        simulate_netlist(loop, {"a": "uniform"}, n=5)
    floating = Netlist(nets=5, inputs={"a": [2]}, gates=[Gate("DFF", (4,), 3)])
    with pytest.raises(ValueError, match="net 4 is read but never driven"):
        simulate_netlist(floating, {"a": "uniform"}, n=5)
    twice = Netlist(nets=4, inputs={"a": [2]}, gates=[Gate("DFF", (3,), 2), Gate("NOT", (2,), 3)])
    with pytest.raises(ValueError, match="net 2 has more than one driver"):
        simulate_netlist(twice, {"a": "uniform"}, n=5)


def test_flip_flop_cells_count_as_one_dff_each():
    doc = json.loads((DATA / "ffcells.json").read_text())
    cells = doc["modules"]["ffcells"]["cells"].values()
    expected = {}
    for c in cells:
        kind = "DFF" if "DFF" in c["type"] else c["type"].strip("$_")
        expected[kind] = expected.get(kind, 0) + 1
    assert load_yosys_json(str(DATA / "ffcells.json")).count() == expected


@given(
    st.integers(1, 3),
    st.integers(1, 5),
    st.lists(st.tuples(st.sampled_from(GATE_TYPES[:-1]), st.integers(0, 10**6)), max_size=12),
    st.integers(1, 1400),
    st.integers(1, 9),
    st.booleans(),
    st.integers(0, 2**32),
)
def test_random_sequential_netlists_agree_across_backends(
    n_in, n_ff, gates, n, clear, count_first, seed
):
    """Random netlists with feedback through flip-flops, random lengths (around the stretch
    boundaries of every backend): C and numba equal the reference cycle by cycle model."""
    nl = Netlist(nets=2 + n_in + n_ff)
    ins = list(range(2, 2 + n_in))
    nl.inputs = {"a": ins[:-1], "c": ins[-1:]} if n_in > 1 else {"a": ins}
    qs = list(range(2 + n_in, 2 + n_in + n_ff))
    pool = list(range(2 + n_in + n_ff))
    for kind, r in gates:
        ins = tuple(pool[(r >> (8 * k)) % len(pool)] for k in range(3 if kind == "MUX" else 2))
        ins = ins[:1] if kind in ("NOT", "BUF") else ins
        nl.gates.append(Gate(kind, ins, nl.nets))
        pool.append(nl.nets)
        nl.nets += 1
    for k, q in enumerate(qs):
        nl.gates.append(Gate("DFF", (pool[(seed >> k) % len(pool)],), q))
    ports = {"a": "uniform"}
    kw = {"clear_port": "c", "length": clear, "clear_latency": seed % 3} if n_in > 1 else {}
    first = "reset" if count_first else "skip"
    args = dict(n=n, seed=seed, first_cycle=first, **kw)
    ref = simulate_netlist(nl, ports, backend="reference", **args)
    for backend, simd in BACKENDS[:-1]:
        got = simulate_netlist(nl, ports, backend=backend, simd=simd, **args)
        assert np.array_equal(got.per_net, ref.per_net), (backend, simd)


def test_unsupported_flip_flops(tmp_path):
    doc = json.loads((DATA / "smac4.json").read_text())
    cell = next(c for c in doc["modules"]["smac4"]["cells"].values() if c["type"] == "$_DFF_P_")
    for kind, message in [
        ("$_DFF_N_", "only positive-edge flip-flops"),
        ("$_DFFSR_PPP_", "unsupported cell"),
    ]:
        cell["type"] = kind
        (tmp_path / "bad.json").write_text(json.dumps(doc))
        with pytest.raises(ValueError, match=message):
            load_yosys_json(str(tmp_path / "bad.json"))


def test_cli_ports_from_npy(tmp_path, capsys):
    rng = np.random.default_rng(0)
    a, b = rng.integers(-8, 8, 300), rng.integers(-8, 8, 300)
    np.save(tmp_path / "a.npy", a)
    np.save(tmp_path / "b.npy", b)
    args = ["gates", "--netlist", str(DATA / "smac4.json"), "--signed", "--format", "json"]
    ports = ["--port", f"a={tmp_path / 'a.npy'}", "--port", f"b={tmp_path / 'b.npy'}"]
    assert main(args + ports + ["--clear-port", "clr", "--length", "6", "--per-net"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    nl = load_yosys_json(str(DATA / "smac4.json"))
    g = simulate_netlist(nl, {"a": a, "b": b}, signed=True, clear_port="clr", length=6)
    assert row["n"] == 300 and row["signed"] is True
    assert row["toggles_per_vector"]["total"] == pytest.approx(g.totals()["total"] / 300)
    assert row["toggles_per_vector"]["inputs"] == pytest.approx(g.totals()["inputs"] / 300)
    assert sum(row["per_net"].values()) == g.totals()["total"]
    assert row["per_net"]["acc[0]"] == int(g.per_net[nl.outputs["acc"][0]])
    assert "clk[0]" not in row["per_net"]
    with pytest.raises(SystemExit) as err:
        main(args + ["--port", "a=nope.npy", "-n", "5"])
    assert (
        err.value.code == 2 and "--port: expected a readable .npy file" in capsys.readouterr().err
    )
    # sampled operands on the ports named by --a-port/--b-port, as for combinational netlists
    assert main(args + ["--clear-port", "clr", "--length", "6", "-n", "1000"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["n"] == 1000 and row["toggles_per_vector"]["total"] > 0
