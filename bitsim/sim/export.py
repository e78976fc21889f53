"""Switching activity for other tools: SAIF and OpenSTA Tcl.

``saif(energy)``: IEEE 1801 backward SAIF (version 2.0): one NET entry per physical net of the
mapped netlist (cell output pins and the design's input ports), with T0 and T1 (time at 0 and
at 1, in the TIMESCALE unit of 1 ps, one clock period per vector; split by the duty measured on
the duty window) and TC (toggles, exact), TX = IG = 0; the clock port toggles twice a period.

``sta_tcl(energy)``: an OpenSTA script: a clock named ``clk`` of the run's period on the
design's clock port (only if the design has one), then one ``set_power_activity`` per input
port bit (``-input_ports``) and per driven cell pin (``-pins``), -activity in toggles per clock
cycle, -duty the fraction of time at 1. Net and instance names are those of
``bitsim.circuits.mapped.verilog`` (write that netlist for the tool with ``--verilog``).
OpenSTA 2.0.17 (Debian) cannot use the -pins lines: its ``set_power_activity -pins`` calls an
undefined procedure, and it recomputes the activity of every driven pin from its inputs
(Power.cc, PropActivityVisitor); later OpenSTA versions keep user activities.
"""

from __future__ import annotations

from bitsim._version import __version__
from bitsim.circuits.mapped import instance_names, net_names
from bitsim.sim.energy import Energy

__all__ = ["saif", "sta_tcl"]


def _physical(energy: Energy):
    """(net, name) of the nets the activity files describe: input port bits, cell outputs."""
    mapped = energy.mapped
    names = net_names(mapped)
    nets = [n for bus in mapped.netlist.inputs.values() for n in bus if n >= 2]
    nets += [
        n
        for inst in mapped.instances
        for pin, n in inst.pins.items()
        if inst.cell.pins[pin].direction == "output" and n >= 2
    ]
    return [(n, names[n]) for n in dict.fromkeys(nets)]


def saif(energy: Energy, design: str = "") -> str:
    """The run's activity as backward SAIF text."""
    act = energy.activity
    period = round(1e12 / energy.clock_hz)  # ps
    duration = act.vectors * period
    lines = [
        "(SAIFILE",
        '(SAIFVERSION "2.0")',
        '(DIRECTION "backward")',
        f'(DESIGN "{design or energy.mapped.module}")',
        '(VENDOR "bitsim")',
        '(PROGRAM_NAME "bitsim")',
        f'(VERSION "{__version__}")',
        "(DIVIDER / )",
        "(TIMESCALE 1 ps)",
        f"(DURATION {duration})",
        f"(INSTANCE {energy.mapped.module}",
        "  (NET",
    ]
    mapped = energy.mapped
    clock_nets = set(mapped.netlist.inputs.get(mapped.clock or "", []))
    for n, name in _physical(energy):
        if n in clock_nets:  # held at 0 by the simulator; a clock: high half of every period
            t1, tc = duration // 2, 2 * act.vectors
        else:
            t1, tc = round(float(act.duty[n]) * act.vectors) * period, int(act.toggles[n])
        esc = name.replace("[", "\\[").replace("]", "\\]")
        lines.append(f"    ({esc} (T0 {duration - t1}) (T1 {t1}) (TX 0) (TC {tc}) (IG 0))")
    lines += ["  )", ")", ")"]
    return "\n".join(lines) + "\n"


def sta_tcl(energy: Energy) -> str:
    """The run's activity as OpenSTA ``set_power_activity`` commands."""
    mapped, act = energy.mapped, energy.activity
    n = max(act.vectors, 1)
    period = 1.0 / energy.clock_hz / mapped.library.time_unit  # library time units
    lines = [
        f"# bitsim {__version__}: switching activity of {mapped.module}, {act.vectors} vectors "
        f"at {energy.clock_hz:g} Hz (-activity: toggles per clock cycle)",
    ]
    if mapped.clock:
        lines.append(f"create_clock -name clk -period {period:.6g} [get_ports {{{mapped.clock}}}]")
    clock_nets = set(mapped.netlist.inputs.get(mapped.clock or "", []))
    names = net_names(mapped)
    for bus in mapped.netlist.inputs.values():
        for net in bus:
            if net >= 2 and net not in clock_nets:
                lines.append(
                    f"set_power_activity -input_ports [get_ports {{{names[net]}}}] "
                    f"-activity {act.toggles[net] / n:.9g} -duty {act.duty[net]:.6g}"
                )
    for inst, iname in zip(mapped.instances, instance_names(mapped)):
        for pin, net in inst.pins.items():
            if inst.cell.pins[pin].direction == "output":
                lines.append(
                    f"set_power_activity -pins [get_pins {{{iname}/{pin}}}] "
                    f"-activity {act.toggles[net] / n:.9g} -duty {act.duty[net]:.6g}"
                )
    return "\n".join(lines) + "\n"
