"""Bit flips of every processing element (PE) of a systolic array running one layer.

Each PE's MAC (operand registers, product register and, in os, the accumulator: the model of
bitsim.sim.mac) runs on the operand stream the dataflow gives it (streams.py) through the MAC
kernels of bitsim.backends.dispatch, one call per PE and fold, starting from the register
values the PE held after its previous fold (``mac_run`` from an offset reads them from the
element before it). The partial-sum link registers of ws and is (``psum``, acc_bits wide) are
plain registers counted by bitsim.dataflow.registers.register_flips; there the PE's adder adds
the partial sum from the PE above (not an accumulator of its own), so its carries are those of
that addition (registers.adder_carries) and the kernel's accumulator and carry sites are not
used.

Per-MAC figures divide by the layer's MACs (x w pairs), whatever the methods skip. Layers with
more folds than ``max_folds`` are sampled: ``max_folds`` folds drawn uniformly without
replacement (seeded), each simulated exactly from the state its PEs would hold; per-MAC figures
are the ratio estimate sum(flips) / sum(MACs) over the sampled folds and ``ci95`` its 95%
confidence half-width (normal approximation, finite-population correction; Cochran, Sampling
Techniques, 3rd ed., sec. 6.4). Results depend on the seed only, not on threads.

Methods (bitsim.dataflow.methods builds on them):

* ``gating``: operand isolation (zero-gating) of a MAC whose x or w is zero: its operand
  registers, product register, accumulator and adder inputs (so addend and carries) hold their
  values; the psum link still takes the arriving sum (unchanged by a zero product).
* ``encoding='sign-magnitude'``: x, w and product registers hold sign-magnitude codes (sign bit
  on top, zero has sign 0) instead of two's complement; the accumulator and the psum links stay
  two's complement (the adder converts). These registers are counted by register_flips.

Energy: PANN power (bit flips per inference, Spingarn-Eliezer et al. 2022) is MACs x flips per
MAC over every site, psum links included; ``energy_per_flip`` (joules per bit flip, e.g. from a
Liberty calibration) turns it into joules per inference.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Dict, List, Optional, Tuple

import numpy as np

from bitsim._core.checks import InputError, check_bool, check_choice, check_int, check_seed
from bitsim._core.interrupt import Workers
from bitsim.backends.dispatch import select
from bitsim.dataflow.mapping import Array, Mapping, map_layer
from bitsim.dataflow.operands import Gemm, layer_gemms
from bitsim.dataflow.registers import adder_carries, register_flips, sign_magnitude
from bitsim.dataflow.streams import FORWARDED, PSUM_DATAFLOWS, fold_operands, partial_sums
from bitsim.models.energy import Calibration, check_calibration, energy_of_flips
from bitsim.sim.mac import SITES, MacConfig
from bitsim.sim.operands import make_streams

__all__ = ["ENCODINGS", "PSUM", "DataflowFlips", "simulate_dataflow"]

ENCODINGS = ("twos", "sign-magnitude")
PSUM = "psum"
CARRY = "carry"  # bitsim.sim.mac's site of the accumulator adder's carries
SM_SITES = ("x", "w", "product")  # registers that hold sign-magnitude codes
_CHUNK = 1 << 20  # values per vectorised block of register_flips


@dataclass
class DataflowFlips:
    """Bit flips of a layer on a systolic array.

    Attributes
    ----------
    layer : str
    mapping : Mapping
        Array, dataflow, cycles, utilization (SCALE-Sim's conventions).
    sites : tuple of str
        Registers counted: the MAC's (bitsim.sim.mac.SITES; no 'acc' in ws and is, whose PEs
        have none, and there 'carry' is the carries of the arriving partial sum plus the
        addend) and, in ws and is, 'psum' (the partial-sum link).
    flips : dict of str to int
        Total bit flips of each site over the simulated folds.
    macs_simulated, folds_simulated : int
        MACs and folds simulated (all of them unless sampled).
    ci95 : dict of str to float or None
        95% confidence half-width of each site's (and 'total') flips per MAC; 0.0 when every
        fold ran, None when one fold was sampled.
    pe_flips, pe_macs : ndarray (rows, cols)
        Flips (every site) and MACs of each PE over the simulated folds.
    """

    layer: str
    mapping: Mapping
    sites: Tuple[str, ...]
    flips: Dict[str, int]
    macs_simulated: int
    folds_simulated: int
    ci95: Dict[str, Optional[float]]
    pe_flips: np.ndarray
    pe_macs: np.ndarray
    options: Dict[str, object] = field(default_factory=dict)
    energy_per_flip: Optional[float] = None
    calibration: Optional[Calibration] = None

    def mean(self, site: Optional[str] = None) -> float:
        """Flips per MAC of one site, or of every site when ``site`` is None."""
        sites = self.sites if site is None else (site,)
        total = sum(self.flips[s] for s in sites)
        return total / self.macs_simulated if self.macs_simulated else 0.0

    @property
    def mean_flips(self) -> Dict[str, float]:
        out = {s: self.mean(s) for s in self.sites}
        out["total"] = self.mean()
        return out

    @property
    def sampled(self) -> bool:
        return self.folds_simulated < self.mapping.groups * self.mapping.folds

    @property
    def pann_power(self) -> float:
        """Bit flips per inference: MACs x flips per MAC (estimated when sampled)."""
        return self.mapping.macs * self.mean()

    @property
    def energy_pj_per_mac(self) -> Optional[float]:
        """Energy per MAC (pJ): from the Liberty calibration (every site priced by the fit; the
        partial-sum link like the accumulator register), or flips x ``energy_per_flip``."""
        if self.calibration is not None:
            mean = {s: self.mean(s) for s in self.sites}
            return 1e12 * energy_of_flips(self.calibration, mean, {"psum": "acc"})
        return None if self.energy_per_flip is None else 1e12 * self.mean() * self.energy_per_flip

    @property
    def energy_j(self) -> Optional[float]:
        """Energy of the layer (J) on the array: MACs x energy per MAC."""
        e = self.energy_pj_per_mac
        return None if e is None else self.mapping.macs * e * 1e-12

    def pe_mean(self) -> np.ndarray:
        """Flips per MAC of each PE (NaN where a PE ran no MAC)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.pe_macs > 0, self.pe_flips / np.maximum(self.pe_macs, 1), np.nan)

    def to_dict(self) -> dict:
        m = self.mapping
        return {
            "layer": self.layer,
            "array": str(m.array),
            "dataflow": m.dataflow,
            "cycles": m.cycles,
            "utilization": m.utilization,
            "mapping_efficiency": m.mapping_efficiency,
            "macs": m.macs,
            "folds": m.groups * m.folds,
            "folds_simulated": self.folds_simulated,
            "sampled": self.sampled,
            "flips": self.mean_flips,
            "flips_ci95": dict(self.ci95),
            "forwarded": list(FORWARDED[m.dataflow]),
            "pann_power": self.pann_power,
            "energy_pj_per_mac": self.energy_pj_per_mac,
            "energy_j": self.energy_j,
            **self.options,
        }


class _Run:
    """One simulation: the operands, the mapping and the options; fold(g) simulates fold g
    (global index over groups) on its own."""

    def __init__(self, gemms, mapping, cfg, kernels, gating, encoding):
        self.gemms, self.mapping, self.cfg, self.kernels = gemms, mapping, cfg, kernels
        self.gating, self.encoding = gating, encoding
        self.psum = mapping.dataflow in PSUM_DATAFLOWS
        # ws and is: the PE's adder adds the partial sum arriving from the PE above (not its own
        # register) and writes the psum link: no 'acc', and its carries are counted here
        self.own_carry = self.psum and CARRY in SITES
        adder = ("acc", CARRY) if self.psum else ()
        self.mac_sites = tuple(s for s in SITES if s not in adder)
        self.sites = tuple(s for s in SITES if not (self.psum and s == "acc"))
        self.sites += (PSUM,) if self.psum else ()
        self.configs: Dict[int, MacConfig] = {}  # MacConfig of each dot length

    def operands(self, g: int):
        group, f = divmod(g, self.mapping.folds)
        fold = self.mapping.fold(f)
        return fold, *fold_operands(self.gemms[group], self.mapping, fold)

    def pe_stream(self, x, w, r: int, c: int):
        xs, ws = x[:, r, c], w[:, r, c]
        if self.gating:
            keep = (xs != 0) & (ws != 0)
            xs, ws = xs[keep], ws[keep]
        return xs, ws

    def previous(self, g: int, ru: int, cu: int):
        """What the PEs of fold g (rows_used ru, cols_used cu) held before it: (x, w, sum,
        found) of their last MAC (x and w as the gating lets them through; sum: its dot
        product in os, its product in ws and is; found: False where a PE has taken nothing
        since reset), and the partial sums their links last held (0 after reset)."""
        shape = (ru, cu)
        px, pw, ps, carry = (np.zeros(shape, dtype=np.int64) for _ in range(4))
        found = np.zeros(shape, dtype=bool)
        psum = np.zeros(shape, dtype=np.int64)
        psum_found = np.ones(shape, dtype=bool) if not self.psum else np.zeros(shape, dtype=bool)
        for h in range(g - 1, -1, -1):
            if found.all() and psum_found.all():
                break
            fold, x, w = self.operands(h)
            a, b = min(ru, fold.rows_used), min(cu, fold.cols_used)
            xs, ws = x[:, :a, :b], w[:, :a, :b]
            new = ~psum_found[:a, :b]
            if new.any():
                psum[:a, :b] = np.where(new, partial_sums(xs[-1:], ws[-1:])[0], psum[:a, :b])
                psum_found[:a, :b] = True
            need = ~found[:a, :b]
            if not need.any():
                continue
            keep = (xs != 0) & (ws != 0) if self.gating else np.ones(xs.shape, dtype=bool)
            last = xs.shape[0] - 1 - np.argmax(keep[::-1], axis=0)
            xl = np.take_along_axis(xs, last[None], 0)[0].astype(np.int64)
            wl = np.take_along_axis(ws, last[None], 0)[0].astype(np.int64)
            if self.mapping.dataflow == "os":  # gated terms are zero products
                sums = np.einsum("tij,tij->ij", xs.astype(np.int64), ws.astype(np.int64))
            else:
                sums = xl * wl
            sel = need & keep.any(axis=0)
            for arr, val in ((px, xl), (pw, wl), (ps, sums)):
                arr[:a, :b] = np.where(sel, val, arr[:a, :b])
            if self.own_carry:
                carries = adder_carries(self.sum_above(xs, ws, last), xl * wl, self.cfg.acc_bits)
                carry[:a, :b] = np.where(sel, carries, carry[:a, :b])
            found[:a, :b] |= sel
        return (px, pw, ps, found), psum, carry

    @staticmethod
    def sum_above(x, w, steps) -> np.ndarray:
        """The partial sum arriving at each PE (r, c) (from rows above r) at its own step
        steps[r, c] of a fold with operands x, w (T, a, b)."""
        a, b = steps.shape
        rows, cols = np.arange(a), np.arange(b)
        at = (steps[:, :, None], rows[None, None, :], cols[None, :, None])  # [r, c, q]
        products = x[at].astype(np.int64) * w[at].astype(np.int64)
        return np.einsum("rcq,rq->rc", products, np.tri(a, a, -1, dtype=np.int64))

    def mac_counts(self, xs, ws, prev) -> np.ndarray:
        """flips[site, bit] of the MAC kernel on one PE's stream of one fold."""
        n = len(xs)
        length = n if self.mapping.dataflow == "os" else 1
        cfg = self.configs.get(length)
        if cfg is None:
            cfg = self.configs[length] = replace(self.cfg, length=length)
        start, before = 0, 0
        if prev is not None:
            pad = np.zeros(length - 1, dtype=np.int64)
            xs = np.concatenate([pad, [prev[0]], xs.astype(np.int64)])
            ws = np.concatenate([pad, [prev[1]], ws.astype(np.int64)])
            start, before = length, prev[2]
        sx, sw = make_streams(
            np.ascontiguousarray(xs), np.ascontiguousarray(ws), cfg.x_format, cfg.w_format, 0
        )
        return self.kernels.mac_run(cfg, sx, sw, start, n, before).flips

    def sm_codes(self, x, w):
        cfg = self.cfg
        xc = sign_magnitude(x, cfg.x_bits, "x") if cfg.x_signed else x.astype(np.int64)
        wc = sign_magnitude(w, cfg.w_bits, "w") if cfg.w_signed else w.astype(np.int64)
        p = x.astype(np.int64) * w.astype(np.int64)
        pc = sign_magnitude(p, cfg.product_bits, "product") if cfg.acc_signed else p
        return {"x": xc, "w": wc, "product": pc}

    def fold(self, g: int):
        """(flips per site of each PE (rows_used, cols_used), MACs) of fold g."""
        fold, x, w = self.operands(g)
        ru, cu = fold.rows_used, fold.cols_used
        out = {s: np.zeros((ru, cu), dtype=np.uint64) for s in self.sites}
        held, before, carry_before = self.previous(g, ru, cu)
        px, pw, ps, found = held
        for r in range(ru):
            for c in range(cu):
                xs, ws = self.pe_stream(x, w, r, c)
                if len(xs):
                    prev = (int(px[r, c]), int(pw[r, c]), int(ps[r, c])) if found[r, c] else None
                    counts = self.mac_counts(xs, ws, prev)
                    for i, s in enumerate(SITES):
                        if s in self.mac_sites:
                            out[s][r, c] = counts[i].sum()
        if self.encoding == "sign-magnitude":
            self._sign_magnitude(x, w, px, pw, out)
        if self.psum:
            step = max(1, _CHUNK // (ru * cu))
            acc_bits = self.cfg.acc_bits
            for t in range(0, x.shape[0], step):
                xc, wc = x[t : t + step], w[t : t + step]
                products = xc.astype(np.int64) * wc.astype(np.int64)
                sums = np.cumsum(products, axis=1)
                out[PSUM] += register_flips(sums, acc_bits, before)
                before = sums[-1]
                if self.own_carry:
                    carries = adder_carries(sums - products, products, acc_bits)
                    if self.gating:  # a gated adder's inputs hold (operand isolation)
                        carries = _hold(carries, (xc != 0) & (wc != 0), carry_before)
                    out[CARRY] += register_flips(carries, acc_bits, carry_before)
                    carry_before = carries[-1]
        return out, x.shape[0] * ru * cu

    def _sign_magnitude(self, x, w, px, pw, out) -> None:
        """Replace the x, w and product flips by those of sign-magnitude registers (px, pw:
        the operands held before the fold, 0 after reset)."""
        ru, cu = x.shape[1:]
        codes_before = self.sm_codes(px, pw)
        step = max(1, _CHUNK // (ru * cu))
        totals = {s: np.zeros((ru, cu), dtype=np.uint64) for s in SM_SITES}
        before = {s: codes_before[s] for s in SM_SITES}
        for t in range(0, x.shape[0], step):
            xc, wc = x[t : t + step], w[t : t + step]
            codes = self.sm_codes(xc, wc)
            if self.gating:  # a gated MAC leaves its registers as they were
                keep = (xc != 0) & (wc != 0)
                for s in SM_SITES:
                    codes[s] = _hold(codes[s], keep, before[s])
            for s in SM_SITES:
                bits = self.cfg.site_bits(s)
                totals[s] += register_flips(codes[s], bits, before[s])
                before[s] = codes[s][-1]
        for s in SM_SITES:
            out[s] = totals[s]


def _hold(values: np.ndarray, keep: np.ndarray, before: np.ndarray) -> np.ndarray:
    """values where keep, else the last kept value before (or ``before``), along axis 0."""
    t = np.arange(values.shape[0]).reshape(-1, *([1] * (values.ndim - 1)))
    idx = np.maximum.accumulate(np.where(keep, t, -1), axis=0)
    taken = np.take_along_axis(values, np.maximum(idx, 0), axis=0)
    return np.where(idx >= 0, taken, before[None])


def _ratio_ci(y: np.ndarray, m: np.ndarray, population: int) -> Optional[float]:
    """95% half-width of the ratio estimate sum(y) / sum(m) from f of ``population`` units."""
    f = len(y)
    if f == population:
        return 0.0
    if f < 2:
        return None
    ratio = y.sum() / m.sum()
    s2 = float(np.sum((y - ratio * m) ** 2)) / (f - 1)
    var = (1 - f / population) * s2 / (f * float(m.mean()) ** 2)
    return 1.96 * math.sqrt(var)


def simulate_dataflow(
    layer,
    x,
    w,
    array,
    dataflow: str = "ws",
    *,
    acc_bits: int = 32,
    gating: bool = False,
    encoding: str = "twos",
    max_folds: Optional[int] = 64,
    seed: int = 0,
    energy_per_flip: Optional[float] = None,
    calibration: Optional[Calibration] = None,
    threads: int = 1,
    backend: str = "c",
    simd: str = "auto",
    options: Optional[Dict[str, object]] = None,
) -> DataflowFlips:
    """Simulate every PE of an array running a Conv2d, Linear or MatMul layer on real tensors.

    Parameters
    ----------
    layer : bitsim.models.layers.Conv2d, Linear or MatMul
        Shapes and number formats (a_format, w_format: integer formats of x and w).
    x, w : array_like of int
        Input (C, H, W), (IN,) or (N, K) and weights (Cout, Cin / groups, KH, KW), (OUT, IN)
        or (K, M), in the
        layer's formats (bitsim.dataflow.operands.sample_tensors draws them from samplers).
    array : Array or str
        The systolic array, e.g. '32x32' (rows x columns).
    dataflow : {'ws', 'os', 'is'}
        Weight, output or input stationary (bitsim.dataflow.mapping).
    acc_bits : int
        Width of the accumulator and of the partial-sum links, 2..64.
    gating, encoding :
        Methods that cut flips (module docstring): zero-gating; 'twos' or 'sign-magnitude'.
    max_folds : int or None
        Folds simulated at most; a layer with more is sampled (None: never).
    seed : int
        Seed of the fold sample.
    energy_per_flip : float, optional
        Joules per bit flip of every site, for ``energy_j``.
    calibration : bitsim.models.energy.Calibration, optional
        A Liberty fit of joules per flip of each register-level site for the layer's operand
        widths and signedness (``calibration_for``); priced in preference to energy_per_flip.
    threads, backend, simd :
        As for ``bitsim.simulate_mac``; folds run in parallel; results do not depend on
        ``threads``.
    options : dict, optional
        Extra entries of ``to_dict`` (what was done to the tensors, e.g. a reordering).
    """
    if isinstance(array, str):
        array = Array.parse(array)
    mapping: Mapping = map_layer(layer, array, dataflow)
    check_bool(gating, "gating")
    check_choice(encoding, "encoding", ENCODINGS)
    seed = check_seed(seed)
    threads = check_int(threads, "threads", 1, 1024)
    if max_folds is not None:
        check_int(max_folds, "max_folds", 1)
    if calibration is not None:
        check_calibration(
            calibration,
            layer.a_format.bits,
            layer.w_format.bits,
            bool(layer.a_format.signed or layer.w_format.signed),
        )
    if energy_per_flip is not None and not (float(energy_per_flip) >= 0):
        raise InputError(f"energy_per_flip: expected joules >= 0, found {energy_per_flip!r}")
    gemms: List[Gemm] = layer_gemms(layer, x, w)
    a, wf = layer.a_format, layer.w_format
    cfg = MacConfig(a.bits, wf.bits, acc_bits, a.signed, wf.signed, None)
    terms = array.rows if mapping.dataflow in PSUM_DATAFLOWS else mapping.k
    if cfg.product_bits + terms.bit_length() > 62:
        raise InputError(
            f"layer: sums of {terms} products of {cfg.x_bits}x{cfg.w_bits}-bit operands may "
            "exceed 62 bits; use narrower operands, fewer rows or a shorter dot product"
        )
    run = _Run(gemms, mapping, cfg, select(backend, simd), gating, encoding)
    population = mapping.groups * mapping.folds
    if max_folds is None or population <= max_folds:
        chosen = list(range(population))
    else:
        chosen = sorted(
            int(i) for i in np.random.default_rng(seed).choice(population, max_folds, False)
        )
    with Workers(threads) as workers:  # Ctrl-C stops every fold (bitsim._core.interrupt)
        parts = workers.map(run.fold, chosen)
    flips = {s: 0 for s in run.sites}
    pe_flips = np.zeros((array.rows, array.cols), dtype=np.uint64)
    pe_macs = np.zeros((array.rows, array.cols), dtype=np.int64)
    per_fold = np.zeros((len(chosen), len(run.sites)), dtype=float)
    macs = np.zeros(len(chosen), dtype=float)
    for i, (counts, n) in enumerate(parts):
        ru, cu = next(iter(counts.values())).shape
        for j, s in enumerate(run.sites):
            flips[s] += int(counts[s].sum())
            per_fold[i, j] = float(counts[s].sum())
            pe_flips[:ru, :cu] += counts[s]
        pe_macs[:ru, :cu] += n // (ru * cu)
        macs[i] = n
    ci = {s: _ratio_ci(per_fold[:, j], macs, population) for j, s in enumerate(run.sites)}
    ci["total"] = _ratio_ci(per_fold.sum(axis=1), macs, population)
    opts = {"gating": gating, "encoding": encoding, **(options or {})}
    return DataflowFlips(
        layer.name,
        mapping,
        run.sites,
        flips,
        int(macs.sum()),
        len(chosen),
        ci,
        pe_flips,
        pe_macs,
        opts,
        None if energy_per_flip is None else float(energy_per_flip),
        calibration,
    )
