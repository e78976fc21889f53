"""Netlists: structural errors (loops, multiple drivers, undriven nets) and checked inputs."""

import pytest

from bitsim.circuits.multipliers import multiplier_circuit
from bitsim.circuits.netlist import Gate, Netlist
from bitsim.sim.gates import simulate_gates


def test_netlist_errors():
    nl = Netlist(nets=6, inputs={"x": [2], "w": [3]})
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
