"""bitsim: what a quantized neural network costs in silicon, bit by bit.

Every documented entry point is an attribute of this package, imported on first use so that
``import bitsim`` stays light (torch, matplotlib and the compiled kernels load only when needed).
The layers, bottom to top: ``_core`` (checks, widths, segments, rendering) -> ``_ext`` (compiled
kernels) -> ``circuits`` -> ``backends`` -> ``sim`` -> ``models`` ->
``dataflow`` -> ``nets`` -> ``app`` -> ``cli``.
"""

from __future__ import annotations

import importlib
from typing import Any, Dict, List

from bitsim._version import __version__ as __version__

_EXPORTS: Dict[str, List[str]] = {
    "bitsim._core.checks": ["InputError", "InputTypeError", "MissingExtra"],
    "bitsim._core.render": ["render"],
    "bitsim.backends.dispatch": ["BACKENDS", "SIMD_CHOICES", "simd_levels"],
    "bitsim.circuits.multipliers": [
        "ARCHS",
        "MultiplierCircuit",
        "mac_circuit",
        "multiplier_circuit",
    ],
    "bitsim.circuits.netlist": ["Netlist", "NetlistBuilder"],
    "bitsim.circuits.yosys": ["load_yosys_json"],
    "bitsim.circuits.liberty": ["Library", "read_liberty"],
    "bitsim.circuits.mapped": ["MappedNetlist", "load_mapped_json", "map_circuit"],
    "bitsim.sim.distributions": ["HalfNormal", "Laplace", "Normal", "Uniform"],
    "bitsim.sim.formats": ["FloatFormat", "IntFormat", "parse_format"],
    "bitsim.sim.mac": ["SITES", "MacConfig", "MacFlips", "simulate_mac"],
    "bitsim.sim.gates": ["GateToggles", "simulate_gates"],
    "bitsim.sim.energy": ["Energy", "simulate_energy"],
    "bitsim.sim.sequential": ["simulate_netlist"],
    "bitsim.sim.timing": ["TimingToggles", "simulate_netlist_timing", "simulate_timing"],
    "bitsim.sim.liberty_delay": ["LibertyDelays", "liberty_delays"],
    "bitsim.models.layers": ["Conv2d", "Elementwise", "Linear", "MatMul"],
    "bitsim.models.costs": ["layer_cost", "network_cost", "total_cost"],
    "bitsim.models.roofline": ["Accelerator", "roofline"],
    "bitsim.models.power": ["closed_form_flips", "mac_flips", "pann_power"],
    "bitsim.dataflow.mapping": ["Array", "map_layer"],
    "bitsim.dataflow.simulate": ["DataflowFlips", "simulate_dataflow"],
    "bitsim.dataflow.methods": ["channel_order", "compare"],
    "bitsim.nets.zoo": ["NETWORKS", "Network", "network"],
    "bitsim.nets.pytorch": ["from_torch"],
    "bitsim.nets.onnx": ["from_onnx"],
    "bitsim.nets.capture": ["capture", "capture_onnx", "pe_streams"],
    "bitsim.nets.report": ["Precision", "Report", "report"],
    "bitsim.app.sweep": ["load_grid", "run_sweep"],
    "bitsim.app.plots": [
        "dataflow_heatmap",
        "flips_plot",
        "overflow_plot",
        "roofline_plot",
        "savings_plot",
        "sweep_plot",
    ],
}
_MODULES = {"accwidth": "bitsim.sim.accwidth"}  # modules whose functions are the API
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = sorted([*_WHERE, *_MODULES, "__version__"])


def __getattr__(name: str) -> Any:
    if name in _MODULES:
        return importlib.import_module(_MODULES[name])
    if name in _WHERE:
        value = getattr(importlib.import_module(_WHERE[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'bitsim' has no attribute {name!r}")


def __dir__() -> List[str]:
    return sorted({*globals(), *__all__})
