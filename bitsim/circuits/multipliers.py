"""Generators of multiplier and MAC netlists.

Architectures (``arch``):

* ``array``: AND partial products (Baugh-Wooley for signed operands) reduced row by row in a
  carry-save array, then a ripple-carry adder;
* ``baugh-wooley``: modified Baugh-Wooley partial products (NAND on the sign rows and
  columns, constant ones) reduced by a Dadda tree;
* ``booth``: radix-4 Booth recoding of w (unsigned operands zero-extended), reduced by Dadda;
* ``wallace`` / ``dadda``: AND (unsigned) or Baugh-Wooley (signed) partial products, reduced
  by a Wallace tree (greedy full/half adders per stage) or a Dadda tree (Dadda 1965: stage
  heights 2, 3, 4, 6, 9, ..., as few adders as each stage needs), then a ripple-carry adder.

Signed partial products (Baugh-Wooley, derived for any widths): with x = -x_{n-1} 2^{n-1} + ...
and w likewise, every product bit of a sign row or column enters inverted (NAND) and the
constant 2^{n-1} + 2^{m-1} - 2^{n+m-1} (mod 2^{n+m}) is added as constant-one bits. Mixed
signedness zero-extends the unsigned operand by one bit and uses the signed form. The product
has x_bits + w_bits bits (two's complement when either operand is signed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional

from bitsim._core.checks import InputError
from bitsim.circuits.netlist import Netlist, NetlistBuilder

__all__ = [
    "ARCHS",
    "MultiplierCircuit",
    "circuit",
    "mac_circuit",
    "multiplier_circuit",
    "structure",
]

ARCHS = ("array", "baugh-wooley", "booth", "wallace", "dadda")


@dataclass
class MultiplierCircuit:
    """A generated circuit and its structure counts."""

    netlist: Netlist
    arch: str
    x_bits: int
    w_bits: int
    signed: bool
    tree_full_adders: int
    tree_half_adders: int
    final_adder_bits: int
    full_adders: int  # everywhere, final adder included (and accumulator adder in a MAC)
    half_adders: int
    # named internal nets, LSB first; a MAC's accumulator adder: 'addend' (the product extended
    # to acc_bits) and 'carry' (the carry out of each bit position)
    nets: Dict[str, List[int]] = field(default_factory=dict)

    def counts(self) -> Dict:
        gates = self.netlist.count()
        return {
            "tree_full_adders": self.tree_full_adders,
            "tree_half_adders": self.tree_half_adders,
            "final_adder_bits": self.final_adder_bits,
            "full_adders": self.full_adders,
            "half_adders": self.half_adders,
            "gates": gates,
        }


def _add_constant(cols, value, width):
    for i in range(width):
        if value >> i & 1:
            cols[i].append(1)


def _and_partial_products(b: NetlistBuilder, x, w, signed_x, signed_w, width):
    """Columns of AND partial products; signed operands in modified Baugh-Wooley form."""
    cols: List[List[int]] = [[] for _ in range(width)]
    if signed_x or signed_w:  # extend the unsigned operand, then treat both as signed
        x = x + [0] if not signed_x else x
        w = w + [0] if not signed_w else w
        n, m = len(x), len(w)
        for i, wi in enumerate(w):
            for j, xj in enumerate(x):
                if i + j >= width:
                    continue
                inverted = (i == m - 1) != (j == n - 1)
                cols[i + j].append(b.gate("NAND" if inverted else "AND", xj, wi))
        _add_constant(
            cols, ((1 << (n - 1)) + (1 << (m - 1)) - (1 << (n + m - 1))) % (1 << width), width
        )
    else:
        for i, wi in enumerate(w):
            for j, xj in enumerate(x):
                if i + j < width:
                    cols[i + j].append(b.gate("AND", xj, wi))
    return cols


def _booth_partial_products(b: NetlistBuilder, x, w, signed_x, signed_w, width):
    """Radix-4 Booth: digits d in {-2..2} from (w_{2i+1}, w_{2i}, w_{2i-1}); row i is d * x,
    sign bit inverted plus a constant, and the +1 of the negation at column 2i."""
    X = x + ([x[-1]] if signed_x else [0, 0])  # n + 1 bits of signed x (unsigned: zero-extended)
    W = w if signed_w else w + [0]
    mb = len(W)
    ext = lambda k: W[k] if k < mb else W[-1]  # noqa: E731 - sign extension of w
    cols: List[List[int]] = [[] for _ in range(width)]
    na = len(X) - 1
    constant = 0
    for i in range((mb + 1) // 2):
        lo = ext(2 * i - 1) if i else 0
        mid, hi = ext(2 * i), ext(2 * i + 1)
        one = b.gate("XOR", mid, lo)
        two = b.gate(
            "OR",
            b.gate("AND", hi, b.gate("NOR", mid, lo)),
            b.gate("AND", b.gate("NOT", hi), b.gate("AND", mid, lo)),
        )
        for j in range(na + 1):
            col = 2 * i + j
            if col >= width:
                continue
            prev = X[j - 1] if j else 0
            sel = b.gate("OR", b.gate("AND", one, X[j]), b.gate("AND", two, prev))
            bit = b.gate("XOR", sel, hi)
            if j == na:  # sign bit: -s 2^col = (~s) 2^col - 2^col
                cols[col].append(b.gate("NOT", bit))
                constant -= 1 << col
            else:
                cols[col].append(bit)
        if 2 * i < width:
            cols[2 * i].append(hi)  # + 1 to finish the two's complement of a negative digit
    _add_constant(cols, constant % (1 << width), width)
    return cols


def _constants_to_front(cols):
    """Several constant ones in a column are merged (1 + 1 = a 1 one column up)."""
    for i, col in enumerate(cols):
        ones = sum(1 for n in col if n == 1)
        rest = [n for n in col if n != 1]
        if ones > 1 and i + 1 < len(cols):
            for _ in range(ones // 2):
                cols[i + 1].append(1)
        cols[i] = rest + [1] * (ones % 2)
        cols[i] = [n for n in cols[i] if n != 0]
    return cols


def _dadda(b: NetlistBuilder, cols):
    heights = [2]
    while heights[-1] < max(map(len, cols)):
        heights.append(heights[-1] * 3 // 2)
    for d in reversed(heights[:-1]):
        carries: List[List[int]] = [[] for _ in cols]
        for i in range(len(cols)):
            col = cols[i] + carries[i]  # the stage's sums count in the height too
            while len(col) > d:
                if len(col) - d >= 2:
                    s, c = b.full_adder(col.pop(0), col.pop(0), col.pop(0))
                else:
                    s, c = b.half_adder(col.pop(0), col.pop(0))
                col.append(s)
                if i + 1 < len(cols):
                    carries[i + 1].append(c)
            cols[i] = col
    return cols


def _wallace(b: NetlistBuilder, cols):
    while max(map(len, cols)) > 2:
        nxt: List[List[int]] = [[] for _ in cols]
        for i, col in enumerate(cols):
            col = list(col)
            while len(col) >= 3:
                s, c = b.full_adder(col.pop(0), col.pop(0), col.pop(0))
                nxt[i].append(s)
                if i + 1 < len(cols):
                    nxt[i + 1].append(c)
            if len(col) == 2 and len(cols[i]) > 2:
                s, c = b.half_adder(col.pop(0), col.pop(0))
                nxt[i].append(s)
                if i + 1 < len(cols):
                    nxt[i + 1].append(c)
            nxt[i].extend(col)
        cols = nxt
    return cols


def _array(b: NetlistBuilder, cols):
    """Carry-save array: the partial-product rows are added one after the other into a
    (sum, carry) pair of rows, a full adder wherever a column holds three bits."""
    width = len(cols)
    rows: List[Dict[int, int]] = []
    for i, col in enumerate(cols):
        for r, n in enumerate(col):
            while len(rows) <= r:
                rows.append({})
            rows[r][i] = n
    acc: List[List[int]] = [[] for _ in range(width)]
    for row in rows:
        carry: List[int] = []
        for i in range(width):
            col = acc[i] + carry + ([row[i]] if i in row else [])
            carry = []
            while len(col) >= 3:
                s, c = b.full_adder(col.pop(0), col.pop(0), col.pop(0))
                col.append(s)
                if i + 1 < width:
                    carry.append(c)
            acc[i] = col
    return acc


def _ripple(b: NetlistBuilder, cols):
    """Sum of at most two bits per column with a ripple-carry adder; returns (bits, width),
    width = the adder's cells (full and half adders), one per bit it adds."""
    out, carry, cells = [], None, 0
    for col in cols:
        bits = list(col) + ([carry] if carry is not None else [])
        assert len(bits) <= 3, "reduction left more than two rows"
        if len(bits) == 3:
            s, carry = b.full_adder(*bits)
        elif len(bits) == 2:
            s, carry = b.half_adder(*bits)
        else:
            s, carry = (bits[0] if bits else 0), None
        cells += len(bits) >= 2
        out.append(s)
    return out, cells


def multiplier_circuit(
    arch: str, x_bits: int, w_bits: Optional[int] = None, signed: bool = False
) -> MultiplierCircuit:
    """A multiplier netlist with inputs 'x', 'w' and output 'p' (x_bits + w_bits bits)."""
    return _multiplier(arch, x_bits, w_bits, signed)[0]


def _multiplier(arch, x_bits, w_bits=None, signed=False, builder=None, x=None, w=None):
    if arch not in ARCHS:
        raise InputError(f"arch: expected one of {', '.join(ARCHS)}, found {arch!r}")
    w_bits = x_bits if w_bits is None else w_bits
    for name, v in (("x_bits", x_bits), ("w_bits", w_bits)):
        if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 32:
            raise InputError(f"{name}: expected an integer in [1, 32], found {v!r}")
    b = builder or NetlistBuilder()
    x = x if x is not None else b.input_bus("x", x_bits)
    w = w if w is not None else b.input_bus("w", w_bits)
    width = x_bits + w_bits
    b.part = "partial_products"
    if arch == "booth":
        cols = _booth_partial_products(b, x, w, signed, signed, width)
    else:
        cols = _and_partial_products(b, x, w, signed, signed, width)
    cols = _constants_to_front(cols)
    b.part = "reduction_tree"
    reduce = {"array": _array, "wallace": _wallace}.get(arch, _dadda)
    cols = reduce(b, cols)
    tree_fa, tree_ha = (
        b.full_adders.get("reduction_tree", 0),
        b.half_adders.get("reduction_tree", 0),
    )
    b.part = "final_adder"
    p, final_bits = _ripple(b, cols)
    if builder is None:
        b.output_bus("p", p)
    circuit = MultiplierCircuit(
        b.netlist,
        arch,
        x_bits,
        w_bits,
        signed,
        tree_fa,
        tree_ha,
        final_bits,
        sum(b.full_adders.values()),
        sum(b.half_adders.values()),
    )
    return circuit, p


def mac_circuit(
    arch: str, x_bits: int, w_bits: Optional[int] = None, acc_bits: int = 32, signed: bool = False
) -> MultiplierCircuit:
    """A MAC: operand registers x, w (inputs), a multiplier, and a ripple-carry accumulator
    adder whose register ('acc', a state bus: the previous partial sum) is cleared by input
    'first'. Outputs: 'p' (product) and 'acc_next' (the new accumulator value); ``nets`` names
    the adder's second input 'addend' (p sign- or zero-extended) and its 'carry' nets (the carry
    out of each bit position), which the register-level sites of the same names match."""
    b = NetlistBuilder()
    w_bits = x_bits if w_bits is None else w_bits
    x = b.input_bus("x", x_bits)
    w = b.input_bus("w", w_bits)
    first = b.input_bus("first", 1)[0]
    acc = b.state_bus("acc", acc_bits)
    circuit, p = _multiplier(arch, x_bits, w_bits, signed, builder=b, x=x, w=w)
    b.part = "accumulator_adder"
    ext = [p[i] if i < len(p) else (p[-1] if signed else 0) for i in range(acc_bits)]
    kept = [b.gate("ANDNOT", a, first) for a in acc]  # the first term loads p itself
    out: List[int] = []
    carries: List[int] = []
    for i in range(acc_bits):
        if not carries:
            s, carry = b.half_adder(kept[i], ext[i])
        else:
            s, carry = b.full_adder(kept[i], ext[i], carries[-1])
        out.append(s)
        carries.append(carry)
    b.output_bus("p", p)
    b.output_bus("acc_next", out)
    b.netlist.next_state["acc"] = out
    circuit.netlist = b.netlist
    circuit.nets = {"addend": ext, "carry": carries}
    circuit.full_adders = sum(b.full_adders.values())
    circuit.half_adders = sum(b.half_adders.values())
    return circuit


def circuit(
    arch: str,
    x_bits: int,
    w_bits: Optional[int] = None,
    signed: bool = False,
    acc_bits: Optional[int] = None,
) -> MultiplierCircuit:
    """A multiplier, or with ``acc_bits`` a whole MAC (``mac_circuit``)."""
    if acc_bits is None:
        return multiplier_circuit(arch, x_bits, w_bits, signed)
    return mac_circuit(arch, x_bits, w_bits, acc_bits, signed)


def structure(circuit) -> Dict:
    """Structure counts of a generated circuit; of any other netlist, its gates by type (the
    adder counts are None: they are not known)."""
    if isinstance(circuit, MultiplierCircuit):
        return circuit.counts()
    return {
        "tree_full_adders": None,
        "tree_half_adders": None,
        "final_adder_bits": None,
        "full_adders": None,
        "half_adders": None,
        "gates": circuit.count(),
    }
