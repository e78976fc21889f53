"""numba kernels == numpy reference == C (every instruction set), bit for bit: MAC tails,
per-dot-product accumulator widths and gate-level toggles (run splits, warm-up, DFFs)."""

import itertools
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import bitsim
from bitsim._core.segments import chain
from bitsim.backends.dispatch import select
from bitsim.backends.jit import accwidth as jit_accwidth
from bitsim.backends.jit import gates as jit_gates
from bitsim.backends.jit import mac as jit_mac
from bitsim.backends.reference import accwidth as ref_accwidth
from bitsim.backends.reference import gates as ref_gates
from bitsim.backends.reference import mac as ref_mac
from bitsim.circuits.multipliers import ARCHS, mac_circuit, multiplier_circuit
from bitsim.circuits.netlist import GATE_TYPES, Gate, NetlistBuilder
from bitsim.circuits.yosys import load_yosys_json
from bitsim.sim.accwidth import extreme_operands, worst_case_bits
from bitsim.sim.formats import IntFormat
from bitsim.sim.gates import compile_netlist
from bitsim.sim.mac import MacConfig, prepare
from bitsim.sim.operands import make_stream

from util import pipelined_multiplier

LEVELS = bitsim.simd_levels()
DTYPES = [np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64]
SIGNS = list(itertools.product([False, True], repeat=2))
DATA = Path(__file__).parent.parent / "data" / "netlists"


def fits(dtype, fmt: IntFormat) -> bool:
    info = np.iinfo(dtype)
    return info.min <= fmt.lo and fmt.hi <= info.max


@st.composite
def operand_specs(draw, fmt: IntFormat, n: int):
    """An operand array of n values (extremes likely, any dtype that holds the format) or the
    name of a sampler (uniform or alias table)."""
    kind = draw(st.sampled_from(["array", "array", "uniform", "table"]))
    if kind == "array":
        value = st.one_of(
            st.integers(fmt.lo, fmt.hi),
            st.sampled_from(sorted({fmt.lo, fmt.hi, 0, max(fmt.lo, -1)})),
        )
        dtype = draw(st.sampled_from([d for d in DTYPES if fits(d, fmt)]))
        return np.array(draw(st.lists(value, min_size=n, max_size=n)), dtype=dtype)
    if kind == "table" and fmt.bits <= 16:
        return draw(st.sampled_from(["normal", "laplace", "half-normal"]))
    return "uniform"


LENGTHS = st.one_of(st.none(), st.integers(1, 7))


@st.composite
def streams(draw, n, lengths=LENGTHS):
    """(MacConfig with a 64-bit accumulator, x stream, w stream) of widths 1..32."""
    x_bits, w_bits = draw(st.integers(1, 32)), draw(st.integers(1, 32))
    x_signed, w_signed = draw(st.booleans()), draw(st.booleans())
    cfg = MacConfig(x_bits, w_bits, 64, x_signed, w_signed, draw(lengths))
    seed = draw(st.integers(0, 2**64 - 1))
    xs = make_stream(draw(operand_specs(cfg.x_format, n)), "x", cfg.x_format, seed, 0)
    ws = make_stream(draw(operand_specs(cfg.w_format, n)), "w", cfg.w_format, seed, 1)
    return cfg, xs, ws


# --- MAC tails ---------------------------------------------------------------------------


@st.composite
def tail_cases(draw):
    n = draw(st.integers(0, 120))
    cfg, xs, ws = draw(streams(n))
    sampled = xs.array is None and ws.array is None
    base = draw(st.sampled_from([0, 0, 2**40 + 3])) if sampled else 0
    start = base + draw(st.integers(0, n))
    count = draw(st.integers(0, base + n - start))
    return cfg, xs, ws, start, count, draw(st.integers(1, 50))


@given(tail_cases())
def test_tail(case):
    cfg, xs, ws, start, count, chunk = case
    want = ref_mac.tail(cfg, xs, ws, start, count, chunk)
    assert jit_mac.tail(cfg, xs, ws, start, count, chunk) == want
    assert jit_mac.tail(cfg, xs, ws, start, count, 4096) == want
    for level in LEVELS:
        assert select("c", level, chunk).mac_tail(cfg, xs, ws, start, count) == want, level


@pytest.mark.parametrize("x_signed,w_signed", SIGNS)
@pytest.mark.parametrize("length", [None, 1, 5, 64])
def test_tail_of_extreme_products_exceeds_64_bits(x_signed, w_signed, length):
    cfg = MacConfig(32, 32, 64, x_signed, w_signed, length)
    x, w = extreme_operands(700, 32, 32, x_signed, w_signed, "max")
    xs, ws = make_stream(x, "x", cfg.x_format, 0, 0), make_stream(w, "w", cfg.w_format, 0, 1)
    for start, count in [(0, 700), (1, 699), (3, 500), (650, 50), (0, 0)]:
        want = ref_mac.tail(cfg, xs, ws, start, count, 100)
        assert jit_mac.tail(cfg, xs, ws, start, count, 33) == want
        assert select("c", "auto", 33).mac_tail(cfg, xs, ws, start, count) == want
    assert abs(jit_mac.tail(cfg, xs, ws, 0, 700, 33)[0]) >= (2**64 if length in (None, 64) else 0)


def test_tail_chains_into_run():
    """Tails of consecutive ranges give each range's exact sum before it (bitsim.sim.mac.chain)."""
    cfg, xs, ws, n, _ = prepare(x_bits=32, signed=True, acc_bits=64, length=1000, n=5000, seed=1)
    bounds = [0, 1, 999, 1000, 2345, 5000]
    tails = [jit_mac.tail(cfg, xs, ws, a, b - a, 128) for a, b in zip(bounds, bounds[1:])]
    befores = chain(tails)
    for a, before in zip(bounds, befores):
        assert before == jit_mac.run(cfg, xs, ws, 0, a, 0, 4096)[4]


# --- accumulator widths --------------------------------------------------------------------


@st.composite
def width_cases(draw):
    k, first, dots = draw(st.integers(1, 40)), draw(st.integers(0, 3)), draw(st.integers(0, 8))
    cfg, xs, ws = draw(streams((first + dots) * k, st.just(k)))
    return cfg, xs, ws, first, dots, draw(st.integers(1, 100))


def same_widths(got, want):
    assert np.array_equal(got[0], want[0]) and got[0].dtype == want[0].dtype
    assert got[1:] == want[1:]


@given(width_cases())
def test_dot_widths(case):
    cfg, xs, ws, first, dots, chunk = case
    want = ref_accwidth.dot_widths(cfg, xs, ws, first, dots, chunk)
    same_widths(jit_accwidth.dot_widths(cfg, xs, ws, first, dots, chunk), want)
    for level in LEVELS:
        same_widths(select("c", level, chunk).dot_widths(cfg, xs, ws, first, dots), want)


@pytest.mark.parametrize("x_signed,w_signed", SIGNS)
@pytest.mark.parametrize("x_bits,w_bits", [(32, 32), (32, 9), (1, 32)])
def test_dot_widths_beyond_64_bits(x_bits, w_bits, x_signed, w_signed):
    """K = 4608 terms of extreme products: partial sums beyond +-2^64, dot products split
    across chunks, rising and falling within one dot product."""
    k = 4608
    hi_x, hi_w = extreme_operands(k, x_bits, w_bits, x_signed, w_signed, "max")
    lo_x, lo_w = extreme_operands(k, x_bits, w_bits, x_signed, w_signed, "min")
    rng = np.random.default_rng(x_bits + w_bits)
    pick = rng.integers(0, 2, k).astype(bool)
    half = np.arange(k) < k // 2
    x = np.concatenate([hi_x, lo_x, np.where(half, hi_x, lo_x), np.where(pick, hi_x, lo_x)])
    w = np.concatenate([hi_w, lo_w, np.where(half, hi_w, lo_w), np.where(pick, hi_w, lo_w)])
    cfg = MacConfig(x_bits, w_bits, 64, x_signed, w_signed, k)
    xs, ws = make_stream(x, "x", cfg.x_format, 0, 0), make_stream(w, "w", cfg.w_format, 0, 1)
    want = ref_accwidth.dot_widths(cfg, xs, ws, 0, 4, 3 * k)
    for chunk in (1000, k, 5 * k):
        same_widths(jit_accwidth.dot_widths(cfg, xs, ws, 0, 4, chunk), want)
    for level in LEVELS:
        same_widths(select("c", level, 1000).dot_widths(cfg, xs, ws, 0, 4), want)
    same_widths(
        jit_accwidth.dot_widths(cfg, xs, ws, 1, 2, 777),
        ref_accwidth.dot_widths(cfg, xs, ws, 1, 2, 777),
    )
    hist, lo, hi = want
    assert hist.sum() == 4
    assert np.flatnonzero(hist).max() == worst_case_bits(k, x_bits, w_bits, x_signed, w_signed)
    if x_bits == w_bits == 32:
        assert max(hi, -lo) > 2**64


# --- gate-level toggles --------------------------------------------------------------------


def gate_case(circuit, length=None, n=700, seed=0, signed=None, ports=("x", "w"), x=None, w=None):
    """(program, MacConfig, x stream, w stream, vectors) as bitsim.simulate_gates makes them."""
    netlist = getattr(circuit, "netlist", circuit)
    signed = bool(getattr(circuit, "signed", False)) if signed is None else signed
    prog = compile_netlist(netlist, *ports, length)
    cfg, xs, ws, n, _ = prepare(
        "uniform" if x is None else x,
        "uniform" if w is None else w,
        x_bits=len(prog.x_nets),
        w_bits=len(prog.w_nets),
        acc_bits=64,
        signed=signed,
        length=length,
        n=None if x is not None else n,
        seed=seed,
    )
    return prog, cfg, xs, ws, n


def c_runs(prog, xs, ws, start, warmup, count, acc_before):
    return [
        select("c", level).gates_run(prog, xs, ws, start, warmup, count, acc_before)
        for level in LEVELS
    ]


def check_gates(prog, cfg, xs, ws, n, warm, cuts, chunk=256):
    """numba == C == reference over [0, n), and over the pieces between cuts, each run with
    `warm` vectors of warm-up (fewer at the start) from the exact accumulator state: pieces
    equal the reference's toggles of the same vectors and add up to the whole run."""
    whole = ref_gates.toggles(prog, xs, ws, n)
    assert np.array_equal(jit_gates.run(prog, xs, ws, 0, 0, n, 0, chunk), whole)
    for c in c_runs(prog, xs, ws, 0, 0, n, 0):
        assert np.array_equal(c, whole)
    bounds = [0, *sorted(set(c for c in cuts if 0 < c < n)), n]
    total = np.zeros_like(whole)
    for a, b in zip(bounds, bounds[1:]):
        warmup = min(a, warm)
        # the exact partial sum before the warm-up; the kernels take it modulo 2^64
        acc = jit_mac.tail(cfg, xs, ws, 0, a - warmup, chunk)[0] + (a % 5 - 2) * 2**64
        piece = jit_gates.run(prog, xs, ws, a, warmup, b - a, acc, chunk)
        assert np.array_equal(piece, ref_gates.run(prog, xs, ws, a, warmup, b - a, acc, chunk))
        for c in c_runs(prog, xs, ws, a, warmup, b - a, acc):
            assert np.array_equal(c, piece), (a, b, warmup)
        total += piece
    assert np.array_equal(total, whole)


CUTS = [1, 63, 64, 65, 130, 129 + 512, 699]


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("signed", [False, True])
def test_gates_every_architecture(arch, signed):
    for circuit in (multiplier_circuit(arch, 3, 4, signed), multiplier_circuit(arch, 5, 2, signed)):
        check_gates(*gate_case(circuit, seed=3), 1, CUTS, chunk=100)
    for length in (None, 1, 5):
        mac = mac_circuit(arch, 3, 3, acc_bits=9 if length else 64, signed=signed)
        check_gates(*gate_case(mac, length, seed=length or 0), 1, CUTS)


def reset_sensitive():
    """Registers whose inputs are 1 in the reset state (a DFF of NOT x, a DFF of the constant
    1) and a chain of three through logic."""
    b = NetlistBuilder()
    x, w = b.input_bus("x", 2), b.input_bus("w", 2)
    q = b.dff(b.gate("NOT", x[0]))
    one = b.dff(1)
    chain = b.dff(b.gate("XNOR", b.dff(b.gate("XOR", q, w[1])), x[1]))
    b.output_bus("q", [q, one, b.dff(b.gate("AND", chain, one))])
    return b.netlist


def random_netlist(seed, gates=120):
    """Gates of every type on random earlier nets (constants included, no folding) and their
    register depth (most DFFs on a path)."""
    rng = np.random.default_rng(seed)
    b = NetlistBuilder()
    b.input_bus("x", 3)
    b.input_bus("w", 3)
    depth = [0] * b.netlist.nets
    for _ in range(gates):
        kind = GATE_TYPES[rng.integers(len(GATE_TYPES))]
        ins = tuple(
            int(v)
            for v in rng.integers(
                0, b.netlist.nets, {"NOT": 1, "BUF": 1, "DFF": 1, "MUX": 3}.get(kind, 2)
            )
        )
        out = b.new_net()
        b.netlist.gates.append(Gate(kind, ins, out))
        depth.append(max(depth[i] for i in ins) + (kind == "DFF"))
    b.output_bus("y", list(range(8, b.netlist.nets)))
    return b.netlist, max(depth)


@pytest.mark.parametrize("name", ["mult8", "smult4"])
def test_gates_yosys_netlists(name):
    nl = load_yosys_json(str(DATA / f"{name}.json"))
    check_gates(*gate_case(nl, ports=("a", "b"), signed=name == "smult4", seed=9), 1, CUTS)


@pytest.mark.parametrize("seed", range(6))
def test_gates_random_netlists_of_every_gate_type(seed):
    nl, depth = random_netlist(seed)
    assert {g.type for g in nl.gates} == set(GATE_TYPES)
    check_gates(*gate_case(nl, seed=seed, signed=seed % 2 == 1), depth + 1, CUTS)


# the C kernel visits each gate once per 4096 vectors (8 blocks of 512, interleaved) and keeps
# values in slots shared by nets that are not read at the same time: cuts at and around the
# edges of blocks and visits, a partial last visit, warm-ups that end inside a visit
VISIT_CUTS = [511, 512, 513, 4095, 4096, 4097, 4096 + 2049, 8191, 8192, 8193]


@pytest.mark.parametrize("seed", range(2))
@pytest.mark.parametrize("operands", ["sampled", "uint8 arrays"])
def test_gates_across_visit_edges(seed, operands):
    nl, depth = random_netlist(seed + 10, gates=200)
    n = 2 * 4096 + 4096 // 2 + 3
    arrays = {}
    if operands != "sampled":  # bit-sliced straight from the bytes
        rng = np.random.default_rng(seed)
        arrays = dict(
            x=rng.integers(0, 8, n).astype(np.uint8), w=rng.integers(0, 8, n).astype(np.uint8)
        )
    case = gate_case(nl, n=n, seed=seed, **arrays)
    check_gates(*case, depth + 1, VISIT_CUTS, chunk=1000)


def test_gates_in_wrong_order_are_refused():
    """The C kernel assigns value slots in gate order: a gate that reads a net before the gate
    driving it (not a topological order) is an error, not a wrong count."""
    prog, cfg, xs, ws, n = gate_case(multiplier_circuit("dadda", 3, 3), n=100)
    prog.op, prog.a, prog.b, prog.c, prog.out = (
        col[::-1].copy() for col in (prog.op, prog.a, prog.b, prog.c, prog.out)
    )
    for level in LEVELS:
        with pytest.raises(ValueError, match="circuit"):
            select("c", level).gates_run(prog, xs, ws, 0, 0, n, 0)


# netlists with registers and their register depth (most DFFs on a path)
DFF_CASES = {
    "pipe4": (
        lambda: gate_case(load_yosys_json(str(DATA / "pipe4.json")), ports=("a", "b"), seed=1),
        1,
    ),
    "pipelined": (lambda: gate_case(pipelined_multiplier(), seed=2), 2),
    "reset-sensitive": (lambda: gate_case(reset_sensitive(), seed=3), 4),
}


@pytest.mark.parametrize("name", DFF_CASES)
def test_gates_with_registers(name):
    """A warm-up of the register depth + 1 vectors makes pieces exact; a shorter one starts
    the registers from the reset state, the same way in numba and C."""
    make, depth = DFF_CASES[name]
    prog, cfg, xs, ws, n = make()
    check_gates(prog, cfg, xs, ws, n, depth + 1, CUTS)
    for start in (1, 2, 64, 300):
        for warmup in range(min(start, depth + 1) + 1):
            got = jit_gates.run(prog, xs, ws, start, warmup, 200, 0, 64)
            for c in c_runs(prog, xs, ws, start, warmup, 200, 0):
                assert np.array_equal(got, c), (start, warmup)


def test_reset_state_of_registers():
    """At the first vector a DFF shows its input's reset value (NOT x: 1); a DFF of the
    constant 1 is 1 from the reset state on and never toggles."""
    prog, cfg, xs, ws, n = gate_case(
        reset_sensitive(), x=np.zeros(3, np.int64), w=np.zeros(3, np.int64)
    )
    q, one = reset_sensitive().outputs["q"][:2]
    for kernel in (
        lambda: jit_gates.run(prog, xs, ws, 0, 0, n, 0, 64),
        lambda: ref_gates.toggles(prog, xs, ws, n),
        *[lambda lv=lv: select("c", lv).gates_run(prog, xs, ws, 0, 0, n, 0) for lv in LEVELS],
    ):
        t = kernel()
        assert (int(t[q]), int(t[one])) == (1, 0)


@st.composite
def run_args(draw):
    kind = draw(st.sampled_from(["mac", "mac-endless", "registers", "random", "multiplier"]))
    signed = draw(st.booleans())
    if kind.startswith("mac"):
        circuit = mac_circuit(
            draw(st.sampled_from(ARCHS)),
            draw(st.integers(1, 4)),
            draw(st.integers(1, 4)),
            acc_bits=draw(st.sampled_from([2, 7, 64])),
            signed=signed,
        )
        length = None if kind == "mac-endless" else draw(st.integers(1, 70))
    elif kind == "registers":
        circuit, length = reset_sensitive(), None
    elif kind == "random":
        circuit, length = random_netlist(draw(st.integers(0, 2**32)), 40)[0], None
    else:
        circuit = multiplier_circuit(
            draw(st.sampled_from(ARCHS)), draw(st.integers(1, 5)), draw(st.integers(1, 5)), signed
        )
        length = None
    base = draw(st.sampled_from([0, 0, 2**40 + 7]))
    start = base + draw(st.integers(0, 300))
    warmup = draw(st.integers(0, start - base))
    case = gate_case(circuit, length, seed=draw(st.integers(0, 2**64 - 1)), signed=signed)
    acc = draw(st.one_of(st.integers(-(2**70), 2**70), st.sampled_from([0, -1, 2**63, 2**64 - 1])))
    return case, start, warmup, draw(st.integers(0, 400)), acc, draw(st.integers(1, 300))


@given(run_args())
def test_gates_any_split_numba_equals_c(args):
    """Any start, warm-up, count and accumulator state (exact or not): numba == C."""
    (prog, cfg, xs, ws, _), start, warmup, count, acc, chunk = args
    got = jit_gates.run(prog, xs, ws, start, warmup, count, acc, chunk)
    assert got.dtype == np.uint64 and got.shape == (prog.nets,)
    for c in c_runs(prog, xs, ws, start, warmup, count, acc):
        assert np.array_equal(got, c)


def test_gates_arrays_and_warmup_errors():
    rng = np.random.default_rng(5)
    x, w = rng.integers(-8, 8, 1000).astype(np.int8), rng.integers(-4, 4, 1000).astype(np.int16)
    prog, cfg, xs, ws, n = gate_case(mac_circuit("booth", 4, 3, 16, signed=True), 9, x=x, w=w)
    check_gates(prog, cfg, xs, ws, n, 1, [1, 64, 500, 999])
    with pytest.raises(ValueError, match="warmup"):
        jit_gates.run(prog, xs, ws, 5, 6, 10, 0, 64)


def bus_netlist(bits):
    """Buses x, w of `bits` bits: each bit pair XORed, neighbours ANDed, and a MUX chain, so
    that every operand bit reaches gates as well as being counted as a source."""
    b = NetlistBuilder()
    x, w = b.input_bus("x", bits), b.input_bus("w", bits)
    y = [b.gate("XOR", x[i], w[i]) for i in range(bits)]
    y += [b.gate("AND", x[i], x[i - 1]) for i in range(1, bits)]
    m = w[0]
    for i in range(bits):
        m = b.gate("MUX", m, x[i], w[i])
    b.output_bus("y", [*y, m])
    return b.netlist


# the C kernel reads operands straight from arrays and from the samplers' draws (several
# operands per draw): visits that begin mid-draw, partial visits
OPERAND_CUTS = [1, 3, 511, 4095, 4097, 4096 + 7, 8189]


@pytest.mark.parametrize("bits", [1, 5, 8, 9, 15, 16, 17, 32])
@pytest.mark.parametrize("signed", [False, True])
def test_gates_sampled_operands_of_every_width(bits, signed):
    """Uniform samplers of 1 to 32 bits (8, 4 or 2 operands per draw) bit-sliced from the
    draws: C == numba == reference over splits inside draws and visits."""
    case = gate_case(bus_netlist(bits), n=2 * 4096 + 5, seed=bits, signed=signed)
    check_gates(*case, 1, OPERAND_CUTS, chunk=1000)


ARRAY_FORMATS = [(3, True), (8, False), (8, True), (12, True), (16, False), (16, True)]


@pytest.mark.parametrize("dtype", [*DTYPES, np.uint64])
@pytest.mark.parametrize("bits,signed", ARRAY_FORMATS)
def test_gates_operand_arrays_of_every_dtype(dtype, bits, signed):
    """Arrays of every dtype, narrower than the format too (an int8 array of a 12-bit signed
    operand: the bytes above its own are its sign), wider too: C == numba == reference; a value
    outside the format is found at its index."""
    fmt = IntFormat(bits, signed)
    info = np.iinfo(dtype)
    lo, hi = max(fmt.lo, int(info.min)), min(fmt.hi, int(info.max))
    n = 4096 + 700
    rng = np.random.default_rng(bits)
    x, w = (rng.integers(lo, hi, n, endpoint=True).astype(dtype) for _ in range(2))
    x[:2], w[:2] = lo, hi  # the extremes
    nl = bus_netlist(bits)
    check_gates(*gate_case(nl, x=x, w=w, signed=signed), 1, OPERAND_CUTS, chunk=1000)
    outside = [v for v in (fmt.lo - 1, fmt.hi + 1) if info.min <= v <= info.max]
    for v in outside:
        bad = x.copy()
        bad[4097] = v
        prog, _, xs, ws, m = gate_case(nl, x=bad, w=w, signed=signed)
        for level in LEVELS:
            with pytest.raises(ValueError, match=f"found {v} at index 4097"):
                select("c", level).gates_run(prog, xs, ws, 0, 0, m, 0)
