"""Switching activity for other tools: SAIF and OpenSTA Tcl.

``saif(energy)``: IEEE 1801 backward SAIF (version 2.0): one NET entry per physical net of the
mapped netlist (cell output pins and the design's input ports), with T0 and T1 (time at 0 and
at 1, in the TIMESCALE unit of 1 ps, one clock period per vector, split by the run's duty) and
TC (toggles), TX = IG = 0; the clock port toggles twice a period. Then, inside the design's
INSTANCE, one INSTANCE per cell with a NET entry per output pin, named by the pin: OpenSTA's
``read_saif`` (since 2024, upstream power/SaifReader.cc; not in 2.0.17) looks a NET name up as
a pin of the enclosing instance, so it annotates the ports from the top-level entries and the
cells' outputs from these (``read_saif -scope <module>``: OpenSTA 3.1.0 then reports the same
power as from the Tcl export, bench/opensta_upstream.py); readers that go by net names use the
top-level entries.

``sta_tcl(energy)``: an OpenSTA script: a clock named ``clk`` of the run's period on the
design's clock port (only if the design has one), then one ``set_power_activity`` per input
port bit (``-input_ports``) and per driven cell pin (``-pins``), -activity in toggles per clock
cycle (OpenSTA divides it by the clock period: a design without a clock port needs a virtual
clock of the run's period, ``create_clock -name clk -period P``, defined before sourcing),
-duty the fraction of time at 1. Net and instance names are those of
``bitsim.circuits.mapped.verilog`` (write that netlist for the tool with ``--verilog``).
OpenSTA 2.0.x (Debian's 2.0.17, tcl/Power.tcl at commit c018cb2) cannot run the ``-pins``
form: it calls ``get_pins_error``, a procedure it does not define, then loops over an unset
variable and would keep input pins only (fixed upstream by commits ae3da179, 2020, and
bfdab3a6, 2022). The script therefore starts by defining ``sta::get_pins_error``, only when
the running OpenSTA's ``set_power_activity`` calls it and lacks it, as a procedure that sets
the pins' activities itself (through ``sta::set_power_pin_activity``, the command the
procedure means to call) and hands back an empty list; other versions are untouched.
OpenSTA 2.0.x then holds bitsim's activity on every pin (``get_property PIN activity`` after a
timing update shows it, origin ``user``), but ``report_power`` recomputes every driven pin's
activity from the input ports (search/Power.cc, PropActivityVisitor::visit overwrites them;
origin ``propagated``); OpenSTA 2.1 and later keep user activities.
"""

from __future__ import annotations

from bitsim._version import __version__
from bitsim.circuits.mapped import instance_names, net_names
from bitsim.sim.energy import Energy

__all__ = ["saif", "sta_tcl"]

# OpenSTA 2.0.x's set_power_activity -pins calls get_pins_error, which it lacks (module doc)
_OPENSTA_20_PINS = [
    "# OpenSTA 2.0.x: the -pins form of set_power_activity calls the undefined get_pins_error",
    "if {[llength [info procs ::sta::set_power_activity]] == 1",
    "    && [llength [info commands ::sta::get_pins_error]] == 0",
    "    && [string match {*get_pins_error*} [info body ::sta::set_power_activity]]} {",
    "  proc ::sta::get_pins_error {arg_name arglist} {",
    "    upvar 1 activity activity duty duty pins pins",
    "    foreach pin [get_port_pins_error $arg_name $arglist] {",
    "      set_power_pin_activity $pin $activity $duty",
    "    }",
    "    set pins {}",
    "    return {}",
    "  }",
    "}",
]


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

    def entry(n: int, name: str) -> str:
        if n in clock_nets:  # held at 0 by the simulator; a clock: high half of every period
            t1, tc = duration // 2, 2 * act.vectors
        else:
            t1, tc = round(float(act.duty[n]) * act.vectors) * period, int(act.toggles[n])
        return f"({_escaped(name)} (T0 {duration - t1}) (T1 {t1}) (TX 0) (TC {tc}) (IG 0))"

    lines += [f"    {entry(n, name)}" for n, name in _physical(energy)]
    lines.append("  )")
    for inst, iname in zip(mapped.instances, instance_names(mapped)):
        outs = [(p, n) for p, n in inst.pins.items() if inst.cell.pins[p].direction == "output"]
        lines.append(f"  (INSTANCE {_escaped(iname)}")
        lines += ["    (NET", *[f"      {entry(n, p)}" for p, n in outs], "    )", "  )"]
    lines += [")", ")"]
    return "\n".join(lines) + "\n"


def _escaped(name: str) -> str:
    """A SAIF identifier: brackets and the hierarchy divider escaped."""
    return "".join("\\" + c if c in "[]/" else c for c in name)


def sta_tcl(energy: Energy) -> str:
    """The run's activity as OpenSTA ``set_power_activity`` commands."""
    mapped, act = energy.mapped, energy.activity
    n = max(act.vectors, 1)
    period = 1.0 / energy.clock_hz / mapped.library.time_unit  # library time units
    lines = [
        f"# bitsim {__version__}: switching activity of {mapped.module}, {act.vectors} vectors "
        f"at {energy.clock_hz:g} Hz (-activity: toggles per clock cycle)",
        *_OPENSTA_20_PINS,
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
