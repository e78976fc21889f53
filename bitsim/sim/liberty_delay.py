"""Gate delays of a library-mapped netlist from its Liberty timing arcs (NLDM), in time steps.

``liberty_delays(mapped, time_step)`` gives every cell output a rise and a fall delay, as a
static timing analyser without parasitics computes it (OpenSTA's ``report_dcalc``):

* load: the pin capacitances on the net plus the library's wire load at its fanout (if the
  library names a ``default_wire_load``; OSU 180 nm names none), as the energy model's, but
  by direction as OpenSTA's delay calculation: the sum of the ``rise_capacitance``s for a
  rising output, of the ``fall_capacitance``s for a falling one
  (``bitsim.sim.energy.pin_loads``);
* input slew: the related pin's rise and fall slews of the energy model
  (``bitsim.sim.energy.slews``, from the larger of the two loads; the design's input ports
  are ideal sources, slew 0). OpenSTA propagates slews with the per-direction loads: on an
  OSU 180 nm 8x8 multiplier its ``report_dcalc`` arc delays and bitsim's differ by at most
  about 1 % (tests/sim/test_liberty_delay.py);
* an arc's delay to a rising output is its ``cell_rise`` table at (load, slew of the input
  transition that causes it: the rising input for a positive-unate arc, the falling one for a
  negative-unate arc, the larger of both for a non-unate arc); to a falling output,
  ``cell_fall`` likewise;
* the output's rise (fall) delay is the largest over its timing arcs (its related pins): one
  delay per output and direction, whatever input caused the change (the simulator's delays are
  per gate, not per arc: the worst arc, as a static timing analyser's path delay takes it).

Quantization: ``steps = max(1, floor(delay / time_step + 1/2))`` (the nearest step, halves
up; a cell output takes at least one step). The simulator's primitive gates inside a cell
(``bitsim.circuits.mapped``) get delay 0, the gate driving the cell's output pin the cell's
delay. Flip-flops: in a timing simulation the registers' outputs change at t = 0 with the
inputs (``bitsim.sim.timing``), their clock-to-Q delay is not modelled; an output computed
from the state (an inverted QN) gets the minimum, one step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Tuple

import numpy as np

from bitsim._core.checks import InputError, InputTypeError
from bitsim.circuits.liberty import TimingArc
from bitsim.circuits.mapped import MappedNetlist
from bitsim.sim.energy import loads, pin_loads, slews

__all__ = ["DEFAULT_TIME_STEP_PS", "LibertyDelays", "liberty_delays"]

DEFAULT_TIME_STEP_PS = 10.0
MAX_STEPS = 1000  # of one gate (the timing simulator's MAX_DELAY)


@dataclass
class LibertyDelays:
    """Liberty delays of a mapped netlist.

    Attributes
    ----------
    rise, fall : ndarray of int64
        Delay in time steps of each gate of ``mapped.netlist.gates`` (same order) to a rising
        and a falling output; 0 inside a cell and in flip-flop cells.
    time_step : float
        Seconds per step.
    outputs : dict
        (instance name, output pin) -> (rise, fall) delay in seconds before quantization.
    """

    rise: np.ndarray
    fall: np.ndarray
    time_step: float
    outputs: Dict[Tuple[str, str], Tuple[float, float]]

    def to_dict(self) -> dict:
        """Time step (ps) and the delays' range over the cell outputs (ps and steps)."""
        secs = np.array(list(self.outputs.values())) if self.outputs else np.zeros((0, 2))
        steps = np.concatenate([self.rise, self.fall])
        steps = steps[steps > 0]
        return {
            "time_step_ps": self.time_step * 1e12,
            "cell_delay_ps": {
                "min": float(secs.min() * 1e12) if secs.size else 0.0,
                "mean": float(secs.mean() * 1e12) if secs.size else 0.0,
                "max": float(secs.max() * 1e12) if secs.size else 0.0,
            },
            "cell_delay_steps": {
                "min": int(steps.min(initial=0)),
                "max": int(steps.max(initial=0)),
            },
        }


def arc_delays(
    arc: TimingArc, load: Tuple[float, float], slew: Tuple[float, float]
) -> Tuple[float, float]:
    """(rise, fall) delay (s) of one timing arc at the output's (rise, fall) load (F) and the
    related pin's (rise, fall) slew (s); 0 for a missing table."""
    sr, sf = slew

    def at(table, c: float, same: float, opposite: float) -> float:
        if table is None:
            return 0.0
        options = {"positive_unate": (same,), "negative_unate": (opposite,)}
        return max(table(c, s) for s in options.get(arc.sense, (same, opposite)))

    return at(arc.cell_rise, load[0], sr, sf), at(arc.cell_fall, load[1], sf, sr)


def output_delays(mapped: MappedNetlist) -> Dict[Tuple[str, str], Tuple[float, float]]:
    """(instance name, output pin) -> (rise, fall) delay (s) of every cell output: the
    largest over its timing arcs (module docstring); 0 for a flip-flop's outputs."""
    rise_load, fall_load = pin_loads(mapped)
    slew = slews(mapped, loads(mapped))
    out: Dict[Tuple[str, str], Tuple[float, float]] = {}
    for inst in mapped.instances:
        for p in inst.cell.outputs:
            if inst.cell.ff:  # outputs of registers change at t = 0 (the minimum step)
                out[(inst.name, p.name)] = (0.0, 0.0)
                continue
            net = inst.pins[p.name]
            c = (rise_load.get(net, 0.0), fall_load.get(net, 0.0))
            rise = fall = 0.0
            for arc in p.timing:
                r = inst.pins.get(arc.related)
                sr = slew.get(r, (0.0, 0.0)) if r is not None else (0.0, 0.0)
                dr, df = arc_delays(arc, c, sr)
                rise, fall = max(rise, dr), max(fall, df)
            out[(inst.name, p.name)] = (rise, fall)
    return out


def liberty_delays(mapped: MappedNetlist, time_step: float = DEFAULT_TIME_STEP_PS * 1e-12):
    """Per-gate rise and fall delays (time steps) of a mapped netlist (see the module
    docstring); time_step in seconds."""
    if not isinstance(mapped, MappedNetlist):
        raise InputTypeError(
            f"delay: 'liberty' needs a netlist mapped to a library (bitsim.circuits.mapped), "
            f"found {type(mapped).__name__}"
        )
    if isinstance(time_step, bool) or not isinstance(time_step, (int, float)) or time_step <= 0:
        raise InputError(f"time_step: expected a time step in seconds > 0, found {time_step!r}")
    delays = output_delays(mapped)
    by_net: Dict[int, Tuple[float, float]] = {}
    for inst in mapped.instances:
        for p in inst.cell.outputs:
            if (inst.name, p.name) in delays:
                by_net[inst.pins[p.name]] = delays[(inst.name, p.name)]
    gates = mapped.netlist.gates
    rise = np.zeros(len(gates), dtype=np.int64)
    fall = np.zeros(len(gates), dtype=np.int64)
    for i, g in enumerate(gates):
        if g.part == "internal" or g.out not in by_net:
            continue  # inside a cell, a flip-flop, or a net the simulator drives
        dr, df = by_net[g.out]
        rise[i], fall[i] = _steps(dr, time_step), _steps(df, time_step)
    worst = max(int(rise.max(initial=0)), int(fall.max(initial=0)))
    if worst > MAX_STEPS:
        raise InputError(
            f"time_step: expected a step giving cell delays of at most {MAX_STEPS} steps, found "
            f"{time_step * 1e12:g} ps ({worst} steps); use a larger step"
        )
    return LibertyDelays(rise, fall, float(time_step), delays)


def _steps(delay: float, step: float) -> int:
    return max(1, int(np.floor(delay / step + 0.5)))
